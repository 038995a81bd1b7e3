import { randomInt } from "node:crypto";
import { Raft, type RaftConfig } from "../raft/raft.ts";
import { SeededRng } from "../raft/random.ts";
import type { ConfChange, ConfState, Entry, Message, NodeId, Ready, SnapshotMeta, Status } from "../raft/types.ts";
import type { RaftStorage } from "../storage/raft-storage.ts";
import type { SnapshotStore } from "../storage/snapshot-store.ts";
import type { Transport } from "../transport/transport.ts";
import type { DriverTestingFaults } from "./driver-faults.ts";
import { assert } from "./invariant.ts";
import { LatencyHistogram } from "./latency-histogram.ts";
import type { NodeMetrics } from "./node-metrics.ts";
import { silentLogger, type Logger } from "./logger.ts";
import { stageTrace, type StageTrace } from "./stage-trace.ts";
import { NodeError } from "./node-error.ts";
import { systemClock, type NodeClock } from "./node-clock.ts";
import { RequestRouter, type Proposed } from "./request-router.ts";
import { SnapshotLifecycle } from "./snapshot-lifecycle.ts";
import type { StateMachine } from "./state-machine.ts";

/** Entry bytes per append message: a quarter of the smallest frame a transport carries. */
const DEFAULT_MAX_APPEND_BYTES = 256 * 1024;
const DEFAULT_ELECTION_TIMEOUT_TICKS = 15;
/**
 * A follower applies committed entries in batches of up to this many (or bytes below),
 * at most APPLY_DEFER_TICKS after the first of them arrived, and at once when anybody on
 * this node waits for them (a read barrier, a proposer). One batch is one transaction,
 * and what a transaction costs grows with the b-tree pages it dirties, not with its
 * entries: twenty messages among 64 accounts dirty almost as many index pages as two
 * hundred. A leader applies everything at once: its clients wait for the results.
 */
const APPLY_DEFER_ENTRIES_MAX = 512;
const APPLY_DEFER_BYTES_MAX = 8 * 1024 * 1024;
const APPLY_DEFER_TICKS = 2;

export interface RaftNodeOptions {
  id: NodeId;
  storage: RaftStorage;
  snapshots: SnapshotStore;
  transport: Transport;
  stateMachine: StateMachine;
  /** The configuration of a brand-new cluster (ignored once the node has state). */
  bootstrap?: ConfState;
  tickIntervalMs?: number;
  electionTimeoutTicks?: number;
  heartbeatIntervalTicks?: number;
  /** Take a snapshot and compact the log after this many applied entries. */
  snapshotEveryEntries?: number;
  /** Bound on proposals and reads waiting for an answer on this node. */
  maxPendingRequests?: number;
  /** Limits handed to the core (bytes per message, inflight, uncommitted). */
  raftLimits?: Pick<RaftConfig, "maxMsgBytes" | "maxInflightMsgs" | "maxInflightBytes" | "maxUncommittedBytes">;
  seed?: number;
  logger?: Logger;
  /** Applied on the leader to every proposal before it enters the log (e.g. to stamp the leader's clock). */
  stampProposal?: (payload: Uint8Array, leaderTimeMs: number) => Uint8Array;
  /** Called after each batch of entries is applied and durable in the state machine. */
  afterApply?: (entries: readonly Entry[], results: readonly unknown[]) => void;
  /** Time and timers (default: the system's). The simulator passes a virtual clock. */
  clock?: NodeClock;
  /**
   * The driver failed (a broken invariant, a storage refusal): the node is stopped and
   * must not go on. Default: log it and throw it out of the event loop, which ends the
   * process loudly rather than leaving a zombie that answers HTTP but runs no raft.
   */
  onFatal?: (error: Error) => void;
  /**
   * Ticks a follower may hold committed entries back to apply them in one larger batch
   * (default APPLY_DEFER_TICKS; 0 applies every Ready's entries at once, as a leader does).
   */
  applyDeferTicks?: number;
  /** Core settings the simulator varies per seed; production keeps the defaults. */
  raftTuning?: Pick<RaftConfig, "preVote" | "checkQuorum" | "maxCommittedBytesPerReady" | "deferCommitUpdates" | "unsafeTestingFaults">;
  /** Deliberate driver bugs, for proving that the simulator finds them. Never set in production. */
  unsafeTestingFaults?: DriverTestingFaults;
}

