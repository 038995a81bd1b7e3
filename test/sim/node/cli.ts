// bun test/sim/node/cli.ts --seeds N [--start S] [--nodes 5] [--steps M] [--jobs J] [--trace] [--unsafe NAME]
//
// The whole-node simulator (npm run sim): runs seeds start..start+N-1 and prints a
// summary line with seeds/s; on the first violation it prints the seed, the rule, the
// trace and the command that replays it, and exits 1. `--jobs J` splits the seeds over
// J processes (one per core). `--unsafe NAME` turns on a deliberate bug (repeatable).

import type { DriverTestingFaults } from "../../../src/node/raft-node.ts";
import { SimulationViolation } from "../violation.ts";
import { type CoreTestingFaults, type NodeSimulationResult, runNodeSimulation } from "./simulation.ts";

/** The deliberate bugs, by where they live. */
export const CORE_FAULTS = ["commitPreviousTermByCount", "voteBeforePersist", "campaignWithUnappliedConf", "transferExtendsLeaderLease", "probeIgnoresEqualAck", "trustImpossibleMessages"] as const;
export const DRIVER_FAULTS = ["snapshotTermFromLastSnapshot", "stageBeforeCoreChecks", "dropOldSnapshotBeforeCompact", "keepCopyAcrossInstall", "snapshotWhileApplyHeld"] as const;

const USAGE = "usage: bun test/sim/node/cli.ts --seeds N [--start S] [--nodes 5] [--steps 150] [--jobs 1] [--trace] [--unsafe NAME]";

interface CliOptions {
  seeds: number;
  start: number;
  nodes: number;
  steps: number;
  jobs: number;
  trace: boolean;
  core: Record<string, boolean>;
  driver: Record<string, boolean>;
}

function fail(message: string): never {
  console.error(`${message}\n${USAGE}`);
  process.exit(2);
}

function parseArgs(argv: readonly string[]): CliOptions {
  const o: CliOptions = { seeds: 100, start: 1, nodes: 5, steps: 150, jobs: 1, trace: false, core: {}, driver: {} };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const int = (): number => {
      const v = argv[++i];
      const n = Number(v);
      if (v === undefined || !Number.isSafeInteger(n) || n < 0) fail(`${flag}: not a non-negative integer: ${v}`);
      return n;
    };
    switch (flag) {
      case "--seeds":
        o.seeds = int();
        break;
      case "--start":
        o.start = int();
        break;
      case "--nodes":
        o.nodes = int();
        if (o.nodes < 3) fail("--nodes must be at least 3");
        break;
      case "--steps":
        o.steps = int();
        break;
      case "--jobs":
        o.jobs = Math.max(1, int());
        break;
      case "--trace":
        o.trace = true;
        break;
      case "--unsafe": {
        const name = argv[++i] ?? "";
        if ((CORE_FAULTS as readonly string[]).includes(name)) o.core[name] = true;
        else if ((DRIVER_FAULTS as readonly string[]).includes(name)) o.driver[name] = true;
        else fail(`--unsafe: one of ${[...CORE_FAULTS, ...DRIVER_FAULTS].join(", ")}`);
        break;
      }
      case "--json-totals":
        break;
      case "--help":
      case "-h":
        console.log(USAGE);
        process.exit(0);
        break;
      default:
        fail(`unknown argument ${flag}`);
    }
  }
  return o;
}

interface Totals {
  seeds: number;
  events: number;
  acknowledged: number;
  crashes: number;
  powerLosses: number;
  snapshotsInstalled: number;
  stallChecks: number;
  worstRecoveryMs: number;
  /** Per watched leader stall: ms until another node led, as election timeouts. */
  stallRecoveries: number[];
}

function add(t: Totals, r: NodeSimulationResult): void {
  t.seeds++;
  t.events += r.events;
  t.acknowledged += r.acknowledged;
  t.crashes += r.world.crashes;
  t.powerLosses += r.world.powerLosses;
  t.snapshotsInstalled += r.world.snapshotsInstalled;
  t.stallChecks += r.stallChecks;
  for (const ms of r.stallRecoveryTimeouts) t.stallRecoveries.push(ms);
  t.worstRecoveryMs = Math.max(t.worstRecoveryMs, r.recoveryMs);
}

