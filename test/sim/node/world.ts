// The simulated machines: each runs the RaftNode that `concord node` runs, on a virtual
// clock, a NodeDisk that outlives its process, and a transport over the simulated
// network. Crashing a machine kills its process (its timers, awaits and I/O stop where
// they are) and, for a power loss, also drops the chat state no fsync covered.

import { encodeProposal } from "../../../src/chat/command-codec.ts";
import type { LogFields, LogLevel, Logger } from "../../../src/node/logger.ts";
import { type DriverTestingFaults, RaftNode } from "../../../src/node/raft-node.ts";
import type { RaftConfig } from "../../../src/raft/raft.ts";
import type { ConfState, NodeId } from "../../../src/raft/types.ts";
import { CALM_NETWORK, SimNetwork } from "../network.ts";
import type { Scenario } from "../scenario.ts";
import { deriveSeed, type SimRandom } from "../sim-random.ts";
import type { Trace } from "../trace.ts";
import { RuleBroken } from "../violation.ts";
import { rebuildChatState, SimChatStateMachine } from "./chat-state.ts";
import { NodeChecker } from "./checker.ts";
import { type CrashKind, NodeDisk, releaseStateDatabase } from "./disk.ts";
import { SimScheduler } from "./scheduler.ts";
import { SimRaftStorage, SimSnapshotStore } from "./storage.ts";
import { SimSwitchboard, SimTransport } from "./transport.ts";

export type MachineState = "starting" | "running" | "down" | "stopped";

export interface Machine {
  readonly id: NodeId;
  readonly disk: NodeDisk;
  readonly bootstrap: ConfState | null;
  readonly tickIntervalMs: number;
  state: MachineState;
  /** Bumped at every crash: a dead incarnation's timers and I/O go nowhere. */
  incarnation: number;
  node: RaftNode | null;
  stateMachine: SimChatStateMachine | null;
  /** Seen in some configuration: once removed from the leader's, it is stopped for good. */
  everMember: boolean;
}

export interface WorldConfig {
  readonly seed: number;
  readonly scenario: Scenario;
  readonly trace: Trace;
  readonly rng: SimRandom;
  readonly coreFaults: NonNullable<RaftConfig["unsafeTestingFaults"]>;
  readonly driverFaults: DriverTestingFaults;
}

export interface WorldStats {
  crashes: number;
  powerLosses: number;
  restarts: number;
  snapshotsTaken: number;
  snapshotsInstalled: number;
  diskStalls: number;
}

/** The current snapshot's bytes and a newer one saved but not yet recorded. */
const MAX_SNAPSHOT_FILES = 2;
/** Room for a few chat commands (~130 B each): the core's scenario knob goes down to 64 B, below one. */
const MIN_UNCOMMITTED_BYTES = 512;
/** A background state copy takes this long (virtual ms): long enough to overlap other work. */
const COPY_MS = { min: 1, max: 60 };

export class NodeWorld {
  readonly scheduler = new SimScheduler();
  readonly network: SimNetwork;
  readonly board: SimSwitchboard;
  readonly checker = new NodeChecker();
  readonly machines = new Map<NodeId, Machine>();
  readonly stats: WorldStats = { crashes: 0, powerLosses: 0, restarts: 0, snapshotsTaken: 0, snapshotsInstalled: 0, diskStalls: 0 };
  faultsEnabled = true;
  /** A node's driver failed: the run is over (see fatal). */
  private failure: RuleBroken | null = null;

  constructor(readonly config: WorldConfig) {
    this.network = new SimNetwork(config.scenario.network, config.rng);
    this.board = new SimSwitchboard(this.scheduler, this.network, { trace: (who, text) => this.traceNode(who, text) }, config.rng);
  }

  get nowMs(): number {
    return this.scheduler.nowMs;
  }

  get trace(): Trace {
    return this.config.trace;
  }

  traceNode(id: NodeId, text: string): void {
    this.config.trace.add(this.scheduler.nowMs, `n${id}`, text);
  }

  note(text: string): void {
    this.config.trace.add(this.scheduler.nowMs, "sim", text);
  }

  /** Throws the first failure a node reported, if any (checked after every event). */
  rethrowFailure(): void {
    if (this.failure !== null) throw this.failure;
  }

  // ───────────────────────────── machines ─────────────────────────────