/** Counters of durable work: each raft write and each apply batch is one fsync'd transaction. */
export interface NodeIoCounters {
  /** Readies handled: each is a pass of persist, send and apply. */
  readies: number;
  raftWrites: number;
  /** Raft writes made durable with an fsync (apply batches never are). */
  fsyncs: number;
  applyBatches: number;
  entriesApplied: number;
}

export interface NodeStatus extends Status {
  /** The state machine's applied index (the core's Status says what it handed out). */
  readonly applied: number;
  /** Committed entries handed out by the core that wait here to be applied in a later batch. */
  readonly applyPending: number;
  readonly tickIntervalMs: number;
  readonly io: Readonly<NodeIoCounters>;
}

// RaftNodeOptions.unsafeTestingFaults' type, for whoever configures a RaftNode (the simulator).
export type { DriverTestingFaults } from "./driver-faults.ts";

/** Keeps the read contexts' stream apart from the core's election jitter, drawn from the same seed. */
const READ_CONTEXT_SALT = 0x2545f491;

/**
 * The driver: feeds the core ticks, messages and requests, and carries out each
 * Ready in order — send what may go at once, persist, send what waited for the disk,
 * apply, advance. Requests and their waiters are the RequestRouter's; snapshots, from
 * the background copy to an install, the SnapshotLifecycle's. The loop tells each, at
 * fixed points of a Ready, what happened; they hand work back through notify().
 */
export class RaftNode {
  readonly id: NodeId;
  private readonly raft: Raft;
  private readonly options: RaftNodeOptions;
  private readonly logger: Logger;
  private readonly tickIntervalMs: number;
  /** The election timeout (its low end) in milliseconds. */
  private readonly electionTimeoutMs: number;

  private stopped = false;
  /** stop() ran (or is running). */
  private closed = false;
  /** Why the driver failed, once it has (see fail). */
  private failure: Error | null = null;
  private readonly clock: NodeClock;
  private stopTicking: (() => void) | null = null;
  /** When the last tick ran (clock.monotonicMs()), to notice a held event loop. */
  private lastTickAtMs = 0;
  private wake: (() => void) | null = null;
  private loopDone: Promise<void> = Promise.resolve();

  /** What the state machine holds: moved by each applied batch, and by a snapshot install. */
  private appliedIndex: number;
  private appliedTerm = 0;
  /**
   * Committed entries the core handed out that the state machine has not applied yet
   * (a follower's deferred batch): they follow appliedIndex without a gap. The core counts
   * them applied; on a restart the state machine's own index says where to resume.
   */
  private pendingApply: Entry[] = [];
  private pendingApplyBytes = 0;
  /** Ticks since the oldest pending entry arrived. */
  private pendingApplyTicks = 0;
  private readonly applyDeferTicks: number;

  private readonly statusListeners = new Set<(status: NodeStatus) => void>();
  private readonly progressListeners = new Set<() => void>();
  private readonly requests: RequestRouter;
  private readonly snapshots: SnapshotLifecycle;
  private readonly io: NodeIoCounters = { readies: 0, raftWrites: 0, fsyncs: 0, applyBatches: 0, entriesApplied: 0 };
  private readonly raftWriteLatency = new LatencyHistogram();
  private leaderChanges = 0;
  /** Per-proposal stage times when CONCORD_TRACE is set (latency breakdowns). */
  private readonly trace: StageTrace;

