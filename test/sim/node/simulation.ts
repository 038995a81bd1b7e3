// One whole-node simulation run: a pure function of (seed, options). It starts the
// cluster of RaftNodes, plays `steps` chaos actions, heals everything, and then demands
// recovery within a bound: a leader, a fresh write committed, every live member caught
// up to the same applied index and digest, and every acknowledged message there once.

import type { DriverTestingFaults } from "../../../src/node/raft-node.ts";
import type { RaftConfig } from "../../../src/raft/raft.ts";
import type { NodeId } from "../../../src/raft/types.ts";
import { describeScenario, drawScenario, type Scenario } from "../scenario.ts";
import { deriveSeed, SimRandom } from "../sim-random.ts";
import { Trace } from "../trace.ts";
import { RuleBroken, SimulationViolation } from "../violation.ts";
import { appliedStateOf } from "./chat-state.ts";
import { NodeChaos } from "./chaos.ts";
import { ChatWorkload, type WorkloadStats } from "./workload.ts";
import { NodeWorld, type WorldStats } from "./world.ts";

export type CoreTestingFaults = NonNullable<RaftConfig["unsafeTestingFaults"]>;

export interface NodeSimulationOptions {
  readonly seed: number;
  readonly nodeCount: number;
  readonly steps: number;
  readonly coreFaults?: CoreTestingFaults;
  readonly driverFaults?: DriverTestingFaults;
  readonly keepFullTrace?: boolean;
  readonly traceTailLines?: number;
  /** Ticks after healing within which the cluster must have recovered. */
  readonly livenessBoundTicks?: number;
}

export interface NodeSimulationResult {
  readonly seed: number;
  readonly trace: readonly string[] | null;
  readonly virtualTimeMs: number;
  readonly recoveryMs: number;
  readonly events: number;
  readonly termsWithLeader: number;
  readonly highestApplied: number;
  readonly acknowledged: number;
  readonly stallChecks: number;
  /** Per watched stall: base election timeouts until another node led. */
  readonly stallRecoveryTimeouts: readonly number[];
  readonly world: WorldStats;
  readonly workload: WorkloadStats;
}

const DEFAULT_TRACE_TAIL_LINES = 80;
const DEFAULT_LIVENESS_BOUND_TICKS = 800;
const FIRST_CHAOS_AT_MS = 50;
const STREAM_CHAOS = 1;
const STREAM_SCENARIO = 2;
const STREAM_WORLD = 3;
const STREAM_CLIENT = 4;
/** The share of seeds that start with three voters and grow. */
const GROWING_SEEDS = 0.3;

export function nodeRerunCommand(o: NodeSimulationOptions): string {
  const on = (faults: object | undefined): string[] =>
    Object.entries(faults ?? {})
      .filter(([, v]) => v === true)
      .map(([k]) => ` --unsafe ${k}`);
  return `bun test/sim/node/cli.ts --start ${o.seed} --seeds 1 --nodes ${o.nodeCount} --steps ${o.steps}${[...on(o.coreFaults), ...on(o.driverFaults)].join("")} --trace`;
}

export async function runNodeSimulation(o: NodeSimulationOptions): Promise<NodeSimulationResult> {
  const tailLines = o.traceTailLines ?? DEFAULT_TRACE_TAIL_LINES;
  const trace = new Trace(tailLines, o.keepFullTrace ?? false);
  try {
    return await simulate(o, trace);
  } catch (err) {
    const tail = trace.tail(tailLines);
    if (err instanceof RuleBroken) throw new SimulationViolation(o.seed, err.rule, err.detail, tail, nodeRerunCommand(o));
    const detail = err instanceof Error ? (err.stack ?? err.message) : String(err);
    throw new SimulationViolation(o.seed, "exception", detail, tail, nodeRerunCommand(o));
  }
}