  addMachine(id: NodeId, bootstrap: ConfState | null): Machine {
    const s = this.config.scenario;
    const rng = this.config.rng;
    let machine: Machine | null = null;
    const disk = new NodeDisk(this.scheduler, rng, s.diskLatencyMs, () => (machine?.disk.state !== undefined ? appliedOf(machine) : 0));
    machine = {
      id,
      disk,
      bootstrap,
      tickIntervalMs: s.baseTickMs + rng.between(s.tickSkewMs.min, s.tickSkewMs.max),
      state: "down",
      incarnation: 0,
      node: null,
      stateMachine: null,
      everMember: bootstrap !== null,
    };
    this.machines.set(id, machine);
    const m = machine;
    disk.afterLanding = this.guarded(() => {
      // The snapshot the log points at must have its bytes (a node that lost them can
      // never send it), and old ones go: a saved new one and the current, at most.
      const record = m.disk.raft.snapshot;
      if (record !== null && !m.disk.snapshotFiles.has(record.index)) {
        throw new RuleBroken("snapshot bytes", `n${id}'s log points at snapshot ${record.index}, whose bytes are gone (kept: ${[...m.disk.snapshotFiles.keys()].join(",") || "none"})`);
      }
      if (m.disk.snapshotFiles.size > MAX_SNAPSHOT_FILES) {
        throw new RuleBroken("snapshot bytes", `n${id} keeps ${m.disk.snapshotFiles.size} snapshots (${[...m.disk.snapshotFiles.keys()].join(",")}); old ones are never deleted`);
      }
    });
    this.start(machine, "join");
    return machine;
  }

  private start(m: Machine, why: string): void {
    const incarnation = ++m.incarnation;
    m.state = "starting";
    const alive = (): boolean => m.incarnation === incarnation && (m.state === "running" || m.state === "starting");
    const r = m.disk.raft;
    this.traceNode(m.id, `START (${why}) from t${r.hardState.term}/v${r.hardState.vote} snap=${r.snapshot === null ? "none" : `${r.snapshot.index}/${r.snapshot.term}`} log=${r.entries.length} files=[${[...m.disk.snapshotFiles.keys()].join(",")}]`);
    const s = this.config.scenario;
    const stateMachine = new SimChatStateMachine(m.disk, this.scheduler, this.config.rng, { copyMs: COPY_MS }, alive, {
      // A broken rule must end the run, not reach the node as a failed write.
      applied: this.guarded((entries, digest) => this.checker.applied(m.id, entries, digest)),
      restored: this.guarded((meta, digest) => {
        this.stats.snapshotsInstalled++;
        this.checker.restored(m.id, meta, digest);
      }),
    });
    m.stateMachine = stateMachine;
    const logger: Logger = {
      log: (level: LogLevel, event: string, fields?: LogFields) => {
        if (!alive()) return;
        if (event === "snapshot_taken") this.stats.snapshotsTaken++;
        if (level !== "debug") this.traceNode(m.id, `${event}${fields === undefined ? "" : ` ${JSON.stringify(fields)}`}`);
      },
    };
    const started = RaftNode.start({
      id: m.id,
      storage: new SimRaftStorage(m.disk, alive, { snapshotRecorded: this.guarded((meta) => this.checker.snapshotRecorded(m.id, meta)), voteWriteBegun: () => this.voteWriteBegun(m, incarnation) }, () => stateMachine.checkpointNow()),
      snapshots: new SimSnapshotStore(m.disk, alive),
      transport: new SimTransport(m.id, this.board, alive),
      stateMachine,
      ...(m.bootstrap !== null ? { bootstrap: m.bootstrap } : {}),
      tickIntervalMs: m.tickIntervalMs,
      electionTimeoutTicks: s.raft.electionTimeoutTicks,
      heartbeatIntervalTicks: s.raft.heartbeatIntervalTicks,
      snapshotEveryEntries: s.snapshotEveryEntries,
      applyDeferTicks: s.applyDeferTicks,
      raftLimits: { maxMsgBytes: s.raft.maxMsgBytes, maxInflightMsgs: s.raft.maxInflightMsgs, maxInflightBytes: s.raft.maxInflightBytes, maxUncommittedBytes: Math.max(s.raft.maxUncommittedBytes, MIN_UNCOMMITTED_BYTES) },
      raftTuning: {
        preVote: s.raft.preVote,
        checkQuorum: s.raft.checkQuorum,
        maxCommittedBytesPerReady: s.raft.maxCommittedBytesPerReady,
        deferCommitUpdates: s.raft.deferCommitUpdates,
        unsafeTestingFaults: this.config.coreFaults,
      },
      unsafeTestingFaults: this.config.driverFaults,
      seed: deriveSeed(this.config.seed, m.id * 7919 + incarnation),
      logger,
      clock: this.scheduler.clockFor(alive),
      stampProposal: (payload, leaderTimeMs) => encodeProposal(leaderTimeMs, payload),
      onFatal: (error) => {
        if (alive()) this.fatal(m, error);
      },
    });
    started.then(
      (node) => {
        if (!alive()) return;
        m.node = node;
        m.state = "running";
        // Every Ready ends here: the checks run then, which is when the node's state moves.
        node.onProgress(this.guarded(() => {
          if (alive()) this.observe(m, node);
        }));
        this.observe(m, node);
      },
      (error: unknown) => {
        if (alive()) this.fatal(m, error instanceof Error ? error : new Error(String(error)));
      },
    );
  }