  private constructor(options: RaftNodeOptions, raft: Raft, appliedIndex: number, appliedTerm: number, snapshotIndex: number) {
    this.options = options;
    this.id = options.id;
    this.raft = raft;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.tickIntervalMs = options.tickIntervalMs ?? 20;
    this.electionTimeoutMs = this.tickIntervalMs * (options.electionTimeoutTicks ?? DEFAULT_ELECTION_TIMEOUT_TICKS);
    this.appliedIndex = appliedIndex;
    this.appliedTerm = appliedTerm;
    this.applyDeferTicks = options.applyDeferTicks ?? APPLY_DEFER_TICKS;
    this.trace = stageTrace(options.id);
    const isStopped = () => this.stopped;
    const notify = () => this.notify();
    this.requests = new RequestRouter({
      id: options.id,
      raft,
      transport: options.transport,
      clock: this.clock,
      trace: this.trace,
      tickIntervalMs: this.tickIntervalMs,
      // Seeded runs (the simulator) stay a function of their seed.
      firstReadContext: 1 + (options.seed !== undefined ? new SeededRng(options.seed ^ READ_CONTEXT_SALT).nextUint32() * 2 ** 15 : randomInt(2 ** 47)),
      electionTimeoutMs: this.electionTimeoutMs,
      maxPendingRequests: options.maxPendingRequests ?? 8192,
      stampProposal: options.stampProposal,
      loop: { isStopped, notify, appliedIndex: () => this.appliedIndex, onStatusChange: (listener) => this.onStatusChange(listener) },
    });
    this.snapshots = new SnapshotLifecycle({
      raft,
      stateMachine: options.stateMachine,
      snapshots: options.snapshots,
      storage: options.storage,
      transport: options.transport,
      logger: this.logger,
      clock: this.clock,
      faults: options.unsafeTestingFaults ?? {},
      snapshotEveryEntries: options.snapshotEveryEntries ?? 10_000,
      lastSnapshotIndex: snapshotIndex,
      loop: {
        isStopped,
        notify,
        fail: (error) => this.fail(error),
        appliedIndex: () => this.appliedIndex,
        installed: (index, term) => {
          this.appliedIndex = index;
          this.appliedTerm = term;
        },
      },
    });
  }

  /** Load durable state, join the transport and start ticking. */
  static async start(options: RaftNodeOptions): Promise<RaftNode> {
    const loaded = await options.storage.load();
    const stateApplied = await options.stateMachine.appliedIndex();
    // The state machine holds everything the stored snapshot does (a restore records both
    // in one transaction; compaction follows the copy): behind it, entries the log no
    // longer has would be skipped.
    assert(stateApplied >= (loaded.snapshot?.index ?? 0), () => `state machine applied ${stateApplied}, behind the stored snapshot at ${loaded.snapshot?.index}`);
    const applied = stateApplied;
    // Commit-only changes are not written (see RaftWrite); whatever the state machine
    // applied was committed, so the commit index is at least that.
    const stored = { ...loaded, hardState: { ...loaded.hardState, commit: Math.max(loaded.hardState.commit, applied) } };
    const raft = new Raft(
      {
        id: options.id,
        rng: new SeededRng(options.seed ?? randomInt(2 ** 31)),
        ...options.raftTuning,
        electionTimeoutTicks: options.electionTimeoutTicks ?? DEFAULT_ELECTION_TIMEOUT_TICKS,
        heartbeatIntervalTicks: options.heartbeatIntervalTicks ?? 2,
        // Followers learn a bare commit index on the next tick; under load it rides on
        // appends. Saves a message, a Ready and an ack per follower per commit.
        deferCommitUpdates: true,
        // An append must fit one transport frame (NATS's max_payload, 1 MiB) after
        // encoding, which adds bytes per entry: one that does not fit is dropped, and
        // resent unchanged it would be dropped forever, stalling a lagging follower.
        maxMsgBytes: DEFAULT_MAX_APPEND_BYTES,
        ...(options.bootstrap !== undefined ? { bootstrap: options.bootstrap } : {}),
        ...options.raftLimits,
      },
      { ...stored, applied: Math.min(applied, Math.max(stored.hardState.commit, stored.snapshot?.index ?? 0)) },
    );
    const appliedIndex = raft.status().applied;
    // A snapshot taken right after a restart pairs the applied index with this term, and
    // a wrong one makes the stored log lie about its last term once the entries below are
    // compacted away: the node then votes for, and accepts appends from, candidates that
    // lack committed entries. So it comes from the log entry at that index.
    const appliedTerm = options.unsafeTestingFaults?.snapshotTermFromLastSnapshot === true ? (stored.snapshot?.term ?? 0) : termAt(stored, appliedIndex);
    const node = new RaftNode(options, raft, appliedIndex, appliedTerm, stored.snapshot?.index ?? 0);
    // Bytes of snapshots the log no longer points at (a crash between keeping a new one and
    // moving the log's record to it) are no use to anyone.
    await options.snapshots.prune(stored.snapshot?.index ?? 0);
    await options.transport.start({
      onMessages: (messages) => node.receive(messages),
      onSnapshot: (snapshot) => node.snapshots.receive(snapshot),
      onRequest: (from, payload) => node.requests.serve(from, payload),
    });
    node.stopTicking = node.clock.every(node.tickIntervalMs, () => node.tick());
    node.loopDone = node.loop().catch((error: unknown) => node.fail(error));
    node.logger.log("info", "node_started", { ...raft.status(), appliedIndex: node.appliedIndex });
    return node;
  }