async function simulate(o: NodeSimulationOptions, trace: Trace): Promise<NodeSimulationResult> {
  const scenario = drawScenario(new SimRandom(deriveSeed(o.seed, STREAM_SCENARIO)));
  const chaosRng = new SimRandom(deriveSeed(o.seed, STREAM_CHAOS));
  const world = new NodeWorld({
    seed: o.seed,
    scenario,
    trace,
    rng: new SimRandom(deriveSeed(o.seed, STREAM_WORLD)),
    coreFaults: o.coreFaults ?? {},
    driverFaults: o.driverFaults ?? {},
  });
  trace.add(0, "sim", `seed ${o.seed}: ${o.nodeCount} whole nodes, ${o.steps} steps, ${describeScenario(scenario)}`);
  try {
    return await simulateIn(world, o, trace, scenario, chaosRng);
  } finally {
    world.dispose();
  }
}

async function simulateIn(world: NodeWorld, o: NodeSimulationOptions, trace: Trace, scenario: Scenario, chaosRng: SimRandom): Promise<NodeSimulationResult> {
  // Some seeds start smaller and grow to the asked size by membership changes: nodes
  // then restart with configurations steps behind the cluster's.
  const growing = o.nodeCount >= 5 && chaosRng.chance(GROWING_SEEDS);
  const initial = growing ? 3 : o.nodeCount;
  const ids: NodeId[] = [];
  for (let id = 1; id <= initial; id++) ids.push(id);
  for (const id of ids) world.addMachine(id, { voters: ids, learners: [] });
  if (growing) trace.add(0, "sim", `growing: ${initial} voters, joined up to ${o.nodeCount + 1} members by churn`);

  const workload = new ChatWorkload(world, new SimRandom(deriveSeed(o.seed, STREAM_CLIENT)));
  const chaos = new NodeChaos(world, chaosRng, scenario, workload, initial, Math.max(o.nodeCount + 1, 5));
  let stepsLeft = o.steps;
  let faultPhaseOver = stepsLeft <= 0;
  const nextStep = (): void => {
    chaos.step();
    if (--stepsLeft <= 0) {
      faultPhaseOver = true;
      return;
    }
    world.scheduler.at(chaosRng.between(scenario.chaosGapMs.min, scenario.chaosGapMs.max), nextStep);
  };
  if (!faultPhaseOver) world.scheduler.at(FIRST_CHAOS_AT_MS, nextStep);
  const watchLeases = (): void => {
    world.checkLeaderLease();
    if (!faultPhaseOver) world.scheduler.at(scenario.baseTickMs, watchLeases);
  };
  world.scheduler.at(scenario.baseTickMs, watchLeases);
  const afterEvent = (): void => world.afterEvent();
  await world.scheduler.runUntil(Number.POSITIVE_INFINITY, () => faultPhaseOver, afterEvent);

  trace.add(world.nowMs, "sim", "HEAL: faults off, partitions healed, disks back, crashed nodes restarted");
  world.healEverything();
  const healedAtMs = world.nowMs;
  const boundTicks = o.livenessBoundTicks ?? DEFAULT_LIVENESS_BOUND_TICKS;
  const probe = new RecoveryProbe(world, workload);
  const poll = (): void => {
    probe.poll();
    if (!probe.done) world.scheduler.at(scenario.baseTickMs, poll);
  };
  world.scheduler.at(0, poll);
  const recovered = await world.scheduler.runUntil(healedAtMs + boundTicks * scenario.baseTickMs, () => probe.done, afterEvent);
  world.rethrowFailure();
  if (!recovered) throw new RuleBroken("liveness", `not recovered ${boundTicks} ticks after healing: ${probe.problem}`);
  workload.checkFinal(probe.members());

  return {
    seed: o.seed,
    trace: trace.all(),
    virtualTimeMs: world.nowMs,
    recoveryMs: world.nowMs - healedAtMs,
    events: world.scheduler.events,
    termsWithLeader: world.checker.termsWithLeader,
    highestApplied: world.checker.highestApplied,
    acknowledged: workload.acknowledgedCount,
    stallChecks: chaos.stallChecks,
    stallRecoveryTimeouts: chaos.stallRecoveryTimeouts,
    world: world.stats,
    workload: workload.stats,
  };
}

/**
 * Polled every tick after healing: a leader, a fresh write through it committed and
 * applied, and every running member at the leader's commit with the same digest.
 */