async function runSlice(o: CliOptions): Promise<Totals> {
  const totals: Totals = { seeds: 0, events: 0, acknowledged: 0, crashes: 0, powerLosses: 0, snapshotsInstalled: 0, stallChecks: 0, worstRecoveryMs: 0, stallRecoveries: [] };
  const began = performance.now();
  const progressEvery = Math.max(1, Math.min(1000, Math.floor(o.seeds / 10)));
  for (let k = 0; k < o.seeds; k++) {
    const seed = o.start + k;
    try {
      const result = await runNodeSimulation({
        seed,
        nodeCount: o.nodes,
        steps: o.steps,
        keepFullTrace: o.trace,
        ...(o.trace ? { traceTailLines: Number.MAX_SAFE_INTEGER } : {}),
        coreFaults: o.core as CoreTestingFaults,
        driverFaults: o.driver as DriverTestingFaults,
      });
      if (result.trace !== null) console.log(result.trace.join("\n"));
      add(totals, result);
    } catch (err) {
      if (!(err instanceof SimulationViolation)) throw err;
      console.log(err.message);
      console.log(`\nFAILED: seed ${seed} violated [${err.rule}] after ${k} passing seeds`);
      process.exit(1);
    }
    if ((k + 1) % progressEvery === 0 && k + 1 < o.seeds) {
      console.error(`  ${o.start}..: ${k + 1}/${o.seeds} seeds ok (${((k + 1) / ((performance.now() - began) / 1000)).toFixed(1)} seeds/s)`);
    }
  }
  return totals;
}

function describeSpread(values: readonly number[]): string {
  if (values.length === 0) return "-";
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return `median ${at(0.5)}, p99 ${at(0.99)}, max ${sorted[sorted.length - 1]}`;
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const began = performance.now();
  let totals: Totals;
  if (o.jobs > 1 && o.seeds > 1 && !o.trace) {
    // One process per slice of seeds; each prints its totals as the last JSON line.
    const per = Math.ceil(o.seeds / o.jobs);
    const children: Array<{ readonly stdout: ReadableStream<Uint8Array>; readonly exited: Promise<number>; kill(): void }> = [];
    for (let j = 0; j < o.jobs; j++) {
      const start = o.start + j * per;
      const seeds = Math.min(per, o.start + o.seeds - start);
      if (seeds <= 0) break;
      const args = process.argv.slice(2).filter((_, i, all) => !["--jobs", "--start", "--seeds"].includes(all[i]!) && !["--jobs", "--start", "--seeds"].includes(all[i - 1]!));
      children.push(Bun.spawn([process.execPath, import.meta.path, ...args, "--start", String(start), "--seeds", String(seeds), "--json-totals"], { stdout: "pipe", stderr: "inherit" }));
    }
    // The first slice to fail stops the others: its report is what matters.
    const results = await Promise.all(
      children.map(async (child) => {
        const out = await new Response(child.stdout).text();
        const code = await child.exited;
        if (code !== 0) {
          for (const other of children) if (other !== child) other.kill();
          console.log(out);
          process.exit(1);
        }
        return { out, code };
      }),
    );
    totals = { seeds: 0, events: 0, acknowledged: 0, crashes: 0, powerLosses: 0, snapshotsInstalled: 0, stallChecks: 0, worstRecoveryMs: 0, stallRecoveries: [] };
    for (const r of results) {
      const t = JSON.parse(r.out.trim().split("\n").at(-1)!) as Totals;
      totals.seeds += t.seeds;
      totals.events += t.events;
      totals.acknowledged += t.acknowledged;
      totals.crashes += t.crashes;
      totals.powerLosses += t.powerLosses;
      totals.snapshotsInstalled += t.snapshotsInstalled;
      totals.stallChecks += t.stallChecks;
      totals.worstRecoveryMs = Math.max(totals.worstRecoveryMs, t.worstRecoveryMs);
      totals.stallRecoveries.push(...t.stallRecoveries);
    }
  } else {
    totals = await runSlice(o);
    if (process.argv.includes("--json-totals")) {
      console.log(JSON.stringify(totals));
      return;
    }
  }
  const secs = (performance.now() - began) / 1000;
  const unsafe = [...Object.keys(o.core), ...Object.keys(o.driver)];
  console.log(
    `sim (whole node): ${totals.seeds} seeds ${o.start}..${o.start + o.seeds - 1} passed, ${o.nodes} nodes, ${o.steps} steps` +
      `${unsafe.length > 0 ? `, unsafe ${unsafe.join("+")}` : ""} in ${secs.toFixed(1)} s (${(totals.seeds / secs).toFixed(1)} seeds/s, ${o.jobs} jobs); ` +
      `events ${totals.events}, acked writes ${totals.acknowledged}, crashes ${totals.crashes} (power losses ${totals.powerLosses}), ` +
      `snapshot installs ${totals.snapshotsInstalled}, stalled-leader checks ${totals.stallChecks} (a new leader after ${describeSpread(totals.stallRecoveries)} election timeouts), worst recovery ${totals.worstRecoveryMs} ms`,
  );
}

if (import.meta.main) await main();