  // ───────────────────────────── public API ─────────────────────────────
  // Requests go straight to the router: the promise returned is the router's own, so
  // no await (no event-loop step) is added on the way.

  /** Replicate `data`; resolves with its log index and the state machine's result once applied on the leader. */
  propose(data: Uint8Array, timeoutMs: number): Promise<Proposed> {
    return this.requests.propose(data, timeoutMs);
  }

  /** Raft position, I/O counters and latencies, as numbers (the API renders them). */
  metrics(): NodeMetrics {
    const s = this.raft.status();
    return {
      term: s.term,
      isLeader: s.role === "leader",
      commit: s.commit,
      applied: this.appliedIndex,
      lastIndex: s.lastIndex,
      snapshotIndex: s.snapshotIndex,
      leaderChanges: this.leaderChanges,
      fsyncs: this.options.storage.syncedWrites(),
      entriesApplied: this.io.entriesApplied,
      proposalLatency: this.requests.proposalLatency.counts(),
      raftWriteLatency: this.raftWriteLatency.counts(),
    };
  }

  /**
   * A linearizable read barrier (§6.4): resolves once this node has applied everything
   * committed before the call, so a read of local state that follows is up to date.
   */
  readBarrier(timeoutMs: number): Promise<number> {
    return this.requests.readBarrier(timeoutMs);
  }

  /** Resolves once the state machine has applied what the core had handed out when called (see NodeView.applyHeld). */
  applyHeld(timeoutMs: number): Promise<void> {
    return this.requests.applyHeld(timeoutMs);
  }

  changeMembership(change: ConfChange, timeoutMs: number): Promise<void> {
    return this.requests.changeMembership(change, timeoutMs);
  }

  /** Add a member as a learner, let it catch up, then promote it if it should vote. */
  addMember(id: NodeId, voter: boolean, timeoutMs: number): Promise<void> {
    return this.requests.addMember(id, voter, timeoutMs);
  }

  transferLeadership(to: NodeId, timeoutMs: number): Promise<void> {
    return this.requests.transferLeadership(to, timeoutMs);
  }

  status(): NodeStatus {
    return {
      ...this.raft.status(),
      applied: this.appliedIndex,
      applyPending: this.pendingApply.length,
      tickIntervalMs: this.tickIntervalMs,
      io: { ...this.io, fsyncs: this.options.storage.syncedWrites() },
    };
  }

  /** This node's role, cheaply (status() builds the whole picture). */
  role(): NodeStatus["role"] {
    return this.raft.softState().role;
  }

  onStatusChange(listener: (status: NodeStatus) => void): () => void {
    this.statusListeners.add(listener);
    return () => this.statusListeners.delete(listener);
  }

