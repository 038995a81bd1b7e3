// bun test/sim/cli.ts --seeds N --nodes 5 [--start S] [--steps M] [--trace] [--unsafe NAME]
//
// Runs seeds start..start+N-1 and prints a summary line; on the first violation it
// prints the seed, the rule and the trace, and exits 1. `--trace` prints every event
// of every seed (use it with --seeds 1 to study one run). `--unsafe NAME` turns on one
// of the core's deliberate test-only bugs (repeatable).

import type { UnsafeTestingFaults } from "./cluster.ts";
import { runSimulation, type SimulationResult } from "./simulation.ts";
import { SimulationViolation } from "./violation.ts";

interface CliOptions {
  seeds: number;
  start: number;
  nodes: number;
  steps: number;
  trace: boolean;
  unsafe: UnsafeTestingFaults;
}

const USAGE = "usage: bun test/sim/cli.ts --seeds N [--nodes 5] [--start S] [--steps M] [--trace] [--unsafe NAME]";
const UNSAFE_NAMES = ["commitPreviousTermByCount", "voteBeforePersist", "campaignWithUnappliedConf", "transferExtendsLeaderLease", "probeIgnoresEqualAck", "trustImpossibleMessages"] as const;

function parseArgs(argv: readonly string[]): CliOptions {
  const o: CliOptions = { seeds: 100, start: 1, nodes: 5, steps: 300, trace: false, unsafe: {} };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) fail(`${flag} needs a value`);
      return v;
    };
    const int = (): number => {
      const v = value();
      const n = Number(v);
      if (!Number.isSafeInteger(n) || n < 0) fail(`${flag}: not a non-negative integer: ${v}`);
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
      case "--trace":
        o.trace = true;
        break;
      case "--unsafe": {
        const name = value();
        if (!(UNSAFE_NAMES as readonly string[]).includes(name)) fail(`--unsafe: one of ${UNSAFE_NAMES.join(", ")}`);
        o.unsafe = { ...o.unsafe, [name]: true };
        break;
      }
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

function fail(message: string): never {
  console.error(`${message}\n${USAGE}`);
  process.exit(2);
}

function main(): void {
  const o = parseArgs(process.argv.slice(2));
  const unsafeOn = Object.keys(o.unsafe).length > 0;
  const began = performance.now();
  const totals = { events: 0, acknowledged: 0, readsServed: 0, crashes: 0, snapshots: 0, leaders: 0, worstRecoveryMs: 0 };
  const progressEvery = Math.max(1, Math.min(100, Math.floor(o.seeds / 10)));

  for (let k = 0; k < o.seeds; k++) {
    const seed = o.start + k;
    let result: SimulationResult;
    try {
      result = runSimulation({
        seed,
        nodeCount: o.nodes,
        steps: o.steps,
        keepFullTrace: o.trace,
        // With --trace a failure report carries the whole run, not just its tail.
        ...(o.trace ? { traceTailLines: Number.MAX_SAFE_INTEGER } : {}),
        ...(unsafeOn ? { unsafeTestingFaults: o.unsafe } : {}),
      });
    } catch (err) {
      if (!(err instanceof SimulationViolation)) throw err;
      console.log(err.message);
      console.log(`\nFAILED: seed ${seed} violated [${err.rule}] after ${k} passing seeds`);
      process.exit(1);
    }
    if (result.trace !== null) console.log(result.trace.join("\n"));
    totals.events += result.cluster.events;
    totals.acknowledged += result.client.acknowledged;
    totals.readsServed += result.client.readsServed;
    totals.crashes += result.cluster.crashes;
    totals.snapshots += result.cluster.snapshotsInstalled;
    totals.leaders += result.termsWithLeader;
    totals.worstRecoveryMs = Math.max(totals.worstRecoveryMs, result.recoveryMs);
    if ((k + 1) % progressEvery === 0 && k + 1 < o.seeds) {
      const secs = (performance.now() - began) / 1000;
      console.log(`  ${k + 1}/${o.seeds} seeds ok (${((k + 1) / secs).toFixed(1)} seeds/s)`);
    }
  }

  const secs = (performance.now() - began) / 1000;
  console.log(
    `sim: ${o.seeds} seeds ${o.start}..${o.start + o.seeds - 1} passed, ${o.nodes} nodes, ${o.steps} steps` +
      `${unsafeOn ? `, unsafe ${Object.keys(o.unsafe).join("+")}` : ""} in ${secs.toFixed(1)}s ` +
      `(${(o.seeds / secs).toFixed(1)} seeds/s); events ${totals.events}, acked writes ${totals.acknowledged}, ` +
      `reads ${totals.readsServed}, crashes ${totals.crashes}, snapshot installs ${totals.snapshots}, ` +
      `leader terms ${totals.leaders}, worst recovery ${totals.worstRecoveryMs}ms`,
  );
}

main();