  /** A rule broken inside async code (a client's callback): reported after the event. */
  violate(error: unknown): void {
    this.failure ??= error instanceof RuleBroken ? error : new RuleBroken("exception", error instanceof Error ? (error.stack ?? error.message) : String(error));
  }

  /** `fn` as a callback whose throw ends the run (a promise would swallow it). */
  guarded<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void {
    return (...args: A) => {
      try {
        fn(...args);
      } catch (error) {
        this.violate(error);
      }
    };
  }

  private fatal(m: Machine, error: Error): void {
    this.traceNode(m.id, `DRIVER FAILED: ${error.message}`);
    this.failure ??= new RuleBroken("node failed", `n${m.id}: ${error.stack ?? error.message}`);
  }

  /** Nodes whose next vote write is to be cut short by a crash (see armVoteCrash). */
  private readonly crashOnVote = new Set<NodeId>();

  /** Crash `id` while its next vote is being written: the vote may or may not survive. */
  armVoteCrash(id: NodeId): void {
    this.crashOnVote.add(id);
  }

  private voteWriteBegun(m: Machine, incarnation: number): void {
    if (!this.faultsEnabled || !this.crashOnVote.delete(m.id)) return;
    const rng = this.config.rng;
    // Before the write can complete (the disk's fastest op), and back soon after.
    const crashInMs = rng.int(this.config.scenario.diskLatencyMs.min);
    this.scheduler.at(crashInMs, () => {
      if (m.incarnation !== incarnation) return;
      this.crash(m.id, rng.chance(0.5) ? "power" : "process", "crash while writing a vote");
      this.scheduler.at(rng.between(1, 40), () => this.restart(m.id));
    });
  }

  crash(id: NodeId, kind: CrashKind, why: string): void {
    const m = this.machines.get(id);
    if (m === undefined || (m.state !== "running" && m.state !== "starting")) return;
    m.incarnation++;
    m.state = "down";
    m.node = null;
    m.stateMachine = null;
    const kept = m.disk.crash(kind, (_checkpoint, upToIndex) => rebuildChatState(m.disk, upToIndex));
    m.disk.stalledUntilMs = 0;
    this.traceNode(id, `CRASH ${kind} (${why})${kept}`);
    this.stats.crashes++;
    if (kind === "power") this.stats.powerLosses++;
  }

  restart(id: NodeId): void {
    const m = this.machines.get(id);
    if (m === undefined || m.state !== "down") return;
    this.stats.restarts++;
    this.start(m, "restart");
  }

  /** Removed from the cluster: never comes back. */
  stop(id: NodeId, why: string): void {
    const m = this.machines.get(id);
    if (m === undefined || m.state === "stopped") return;
    this.traceNode(id, `STOP (${why})`);
    m.incarnation++;
    m.state = "stopped";
    m.node = null;
    m.stateMachine = null;
  }