  /** Called after every Ready (commit, applied or role may have moved); listeners must be cheap. */
  onProgress(listener: () => void): () => void {
    this.progressListeners.add(listener);
    return () => this.progressListeners.delete(listener);
  }

  /** Stop; a leader first hands leadership to the most up-to-date voter. */
  async stop(options: { transferLeadership?: boolean; timeoutMs?: number } = {}): Promise<void> {
    // After a failure the loop is stopped but transport and storage are still open.
    if (this.closed) return;
    this.closed = true;
    const status = this.raft.status();
    if (this.failure === null && (options.transferLeadership ?? true) && status.role === "leader") {
      const best = status.progress
        .filter((p) => p.voter && p.id !== this.id)
        .sort((a, b) => b.match - a.match)[0];
      if (best !== undefined) {
        try {
          await this.requests.transferLeadership(best.id, options.timeoutMs ?? 2000);
        } catch (error) {
          this.logger.log("warn", "transfer_on_stop_failed", { to: best.id, error: (error as Error).message });
        }
      }
    }
    this.stopped = true;
    this.stopTicking?.();
    this.notify();
    await this.loopDone;
    await this.snapshots.idle();
    await this.options.transport.close();
    await this.options.storage.close();
    // Bytes the core never asked to install.
    await this.snapshots.releaseAllStaged();
    this.trace.close();
    this.requests.rejectProposals(new NodeError("stopped", `node ${this.id} stopped`));
    this.logger.log("info", "node_stopped", { id: this.id });
  }

  /**
   * The driver cannot go on (a broken invariant, a storage refusal, a failed apply):
   * stop raft here at once and say so loudly. A node that kept serving HTTP with a dead
   * loop would look alive to its users and to the dashboard.
   */
  private fail(error: unknown): void {
    if (this.failure !== null) return;
    const e = error instanceof Error ? error : new Error(String(error));
    this.failure = e;
    this.logger.log("error", "driver_failed", { error: e.message, stack: e.stack });
    this.stopped = true;
    this.stopTicking?.();
    this.requests.rejectProposals(new NodeError("stopped", `node ${this.id} failed: ${e.message}`));
    if (this.options.onFatal !== undefined) this.options.onFatal(e);
    else
      globalThis.setTimeout(() => {
        throw e;
      }, 0);
  }

  // ───────────────────────────── inputs ─────────────────────────────

  private tick(): void {
    if (this.stopped) return;
    const nowMs = this.clock.monotonicMs();
    // A tick that comes a third of an election timeout late means the event loop was
    // held (a long synchronous step): long enough more and followers elect someone else.
    const lateMs = nowMs - this.lastTickAtMs - this.tickIntervalMs;
    if (this.lastTickAtMs > 0 && lateMs > this.electionTimeoutMs / 3) {
      this.logger.log("warn", "event_loop_stalled", { ms: Math.round(lateMs + this.tickIntervalMs), role: this.raft.softState().role });
    }
    this.lastTickAtMs = nowMs;
    if (this.pendingApply.length > 0) this.pendingApplyTicks++;
    this.raft.tick();
    this.notify();
  }

  private receive(messages: Message[]): void {
    if (this.stopped) return;
    if (this.trace.enabled) this.traceMessages("in", messages);
    try {
      for (const m of messages) {
        // A snapshot arrives only beside its bytes (SnapshotLifecycle.receive): stepped
        // from a plain batch, the core would give up its log for bytes nobody staged.
        if (m.to === this.id && m.type !== "snap") this.raft.step(m);
      }
    } catch (error) {
      // A core that threw stopped halfway through a message: it must not run on.
      this.fail(error);
      return;
    }
    this.notify();
  }

  // ───────────────────────────── the loop ─────────────────────────────

