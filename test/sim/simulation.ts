// One simulation run: a pure function of (seed, options). Bootstraps the cluster,
// plays `steps` chaos actions, heals everything and demands recovery. Any broken
// rule comes back as a SimulationViolation carrying the seed and the trace tail.

import type { NodeId } from "../../src/raft/types.ts";
import { Chaos } from "./chaos.ts";
import type { ClientStats } from "./client.ts";
import { type ClusterStats, SimCluster, type UnsafeTestingFaults } from "./cluster.ts";
import { LivenessProbe } from "./liveness.ts";
import { MembershipChurn } from "./membership-churn.ts";
import { describeScenario, drawScenario } from "./scenario.ts";
import { deriveSeed, SimRandom } from "./sim-random.ts";
import { Trace } from "./trace.ts";
import { RuleBroken, SimulationViolation } from "./violation.ts";

export interface SimulationOptions {
  readonly seed: number;
  readonly nodeCount: number;
  /** Chaos actions in the fault phase (client operations and faults alike). */
  readonly steps: number;
  readonly unsafeTestingFaults?: UnsafeTestingFaults;
  /** Keep every trace line in the result (determinism test, --trace). */
  readonly keepFullTrace?: boolean;
  readonly traceTailLines?: number;
  /** How long, after healing, the cluster has to elect a leader and commit everywhere. */
  readonly livenessBoundTicks?: number;
}

export interface SimulationResult {
  readonly seed: number;
  readonly trace: readonly string[] | null;
  readonly traceLines: number;
  readonly virtualTimeMs: number;
  /** Virtual time from healing to full recovery. */
  readonly recoveryMs: number;
  readonly termsWithLeader: number;
  readonly highestCommittedIndex: number;
  readonly cluster: ClusterStats;
  readonly client: ClientStats;
}

const DEFAULT_TRACE_TAIL_LINES = 60;
const DEFAULT_LIVENESS_BOUND_TICKS = 600;
/** Let the first election happen before the first client request. */
const FIRST_CHAOS_AT_MS = 50;

// Independent streams of the simulator's randomness (see deriveSeed).
const STREAM_CHAOS = 1;
const STREAM_SCENARIO = 2;
const STREAM_WORLD = 3;

export function rerunCommand(o: SimulationOptions): string {
  const faults = Object.entries(o.unsafeTestingFaults ?? {})
    .filter(([, on]) => on)
    .map(([name]) => ` --unsafe ${name}`)
    .join("");
  return `bun test/sim/cli.ts --start ${o.seed} --seeds 1 --nodes ${o.nodeCount} --steps ${o.steps}${faults} --trace`;
}

export function runSimulation(o: SimulationOptions): SimulationResult {
  const tailLines = o.traceTailLines ?? DEFAULT_TRACE_TAIL_LINES;
  const trace = new Trace(tailLines, o.keepFullTrace ?? false);
  try {
    return simulate(o, trace);
  } catch (err) {
    const tail = trace.tail(tailLines);
    if (err instanceof RuleBroken) throw new SimulationViolation(o.seed, err.rule, err.detail, tail, rerunCommand(o));
    const detail = err instanceof Error ? (err.stack ?? err.message) : String(err);
    throw new SimulationViolation(o.seed, "exception", detail, tail, rerunCommand(o));
  }
}

function simulate(o: SimulationOptions, trace: Trace): SimulationResult {
  const scenario = drawScenario(new SimRandom(deriveSeed(o.seed, STREAM_SCENARIO)));
  const chaosRng = new SimRandom(deriveSeed(o.seed, STREAM_CHAOS));
  const cluster = new SimCluster({
    seed: o.seed,
    scenario,
    unsafeTestingFaults: o.unsafeTestingFaults ?? null,
    trace,
    rng: new SimRandom(deriveSeed(o.seed, STREAM_WORLD)),
  });
  trace.add(0, "sim", `seed ${o.seed}: ${o.nodeCount} nodes, ${o.steps} steps, ${describeScenario(scenario)}`);

  const ids: NodeId[] = [];
  for (let id = 1; id <= o.nodeCount; id++) ids.push(id);
  for (const id of ids) cluster.addNode(id, { voters: ids, learners: [] });

  // Fault phase: a chain of chaos actions, each scheduling the next.
  const churn = new MembershipChurn(cluster, chaosRng, o.nodeCount, Math.max(o.nodeCount + 1, 5));
  const chaos = new Chaos(cluster, chaosRng, scenario, churn);
  cluster.momentFaults = chaos;
  let stepsLeft = o.steps;
  let faultPhaseOver = stepsLeft <= 0;
  const nextStep = (): void => {
    chaos.step();
    if (--stepsLeft <= 0) {
      faultPhaseOver = true;
      return;
    }
    cluster.schedule(chaosRng.between(scenario.chaosGapMs.min, scenario.chaosGapMs.max), "", nextStep);
  };
  if (!faultPhaseOver) cluster.schedule(FIRST_CHAOS_AT_MS, "", nextStep);
  cluster.runUntil(Number.POSITIVE_INFINITY, () => faultPhaseOver);

  // Recovery phase.
  trace.add(cluster.nowMs, "sim", "HEAL: faults off, partitions healed, crashed nodes restarted");
  cluster.healEverything();
  const healedAtMs = cluster.nowMs;
  const boundTicks = o.livenessBoundTicks ?? DEFAULT_LIVENESS_BOUND_TICKS;
  const probe = new LivenessProbe(cluster);
  const poll = (): void => {
    probe.poll();
    if (!probe.done) cluster.schedule(scenario.baseTickMs, "", poll);
  };
  cluster.schedule(0, "", poll);
  const recovered = cluster.runUntil(healedAtMs + boundTicks * scenario.baseTickMs, () => probe.done);
  if (!recovered) throw new RuleBroken("liveness", probe.describeFailure(boundTicks));

  return {
    seed: o.seed,
    trace: trace.all(),
    traceLines: trace.lineCount,
    virtualTimeMs: cluster.nowMs,
    recoveryMs: cluster.nowMs - healedAtMs,
    termsWithLeader: cluster.checker.termsWithLeader(),
    highestCommittedIndex: cluster.checker.highestCommittedIndex,
    cluster: cluster.stats,
    client: cluster.client.stats,
  };
}
