// Per-seed knobs. Each seed draws its own core configuration, network quality, disk
// speed and fault intensity, so a batch of seeds covers calm clusters with big
// batches as well as lossy, slow, one-entry-per-message ones.

import type { NetworkConditions } from "./network.ts";
import type { SimRandom } from "./sim-random.ts";

export interface RaftKnobs {
  readonly electionTimeoutTicks: number;
  readonly heartbeatIntervalTicks: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly maxMsgBytes: number;
  readonly maxInflightMsgs: number;
  readonly maxInflightBytes: number;
  readonly maxUncommittedBytes: number;
  readonly maxCommittedBytesPerReady: number;
  /** The node driver runs with this on; seeds cover both modes. */
  readonly deferCommitUpdates: boolean;
}

export interface Scenario {
  readonly raft: RaftKnobs;
  readonly network: NetworkConditions;
  readonly diskLatencyMs: { readonly min: number; readonly max: number };
  readonly snapshotEveryEntries: number;
  /** Nodes tick every baseTickMs plus a per-node skew, so their clocks drift apart. */
  readonly baseTickMs: number;
  readonly tickSkewMs: { readonly min: number; readonly max: number };
  /** Multiplies the weight of every fault action relative to client traffic. */
  readonly faultIntensity: number;
  /** Chance that a freshly elected leader is cut off or crashed within its first moments,
   *  leaving its first entries on a minority: the opening move of Figure 8. */
  readonly newLeaderFaultRate: number;
  /** Chance that a leader is cut off right as it advances its commit index, before the
   *  messages announcing it (and anything sent with them) arrive. */
  readonly commitFaultRate: number;
  readonly chaosGapMs: { readonly min: number; readonly max: number };
  /** The whole-node simulator's followers hold committed entries back this many ticks (0: apply at once). */
  readonly applyDeferTicks: number;
}

const UNLIMITED = 1 << 30;

export function drawScenario(rng: SimRandom): Scenario {
  const lossy = rng.chance(0.5);
  return {
    raft: {
      electionTimeoutTicks: rng.pick([5, 10, 10, 20]),
      heartbeatIntervalTicks: rng.pick([1, 1, 2]),
      preVote: rng.chance(0.7),
      checkQuorum: rng.chance(0.7),
      // Tiny limits split a leader's backlog over many messages, which is what lets a
      // follower acknowledge an old-term entry without the new leader's no-op after it.
      maxMsgBytes: rng.pick([1, 8, 64, UNLIMITED]),
      maxInflightMsgs: rng.pick([1, 2, 8, 256]),
      maxInflightBytes: rng.pick([64, UNLIMITED]),
      maxUncommittedBytes: rng.pick([64, UNLIMITED, UNLIMITED]),
      maxCommittedBytesPerReady: rng.pick([1, 16, UNLIMITED]),
      deferCommitUpdates: rng.chance(0.5),
    },
    network: {
      lossRate: lossy ? rng.pick([0.01, 0.05, 0.1]) : 0,
      duplicateRate: rng.pick([0, 0.01, 0.05]),
      minDelayMs: 1,
      maxDelayMs: rng.pick([2, 5, 10]),
      slowRate: rng.pick([0, 0.02, 0.1]),
      slowMaxDelayMs: rng.pick([30, 80, 200]),
    },
    diskLatencyMs: rng.pick([
      { min: 1, max: 2 },
      { min: 1, max: 8 },
      { min: 3, max: 20 },
    ]),
    snapshotEveryEntries: rng.pick([4, 10, 30]),
    baseTickMs: 10,
    // Bounded on purpose: at a 2x clock-rate gap, a node whose timeout always fires
    // first can depose every leader forever when pre-vote is off (a known Raft limit,
    // not a bug), and the liveness check would report it.
    tickSkewMs: rng.pick([
      { min: -1, max: 1 },
      { min: -2, max: 2 },
    ]),
    faultIntensity: rng.pick([0.3, 0.6, 1, 2]),
    newLeaderFaultRate: rng.pick([0, 0.3, 0.6]),
    commitFaultRate: rng.pick([0, 0.05, 0.2]),
    chaosGapMs: rng.pick([
      { min: 2, max: 30 },
      { min: 5, max: 50 },
    ]),
    // Drawn last, so every knob before it is what the same seed drew before it existed.
    applyDeferTicks: rng.pick([0, 1, 5, 50]),
  };
}

export function describeScenario(s: Scenario): string {
  const r = s.raft;
  const n = s.network;
  const lim = (v: number): string => (v >= UNLIMITED ? "inf" : String(v));
  return (
    `raft(election=${r.electionTimeoutTicks} hb=${r.heartbeatIntervalTicks} preVote=${r.preVote} checkQuorum=${r.checkQuorum} ` +
    `msgBytes=${lim(r.maxMsgBytes)} inflight=${r.maxInflightMsgs}/${lim(r.maxInflightBytes)} ` +
    `uncommitted=${lim(r.maxUncommittedBytes)} applyBytes=${lim(r.maxCommittedBytesPerReady)} deferCommit=${r.deferCommitUpdates}) ` +
    `net(loss=${n.lossRate} dup=${n.duplicateRate} delay=${n.minDelayMs}-${n.maxDelayMs} slow=${n.slowRate}@${n.slowMaxDelayMs}) ` +
    `disk=${s.diskLatencyMs.min}-${s.diskLatencyMs.max}ms tick=${s.baseTickMs}${s.tickSkewMs.min}+${s.tickSkewMs.max}ms snapEvery=${s.snapshotEveryEntries} ` +
    `faults=x${s.faultIntensity} newLeaderFaults=${s.newLeaderFaultRate} commitFaults=${s.commitFaultRate} gap=${s.chaosGapMs.min}-${s.chaosGapMs.max}ms applyDefer=${s.applyDeferTicks}`
  );
}