  /** fsyncs on `id` hang for `ms` (Infinity: until healed). */
  stallDisk(id: NodeId, ms: number): void {
    const m = this.machines.get(id);
    if (m === undefined) return;
    m.disk.stalledUntilMs = this.nowMs + ms;
    this.stats.diskStalls++;
    this.traceNode(id, `DISK STALL for ${Number.isFinite(ms) ? `${ms} ms` : "ever"}`);
  }

  healEverything(): void {
    this.faultsEnabled = false;
    this.network.healAll();
    this.network.conditions = CALM_NETWORK;
    for (const m of this.machines.values()) {
      if (m.disk.stalled) m.disk.unstall();
      if (m.state === "down") this.restart(m.id);
    }
  }

  running(): Machine[] {
    return [...this.machines.values()].filter((m) => m.state === "running" && m.node !== null);
  }

  /** The running leader with the highest term. */
  leader(): Machine | null {
    let best: Machine | null = null;
    let bestTerm = -1;
    for (const m of this.running()) {
      if (m.node!.role() !== "leader") continue;
      const term = m.node!.status().term;
      if (term > bestTerm) {
        best = m;
        bestTerm = term;
      }
    }
    return best;
  }

  /** Since when each leader (by id and term) has had no quorum it can reach. */
  private readonly cutOffSinceMs = new Map<string, number>();

  /**
   * Check-quorum (§6.2): a leader that cannot reach a quorum of voters steps down within
   * two election timeouts. Polled every tick in the fault phase, with pre-vote's partner
   * check-quorum on; links that are cut count, lossy ones do not (a lossy leader may stay).
   */
  checkLeaderLease(): void {
    const s = this.config.scenario;
    if (!s.raft.checkQuorum || !this.faultsEnabled) return;
    const boundMs = 4 * s.raft.electionTimeoutTicks * (s.baseTickMs + s.tickSkewMs.max) + 100;
    const seen = new Set<string>();
    for (const m of this.running()) {
      if (m.node!.role() !== "leader") continue;
      const st = m.node!.status();
      const key = `${m.id}/${st.term}`;
      seen.add(key);
      const reachable = st.conf.voters.filter((v) => {
        if (v === m.id) return true;
        const other = this.machines.get(v);
        return other !== undefined && other.state === "running" && !this.network.isBlocked(m.id, v) && !this.network.isBlocked(v, m.id);
      });
      if (reachable.length > st.conf.voters.length / 2) {
        this.cutOffSinceMs.delete(key);
        continue;
      }
      const since = this.cutOffSinceMs.get(key) ?? this.nowMs;
      this.cutOffSinceMs.set(key, since);
      if (this.nowMs - since > boundMs) {
        throw new RuleBroken("check quorum", `n${m.id} still leads term ${st.term} ${this.nowMs - since} ms after losing every quorum (voters ${st.conf.voters.join(",")}, reachable ${reachable.join(",")})`);
      }
    }
    for (const key of [...this.cutOffSinceMs.keys()]) if (!seen.has(key)) this.cutOffSinceMs.delete(key);
  }

  /** The run is over: its databases go back to the pool. */
  dispose(): void {
    for (const m of this.machines.values()) {
      m.incarnation++;
      m.state = "stopped";
      releaseStateDatabase(m.disk.state);
    }
  }

  /** After every event: a rule broken in async code ends the run here. */
  afterEvent(): void {
    this.rethrowFailure();
  }

  /** After each of a node's Readies: its status against the rules, and the removed members stopped. */
  private observe(m: Machine, node: RaftNode): void {
    const st = node.status();
    this.checker.status(m.id, m.incarnation, st, this.nowMs);
    if (st.conf.voters.includes(m.id) || st.conf.learners.includes(m.id)) m.everMember = true;
    if (st.role !== "leader" || st.applied !== st.commit) return; // its configuration may lag what it committed
    if (this.leader() !== m) return;
    for (const other of this.machines.values()) {
      if (other.state === "stopped" || !other.everMember) continue;
      if (!st.conf.voters.includes(other.id) && !st.conf.learners.includes(other.id)) {
        // Not from inside this node's Ready: as the next event.
        this.scheduler.at(0, () => this.stop(other.id, `removed, as leader n${m.id} applied`));
      }
    }
  }
}

function appliedOf(m: Machine): number {
  const row = m.disk.state.get("SELECT applied_index FROM state_machine_meta WHERE singleton = 1");
  return Number(row?.[0] ?? 0);
}
