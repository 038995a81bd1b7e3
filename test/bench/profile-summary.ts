// Summarizes a .cpuprofile (Chrome DevTools format, as written by `bun --cpu-prof`):
// self time and total time per function, heaviest first.
//
//   bun --cpu-prof --cpu-prof-dir=/tmp/prof test/bench/raft.ts --seconds 3
//   bun test/bench/profile-summary.ts /tmp/prof/<file>.cpuprofile [--top 25] [--json]
//
// or both steps at once (`npm run bench:raft:profile`); arguments after `--` go to the
// benchmark, the profile is written to a temporary directory:
//
//   bun test/bench/profile-summary.ts --run [--top 25] -- --seconds 3
//
// JavaScriptCore inlines small functions into their callers in optimized code, so some
// of a caller's self time may belong to what it inlined.
//
// Self time: samples whose innermost frame is the function. Total time: samples with the
// function anywhere on the stack (counted once per sample even when recursive).

import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface FunctionCost {
  name: string;
  where: string;
  selfMs: number;
  selfPct: number;
  totalMs: number;
  totalPct: number;
}

export function summarize(profile: CpuProfile, root = process.cwd()): { totalMs: number; functions: FunctionCost[] } {
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of profile.nodes) byId.set(n.id, n);
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  const keyOf = (n: ProfileNode): string => {
    const f = n.callFrame;
    const file = f.url === "" ? "" : f.url.startsWith("file://") ? f.url.slice(7) : f.url;
    const shown = file.startsWith("/") ? relative(root, file) : file;
    return `${f.functionName || "(anonymous)"}\t${shown === "" ? "(native)" : `${shown}:${f.lineNumber + 1}`}`;
  };

  const self = new Map<string, number>();
  const total = new Map<string, number>();
  let totalUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    // timeDeltas[i] is the time before sample i; attribute the following interval to it.
    const dt = profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0;
    totalUs += dt;
    let node = byId.get(profile.samples[i]!);
    if (node === undefined) continue;
    const leaf = keyOf(node);
    self.set(leaf, (self.get(leaf) ?? 0) + dt);
    const seen = new Set<string>();
    for (;;) {
      const k = keyOf(node);
      if (!seen.has(k)) {
        seen.add(k);
        total.set(k, (total.get(k) ?? 0) + dt);
      }
      const p = parent.get(node.id);
      if (p === undefined) break;
      const next = byId.get(p);
      if (next === undefined) break;
      node = next;
    }
  }
  const functions: FunctionCost[] = [...total.keys()].map((k) => {
    const [name = "", where = ""] = k.split("\t");
    const s = self.get(k) ?? 0;
    const t = total.get(k) ?? 0;
    return {
      name,
      where,
      selfMs: Math.round(s / 100) / 10,
      selfPct: Math.round((s / Math.max(1, totalUs)) * 1000) / 10,
      totalMs: Math.round(t / 100) / 10,
      totalPct: Math.round((t / Math.max(1, totalUs)) * 1000) / 10,
    };
  });
  functions.sort((a, b) => b.selfMs - a.selfMs);
  return { totalMs: Math.round(totalUs / 1000), functions };
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  let top = 25;
  let json = false;
  let run = false;
  const files: string[] = [];
  let benchArgs: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--") {
      benchArgs = args.slice(i + 1);
      break;
    }
    if (a === "--top") top = Number(args[++i]);
    else if (a === "--json") json = true;
    else if (a === "--run") run = true;
    else files.push(a);
  }
  let file = files[0];
  let cleanup = (): void => {};
  if (run) {
    const dir = mkdtempSync(join(tmpdir(), "concord-prof-"));
    cleanup = () => rmSync(dir, { recursive: true, force: true });
    const bench = join(import.meta.dir, "raft.ts");
    const child = Bun.spawnSync([process.execPath, "--cpu-prof", `--cpu-prof-dir=${dir}`, bench, ...benchArgs], {
      stdin: "ignore",
      stdout: "inherit",
      stderr: "inherit",
    });
    if (child.exitCode !== 0) {
      cleanup();
      process.exit(child.exitCode ?? 1);
    }
    const found = readdirSync(dir).filter((f) => f.endsWith(".cpuprofile"));
    if (found.length !== 1) {
      cleanup();
      throw new Error(`expected one .cpuprofile in ${dir}, found ${found.length}`);
    }
    file = join(dir, found[0]!);
  } else if (files.length !== 1) {
    process.stderr.write(
      "usage: bun test/bench/profile-summary.ts <file.cpuprofile> [--top 25] [--json]\n" +
        "       bun test/bench/profile-summary.ts --run [--top 25] [--json] [-- <test/bench/raft.ts options>]\n",
    );
    process.exit(2);
  }
  const profile = JSON.parse(readFileSync(file!, "utf8")) as CpuProfile;
  cleanup();
  const { totalMs, functions } = summarize(profile);
  if (json) {
    process.stdout.write(`${JSON.stringify({ totalMs, functions: functions.slice(0, top) })}\n`);
  } else {
    const lines = [`${totalMs} ms sampled; top ${top} by self time`, "  self%   self ms  total%  function  (where)"];
    for (const f of functions.slice(0, top)) {
      lines.push(
        `${f.selfPct.toFixed(1).padStart(6)}  ${f.selfMs.toFixed(1).padStart(8)}  ${f.totalPct.toFixed(1).padStart(6)}  ${f.name}  (${f.where})`,
      );
    }
    process.stdout.write(`${lines.join("\n")}\n`);
  }
}