  private notify(): void {
    const wake = this.wake;
    if (wake !== null) {
      this.wake = null;
      wake();
    }
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      if (!this.raft.hasReady()) {
        if (this.pendingApply.length > 0 && this.applyDue()) {
          await this.applyPending();
          this.afterApplyProgress();
          continue;
        }
        await new Promise<void>((resolve) => (this.wake = resolve));
        // Group commit: let the rest of this event-loop turn's I/O (more requests, more
        // raft messages) reach the core first, so one Ready — one fsync, one send per
        // peer — carries all of it rather than one Ready per request.
        await this.clock.nextTurn();
        continue;
      }
      await this.handleReady(this.raft.ready());
    }
  }

  private async handleReady(ready: Ready): Promise<void> {
    this.io.readies++;
    const trace = this.trace.enabled ? this.trace : null;
    if (trace !== null) {
      const lastEntry = ready.entries[ready.entries.length - 1];
      if (lastEntry !== undefined) trace.mark("ready", lastEntry.index, ready.entries.length);
      const lastCommitted = ready.committedEntries[ready.committedEntries.length - 1];
      if (lastCommitted !== undefined) trace.mark("commit_ready", lastCommitted.index, ready.committedEntries.length);
    }
    // 1. Replication to followers runs in parallel with our own disk write.
    this.sendMessages(ready.messages);
    if (trace !== null) this.traceMessages("out", ready.messages);
    if (ready.snapshot !== null) {
      // The snapshot follows every entry held back; they go first, so the state machine
      // still moves one entry at a time up to the point the snapshot replaces it.
      if (this.pendingApply.length > 0) await this.applyPending();
      await this.snapshots.install(ready.snapshot);
    }
    if (ready.entries.length > 0 || ready.hardState !== null || ready.snapshot !== null) {
      const startedMs = this.clock.monotonicMs();
      await this.options.storage.write({ hardState: ready.hardState, snapshot: ready.snapshot, entries: ready.entries });
      const writeMs = this.clock.monotonicMs() - startedMs;
      this.raftWriteLatency.observeMs(writeMs);
      this.warnIfSlow("raft_write", writeMs, ready.entries.length);
      this.io.raftWrites++;
      const lastEntry = ready.entries[ready.entries.length - 1];
      if (trace !== null && lastEntry !== undefined) trace.mark("persisted", lastEntry.index);
    }
    // 2. Votes and acknowledgements promise durability: only now may they leave.
    this.sendMessages(ready.messagesAfterPersist);
    if (trace !== null) this.traceMessages("out", ready.messagesAfterPersist);
    // 3. Apply: now, or (a follower nobody here waits on) with later entries in one batch.
    if (ready.committedEntries.length > 0) {
      const first = ready.committedEntries[0]!;
      const expected = (this.pendingApply[this.pendingApply.length - 1]?.index ?? this.appliedIndex) + 1;
      assert(first.index === expected, () => `committed entries start at ${first.index}, after applied ${this.appliedIndex} and ${this.pendingApply.length} pending`);
      if (this.pendingApply.length === 0) this.pendingApplyTicks = 0;
      for (const entry of ready.committedEntries) {
        this.pendingApply.push(entry);
        this.pendingApplyBytes += entry.data.byteLength;
      }
    }
    if (this.pendingApply.length > 0 && this.applyDue()) await this.applyPending();
    this.requests.readStates(ready.readStates);
    this.raft.advance();
    if (ready.softState !== null) this.announceStatus(ready.softState.role, ready.softState.leader);
    this.afterApplyProgress();
  }

  /** What follows an apply (or a Ready that may have answered a read): release waiters, tell listeners, maybe snapshot. */
  private afterApplyProgress(): void {
    this.requests.releaseAppliedWaiters(this.appliedIndex);
    for (const listener of this.progressListeners) listener();
    this.snapshots.maybeSnapshot(this.appliedIndex, this.appliedTerm);
  }

  /**
   * Whether the pending entries must be applied now: always but on a follower, and on a
   * follower once the batch is full or old, or when anybody here waits for an entry
   * (a read barrier for its index, a proposal made while this node led).
   */
  private applyDue(): boolean {
    if (this.applyDeferTicks === 0 || this.raft.softState().role !== "follower") return true;
    if (this.pendingApply.length >= APPLY_DEFER_ENTRIES_MAX || this.pendingApplyBytes >= APPLY_DEFER_BYTES_MAX) return true;
    if (this.pendingApplyTicks >= this.applyDeferTicks) return true;
    return this.requests.waitsForApply();
  }

  /** Apply every pending entry in one batch. */
  private async applyPending(): Promise<void> {
    const entries = this.pendingApply;
    this.pendingApply = [];
    this.pendingApplyBytes = 0;
    this.pendingApplyTicks = 0;
    const first = entries[0]!;
    assert(first.index === this.appliedIndex + 1, () => `applying from ${first.index}, after applied ${this.appliedIndex}`);
    const trace = this.trace.enabled ? this.trace : null;
    const applyStartedMs = this.clock.monotonicMs();
    const results = await this.options.stateMachine.apply(entries);
    this.warnIfSlow("apply", this.clock.monotonicMs() - applyStartedMs, entries.length);
    this.io.applyBatches++;
    this.io.entriesApplied += entries.length;
    this.requests.applied(entries, results);
    const last = entries[entries.length - 1]!;
    this.snapshots.noteApplied(entries);
    if (trace !== null) trace.mark("applied", last.index);
    this.appliedIndex = last.index;
    this.appliedTerm = last.term;
    this.options.afterApply?.(entries, results);
  }

  /** Trace appends carrying entries and their acknowledgements, by the last index. */
  private traceMessages(direction: "in" | "out", messages: readonly Message[]): void {
    for (const m of messages) {
      if (m.type === "app" && m.entries.length > 0) this.trace.mark(`app_${direction}`, m.entries[m.entries.length - 1]!.index, direction === "in" ? m.from : m.to);
      else if (m.type === "app") this.trace.mark(`commit_${direction}`, m.commit, direction === "in" ? m.from : m.to);
      else if (m.type === "appResp" && !m.reject) this.trace.mark(`ack_${direction}`, m.index, direction === "in" ? m.from : m.to);
    }
  }

  private sendMessages(messages: readonly Message[]): void {
    if (messages.length === 0) return;
    let plain: Message[] | null = null;
    for (const m of messages) {
      if (m.type === "snap") void this.snapshots.send(m);
      else (plain ??= []).push(m);
    }
    if (plain !== null) {
      this.options.transport.send(plain);
      this.options.transport.flush();
    }
  }

  /**
   * A disk step long enough to worry about (a third of an election timeout, as for
   * event_loop_stalled): it runs on the event loop, so nothing else did meanwhile. Under
   * load the usual cause is the disk itself, busy with every node's checkpoints and
   * snapshot copies at once.
   */
  private warnIfSlow(step: "raft_write" | "apply", ms: number, entries: number): void {
    if (ms > this.electionTimeoutMs / 3) this.logger.log("warn", "slow_disk_step", { step, ms: Math.round(ms), entries });
  }

  private announceStatus(role: string, leader: NodeId): void {
    this.leaderChanges++;
    this.requests.leaderChanged(role, leader);
    this.logger.log("info", "role_changed", { id: this.id, role, leader, term: this.raft.status().term });
    const status = this.status();
    for (const listener of [...this.statusListeners]) listener(status);
  }
}

/** The term of the entry at `index` in what was loaded from storage (the snapshot's, at its index). */
function termAt(stored: { readonly snapshot: SnapshotMeta | null; readonly entries: readonly Entry[] }, index: number): number {
  if (index === 0) return 0;
  if (stored.snapshot !== null && index === stored.snapshot.index) return stored.snapshot.term;
  const first = stored.entries[0];
  const entry = first === undefined ? undefined : stored.entries[index - first.index];
  assert(entry !== undefined && entry.index === index, () => `applied index ${index} is neither the snapshot's (${stored.snapshot?.index ?? "none"}) nor in the stored log`);
  return entry.term;
}