class RecoveryProbe {
  done = false;
  problem = "not probed yet";
  /** The final write, once committed: its index, and the leader (and term) that committed it. */
  private final: { readonly index: number; readonly by: NodeId; readonly term: number } | null = null;
  /** The final write in flight: through whom (a process that dies never answers). */
  private proposing: { readonly id: NodeId; readonly incarnation: number; readonly term: number } | null = null;

  constructor(
    private readonly world: NodeWorld,
    private readonly workload: ChatWorkload,
  ) {}

  members(): ReturnType<NodeWorld["running"]> {
    const leader = this.world.leader();
    if (leader === null) return [];
    const { voters, learners } = leader.node!.status().conf;
    return this.world.running().filter((m) => voters.includes(m.id) || learners.includes(m.id));
  }

  poll(): void {
    const leader = this.world.leader();
    if (leader === null) {
      this.problem = "no leader";
      return;
    }
    // A write committed under an earlier leader says nothing of the one now: until the
    // leader in office commits a write of its own, its commit index may still be behind
    // writes the earlier one acknowledged (it commits them with its first entry).
    const term = leader.node!.status().term;
    if (this.final !== null && (this.final.by !== leader.id || this.final.term !== term)) this.final = null;
    if (this.final === null) {
      const via = this.proposing === null ? undefined : this.world.machines.get(this.proposing.id);
      if (via !== undefined && (via.incarnation !== this.proposing!.incarnation || via.state !== "running")) this.proposing = null;
      if (this.proposing === null) {
        const proposing = { id: leader.id, incarnation: leader.incarnation, term };
        this.proposing = proposing;
        // A no-op-like write that must commit under the recovered leader (opaque bytes the chat state refuses).
        this.world.traceNode(leader.id, "recovery: propose the final write");
        leader.node!.propose(new TextEncoder().encode("final"), 5000).then(
          (p) => {
            this.world.traceNode(leader.id, `recovery: the final write committed at ${p.index}`);
            this.final = { index: p.index, by: proposing.id, term: proposing.term };
            if (this.proposing === proposing) this.proposing = null;
          },
          (error: unknown) => {
            this.world.traceNode(leader.id, `recovery: the final write failed: ${(error as Error).message}`);
            if (this.proposing === proposing) this.proposing = null;
          },
        );
      }
      const st = leader.node!.status();
      const progress = st.progress.map((p) => `n${p.id} ${p.state} match ${p.match} next ${p.next}`).join(", ");
      this.problem = `leader n${leader.id} (term ${st.term}, commit ${st.commit}, last ${st.lastIndex}): the final write has not committed; ${progress}`;
      return;
    }
    const target = Math.max(this.final.index, leader.node!.status().commit);
    const conf = leader.node!.status().conf;
    const expected = [...conf.voters, ...conf.learners];
    for (const id of expected) {
      const m = this.world.machines.get(id);
      if (m === undefined || m.state === "stopped") continue;
      if (m.state !== "running" || m.node === null) {
        this.problem = `member n${id} is ${m.state}`;
        return;
      }
      const applied = appliedStateOf(m.disk.state).index;
      if (applied < target) {
        const p = leader.node!.status().progress.find((q) => q.id === id);
        const seen = p === undefined ? "no progress" : `the leader has it ${p.state}, match ${p.match}, next ${p.next}, last contact ${p.lastContactTicks} ticks ago`;
        this.problem = `member n${id} applied ${applied} of ${target} (${seen}; leader n${leader.id} snapshot ${leader.node!.status().snapshotIndex})`;
        return;
      }
    }
    // Nothing more to apply anywhere: the state must be the same everywhere.
    const states = this.members().map((m) => ({ id: m.id, ...appliedStateOf(m.disk.state) }));
    const first = states[0];
    for (const s of states) {
      if (first !== undefined && (s.index !== first.index || s.digest !== first.digest)) {
        this.problem = `n${s.id} at ${s.index} (${s.digest.slice(0, 8)}), n${first.id} at ${first.index} (${first.digest.slice(0, 8)})`;
        return;
      }
    }
    void this.workload;
    this.done = true;
  }
}
