import { expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { findEtcd } from "./etcd-cluster.ts";
import { processAlive } from "./process-alive.ts";

// bench:vs-etcd end to end with etcd alone and tiny sizes: 5 real members, 1 client for
// 1 s, one leader kill. Asserts writes were acknowledged and every member was stopped,
// not the figures' size. Skipped where etcd is not installed.

const SCRIPT = fileURLToPath(new URL("./vs-etcd.ts", import.meta.url));

let haveEtcd = true;
try {
  findEtcd();
} catch {
  haveEtcd = false;
}

/** PIDs of etcd members started by a bench:vs-etcd (their cluster token says so). */
function benchEtcdPids(): Set<number> {
  const pids = new Set<number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").includes("concord-vs-etcd-")) pids.add(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

test.skipIf(!haveEtcd)("bench:vs-etcd --only etcd writes through the gateway, kills the leader and stops every member", async () => {
  const before = benchEtcdPids();
  const dir = await mkdtemp(join(tmpdir(), "vs-etcd-smoke-"));
  try {
    const json = join(dir, "out.json");
    const child = Bun.spawn([process.execPath, SCRIPT, "--only", "etcd", "--rounds", "1", "--seconds", "1", "--warmup", "0.2", "--clients", "1", "--placements", "leader",
      "--failover-trials", "1", "--json", json], { stdout: "pipe", stderr: "pipe" });
    const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
    if (code !== 0) throw new Error(`exit ${code}\n${stderr}`);
    const r = JSON.parse(await readFile(json, "utf8"));
    expect(r.benchmark).toBe("bench:vs-etcd");
    expect(r.levels.length).toBe(1);
    const level = r.levels[0];
    expect(level).toMatchObject({ system: "etcd", placement: "leader", clients: 1, errors: 0 });
    expect(level.messages).toBeGreaterThan(0);
    expect(level.latencyMs.p99).toBeGreaterThanOrEqual(level.latencyMs.p50);
    const names = level.processes.map((p: { name: string }) => p.name).sort();
    expect(names).toEqual(["bench (clients)", "etcd 1", "etcd 2", "etcd 3", "etcd 4", "etcd 5"]);
    expect(r.failover.etcd.trials).toBe(1);
    expect(r.failover.etcd.medianGapMs).toBeGreaterThan(0);
    expect(r.failover.concord).toBeNull();
    expect(stdout).toContain("5 etcd members alone");
    expect(stderr).toContain("kill -9 leader");
    for (const p of level.processes) if (p.name !== "bench (clients)") expect(processAlive(p.pid)).toBe(false);
    // The member restarted after the kill too: no member of this run is left.
    expect([...benchEtcdPids()].filter((pid) => !before.has(pid))).toEqual([]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}, 30_000);
