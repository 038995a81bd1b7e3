import { randomInt } from "node:crypto";
import { Raft, RaftError, type RaftConfig } from "../raft/raft.ts";
import { SeededRng } from "../raft/random.ts";
import { NONE, type ConfChange, type ConfState, type Entry, type Message, type NodeId, type Ready, type SnapshotBytes, type SnapshotMeta, type Status } from "../raft/types.ts";
import type { RaftStorage } from "../storage/raft-storage.ts";
import type { SnapshotStore } from "../storage/snapshot-store.ts";
import { TransportError } from "../transport/transport-error.ts";
import type { IncomingSnapshot, Transport } from "../transport/transport.ts";
import {
  decodeForwardedReply,
  decodeForwardedRequest,
  encodeForwardedReply,
  encodeForwardedRequest,
  type ForwardedReply,
  type ForwardedRequest,
} from "./forwarding.ts";
import { LatencyHistogram } from "./latency-histogram.ts";
import { silentLogger, type Logger } from "./logger.ts";
import { nowUs, stageTrace, type StageTrace } from "./stage-trace.ts";
import { NodeError } from "./node-error.ts";
import { sleepOn, systemClock, type NodeClock } from "./node-clock.ts";
import { ProposalBatcher } from "./proposal-batcher.ts";
import type { StateMachine } from "./state-machine.ts";

/** Entry bytes per append message: a quarter of the smallest frame a transport carries. */
const DEFAULT_MAX_APPEND_BYTES = 256 * 1024;
const DEFAULT_ELECTION_TIMEOUT_TICKS = 15;

/** A snapshot waits until the entries applied since the last one reach this fraction of its size. */
const SNAPSHOT_LOG_TO_STATE_RATIO = 0.5;

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
  /** Core settings the simulator varies per seed; production keeps the defaults. */
  raftTuning?: Pick<RaftConfig, "preVote" | "checkQuorum" | "maxCommittedBytesPerReady" | "deferCommitUpdates" | "unsafeTestingFaults">;
  /** Deliberate driver bugs, for proving that the simulator finds them. Never set in production. */
  unsafeTestingFaults?: DriverTestingFaults;
}

/** Each re-creates a driver bug that was fixed, so the simulator can show it catches it. */
export interface DriverTestingFaults {
  /** At start, take the applied entry's term from the last snapshot, not from the log. */
  snapshotTermFromLastSnapshot?: boolean;
  /** Stage a received snapshot's bytes before the core has looked at its message, replacing any staged. */
  stageBeforeCoreChecks?: boolean;
  /** Delete the previous snapshot's bytes before the log's snapshot record moves to the new one. */
  dropOldSnapshotBeforeCompact?: boolean;
  /** Let a state copy begun before a snapshot install be kept after it. */
  keepCopyAcrossInstall?: boolean;
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

/** Where a proposal landed in the log, and what applying it returned. */
export interface Proposed {
  readonly index: number;
  readonly result: unknown;
}

export interface NodeStatus extends Status {
  readonly tickIntervalMs: number;
  readonly io: Readonly<NodeIoCounters>;
}

interface ApplyWaiter {
  term: number;
  resolve(result: unknown): void;
  reject(error: NodeError): void;
}

interface Deadline {
  readonly promise: Promise<never>;
  cancel(): void;
}

/**
 * The driver: feeds the core ticks, messages and requests, and carries out each
 * Ready in order — send what may go at once, persist, send what waited for the disk,
 * apply, advance. Everything that waits (proposals, reads) has a deadline.
 */
export class RaftNode {
  readonly id: NodeId;
  private readonly raft: Raft;
  private readonly options: RaftNodeOptions;
  private readonly logger: Logger;
  private readonly tickIntervalMs: number;
  /** The election timeout (its low end) in milliseconds. */
  private readonly electionTimeoutMs: number;
  private readonly snapshotEveryEntries: number;
  private readonly maxPendingRequests: number;

  private stopped = false;
  /** stop() ran (or is running). */
  private closed = false;
  /** Why the driver failed, once it has (see fail). */
  private failure: Error | null = null;
  private readonly clock: NodeClock;
  private readonly faults: DriverTestingFaults;
  private stopTicking: (() => void) | null = null;
  /** When the last tick ran (clock.monotonicMs()), to notice a held event loop. */
  private lastTickAtMs = 0;
  private wake: (() => void) | null = null;
  private loopDone: Promise<void> = Promise.resolve();

  private appliedIndex: number;
  private appliedTerm = 0;
  private lastSnapshotIndex: number;
  private snapshotting = false;
  /** A snapshot being copied in the background: what was applied meanwhile (see maybeSnapshot). */
  private snapshotTracking: { readonly terms: Map<number, number>; confChanged: boolean; invalidated: boolean } | null = null;
  /** The background snapshot, so stop() can wait for it. */
  private snapshotDone: Promise<void> = Promise.resolve();
  /** Size of the latest snapshot, and the entry bytes applied since it (see maybeSnapshot). */
  private lastSnapshotBytes = 0;
  private bytesAppliedSinceSnapshot = 0;
  /** Saving a snapshot file and compacting, or installing one, happen one at a time. */
  private snapshotLock: Promise<void> = Promise.resolve();

  private readonly applyWaiters = new Map<number, ApplyWaiter>();
  private readonly readWaiters = new Map<number, (index: number) => void>();
  private readonly appliedWaiters: { index: number; resolve(): void }[] = [];
  private readonly statusListeners = new Set<(status: NodeStatus) => void>();
  private readonly progressListeners = new Set<() => void>();
  private nextReadContext = 1;
  private pendingRequests = 0;
  /**
   * Snapshot bytes that arrived beside "snap" messages the core took, by term and index,
   * until it asks to install them. A deposed leader's late snapshot that the core refuses
   * is never staged, so it cannot displace the one the core is about to install.
   */
  private readonly stagedSnapshots = new Map<string, { meta: SnapshotMeta; data: SnapshotBytes }>();
  private readonly snapshotsInFlight = new Set<NodeId>();
  /** Proposals forwarded to the leader, one request per event-loop turn. */
  private readonly forwarder: ProposalBatcher;
  private readonly io: NodeIoCounters = { readies: 0, raftWrites: 0, fsyncs: 0, applyBatches: 0, entriesApplied: 0 };
  private readonly proposalLatency = new LatencyHistogram();
  private readonly raftWriteLatency = new LatencyHistogram();
  private leaderChanges = 0;
  /** Per-proposal stage times when CONCORD_TRACE is set (latency breakdowns). */
  private readonly trace: StageTrace;
  /** When this node last lost sight of a leader; null while it knows one. */
  private leaderlessSinceMs: number | null;

  private constructor(options: RaftNodeOptions, raft: Raft, appliedIndex: number, appliedTerm: number, snapshotIndex: number) {
    this.options = options;
    this.id = options.id;
    this.raft = raft;
    this.clock = options.clock ?? systemClock;
    this.faults = options.unsafeTestingFaults ?? {};
    this.leaderlessSinceMs = this.clock.nowMs();
    this.forwarder = new ProposalBatcher((to, request, timeoutMs) => this.options.transport.request(to, request, timeoutMs), this.clock);
    this.logger = options.logger ?? silentLogger;
    this.tickIntervalMs = options.tickIntervalMs ?? 20;
    this.electionTimeoutMs = this.tickIntervalMs * (options.electionTimeoutTicks ?? DEFAULT_ELECTION_TIMEOUT_TICKS);
    this.snapshotEveryEntries = options.snapshotEveryEntries ?? 10_000;
    this.maxPendingRequests = options.maxPendingRequests ?? 8192;
    this.appliedIndex = appliedIndex;
    this.appliedTerm = appliedTerm;
    this.lastSnapshotIndex = snapshotIndex;
    this.trace = stageTrace(options.id);
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
      onSnapshot: (snapshot) => node.receiveSnapshot(snapshot),
      onRequest: (from, payload) => node.serveForwarded(from, payload),
    });
    node.stopTicking = node.clock.every(node.tickIntervalMs, () => node.tick());
    node.loopDone = node.loop().catch((error: unknown) => node.fail(error));
    node.logger.log("info", "node_started", { ...raft.status(), appliedIndex: node.appliedIndex });
    return node;
  }

  // ───────────────────────────── public API ─────────────────────────────

  /** Replicate `data`; resolves with its log index and the state machine's result once applied on the leader. */
  async propose(data: Uint8Array, timeoutMs: number): Promise<Proposed> {
    const startedMs = this.clock.monotonicMs();
    const startedUs = this.trace.enabled ? nowUs() : 0;
    const proposed = (await this.withDeadline(timeoutMs, "proposal", (deadlineAt) => this.submit({ kind: "propose", data }, deadlineAt))) as Proposed;
    this.proposalLatency.observeMs(this.clock.monotonicMs() - startedMs);
    if (this.trace.enabled) {
      // Same stage names as a request over NATS: where the call began and when it returned.
      this.trace.mark("rpc_in", proposed.index, startedUs);
      this.trace.mark("reply", proposed.index);
    }
    return proposed;
  }

  /** Prometheus text: raft position, I/O counters and latency histograms. */
  metricsText(): string {
    const s = this.raft.status();
    const gauge = (name: string, help: string, value: number) => `# HELP ${name} ${help}\n# TYPE ${name} gauge\n${name} ${value}`;
    const counter = (name: string, help: string, value: number) => `# HELP ${name} ${help}\n# TYPE ${name} counter\n${name} ${value}`;
    return [
      gauge("concord_raft_term", "Current raft term.", s.term),
      gauge("concord_raft_is_leader", "1 when this node leads.", s.role === "leader" ? 1 : 0),
      gauge("concord_raft_commit_index", "Highest index known committed.", s.commit),
      gauge("concord_raft_applied_index", "Highest index applied to the state machine.", s.applied),
      gauge("concord_raft_apply_lag_entries", "Committed but not yet applied entries.", s.commit - s.applied),
      gauge("concord_raft_last_index", "Last index in the log.", s.lastIndex),
      gauge("concord_raft_snapshot_index", "Index of the latest snapshot.", s.snapshotIndex),
      counter("concord_raft_leader_changes_total", "Leader changes seen by this node.", this.leaderChanges),
      counter("concord_node_fsyncs_total", "Raft writes made durable with an fsync.", this.options.storage.syncedWrites()),
      counter("concord_node_entries_applied_total", "Entries applied to the state machine.", this.io.entriesApplied),
      this.proposalLatency.render("concord_proposal_latency_seconds", "Time from proposal to applied result, on the proposing node."),
      this.raftWriteLatency.render("concord_raft_write_latency_seconds", "Duration of one durable raft write (fsync included)."),
    ].join("\n") + "\n";
  }

  /**
   * A linearizable read barrier (§6.4): resolves once this node has applied everything
   * committed before the call, so a read of local state that follows is up to date.
   */
  async readBarrier(timeoutMs: number): Promise<number> {
    return this.withDeadline(timeoutMs, "read", async (deadlineAt) => {
      for (;;) {
        this.assertRunning();
        const context = this.nextReadContext++;
        const answered = new Promise<number>((resolve) => this.readWaiters.set(context, resolve));
        const refusal = this.raft.readIndex(context);
        this.notify();
        if (refusal !== null) {
          this.readWaiters.delete(context);
          await this.awaitLeader(deadlineAt);
          continue;
        }
        // The request or its answer may be lost; ask again after an election timeout.
        const index = await orAfter(this.clock, answered, this.electionTimeoutMs, -1);
        this.readWaiters.delete(context);
        if (index < 0) continue;
        await this.awaitApplied(index);
        return index;
      }
    });
  }

  async changeMembership(change: ConfChange, timeoutMs: number): Promise<void> {
    await this.withDeadline(timeoutMs, "membership change", (deadlineAt) => this.submit({ kind: "confChange", change }, deadlineAt));
  }

  /** Add a member as a learner, let it catch up, then promote it if it should vote. */
  async addMember(id: NodeId, voter: boolean, timeoutMs: number): Promise<void> {
    const deadlineAt = this.clock.nowMs() + timeoutMs;
    const conf = this.raft.status().conf;
    this.assertRunning();
    if (!conf.learners.includes(id) && !conf.voters.includes(id)) {
      await this.changeMembership({ type: "addLearner", nodeId: id }, deadlineAt - this.clock.nowMs());
    }
    if (!voter || this.raft.status().conf.voters.includes(id)) return;
    for (;;) {
      try {
        await this.changeMembership({ type: "addVoter", nodeId: id }, deadlineAt - this.clock.nowMs());
        return;
      } catch (error) {
        // Not caught up yet (or a change still pending): wait a little and try again.
        if (!(error instanceof NodeError) || error.code !== "invalid" || this.clock.nowMs() > deadlineAt) throw error;
        await sleepOn(this.clock, this.tickIntervalMs * 5);
      }
    }
  }

  async transferLeadership(to: NodeId, timeoutMs: number): Promise<void> {
    await this.withDeadline(timeoutMs, "leadership transfer", async (deadlineAt) => {
      await this.submit({ kind: "transfer", to }, deadlineAt);
      while (this.raft.softState().leader !== to) {
        this.assertRunning();
        await this.awaitStatusChange(deadlineAt);
      }
    });
  }

  status(): NodeStatus {
    return { ...this.raft.status(), tickIntervalMs: this.tickIntervalMs, io: { ...this.io, fsyncs: this.options.storage.syncedWrites() } };
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
          await this.transferLeadership(best.id, options.timeoutMs ?? 2000);
        } catch (error) {
          this.logger.log("warn", "transfer_on_stop_failed", { to: best.id, error: (error as Error).message });
        }
      }
    }
    this.stopped = true;
    this.stopTicking?.();
    this.notify();
    await this.loopDone;
    await this.snapshotDone;
    await this.options.transport.close();
    await this.options.storage.close();
    // Bytes the core never asked to install.
    await this.releaseStaged(() => true);
    this.trace.close();
    const stopped = new NodeError("stopped", `node ${this.id} stopped`);
    for (const waiter of this.applyWaiters.values()) waiter.reject(stopped);
    this.applyWaiters.clear();
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
    const stopped = new NodeError("stopped", `node ${this.id} failed: ${e.message}`);
    for (const waiter of this.applyWaiters.values()) waiter.reject(stopped);
    this.applyWaiters.clear();
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
    this.raft.tick();
    this.notify();
  }

  private receive(messages: Message[]): void {
    if (this.stopped) return;
    if (this.trace.enabled) this.traceMessages("in", messages);
    try {
      for (const m of messages) {
        // A snapshot arrives only beside its bytes (receiveSnapshot): stepped from a plain
        // batch, the core would give up its log for bytes nobody staged.
        if (m.to === this.id && m.type !== "snap") this.raft.step(m);
      }
    } catch (error) {
      // A core that threw stopped halfway through a message: it must not run on.
      this.fail(error);
      return;
    }
    this.notify();
  }

  private async receiveSnapshot(snapshot: IncomingSnapshot): Promise<void> {
    if (this.stopped) {
      await snapshot.data.release?.();
      return;
    }
    const meta = snapshot.meta;
    const key = snapshotKey(meta);
    const before = this.raft.status();
    if (snapshot.message.term < before.term || meta.index <= before.commit) {
      // The core will not install it (a stale term, or nothing it lacks): no bytes to
      // check or keep, but its answer tells the sender where this node stands.
      await snapshot.data.release?.();
      this.stepSnapshotMessage(snapshot.message);
      return;
    }
    // Torn or corrupt bytes must never reach the core: once it steps the message it has
    // given up its log for this snapshot. Refused, the transfer fails and is sent again.
    try {
      await this.options.stateMachine.verify(meta, snapshot.data);
    } catch (error) {
      this.logger.log("warn", "snapshot_refused", { index: meta.index, term: meta.term, error: (error as Error).message });
      await snapshot.data.release?.();
      throw error;
    }
    if (this.stopped) {
      await snapshot.data.release?.();
      return;
    }
    if (this.faults.stageBeforeCoreChecks === true) {
      // The old bug: whatever arrived last is staged, whether or not the core takes it.
      await this.releaseStaged(() => true);
      this.stagedSnapshots.set(key, { meta, data: snapshot.data });
      this.stepSnapshotMessage(snapshot.message);
      return;
    }
    // Staged only if the core takes it (it then restores its log to the snapshot, and asks
    // to install it in a coming Ready); a stale term, a snapshot behind what the node has,
    // or one whose last entry it already holds is answered without an install.
    const snapshotIndexBefore = this.raft.status().snapshotIndex;
    if (!this.stepSnapshotMessage(snapshot.message)) {
      await snapshot.data.release?.();
      return;
    }
    const taken = snapshotIndexBefore < meta.index && this.raft.status().snapshotIndex === meta.index;
    if (taken) {
      const previous = this.stagedSnapshots.get(key);
      this.stagedSnapshots.set(key, { meta, data: snapshot.data });
      if (previous !== undefined) await previous.data.release?.();
      // Only the newest taken snapshot can still be asked for.
      await this.releaseStaged((staged) => staged.meta.index < meta.index);
    } else {
      await snapshot.data.release?.();
    }
    this.notify();
  }

  /** Step a "snap" message; false (and the node stopped) when the core threw. */
  private stepSnapshotMessage(message: Message): boolean {
    try {
      this.raft.step(message);
    } catch (error) {
      this.fail(error);
      return false;
    }
    this.notify();
    return true;
  }

  /** Release staged snapshots that `which` picks. */
  private async releaseStaged(which: (staged: { meta: SnapshotMeta }) => boolean): Promise<void> {
    for (const [key, staged] of [...this.stagedSnapshots]) {
      if (!which(staged)) continue;
      this.stagedSnapshots.delete(key);
      await staged.data.release?.();
    }
  }

  /**
   * A request over the rpc subject. From a member (a follower forwarding), only the
   * leader serves it. From a client (id 0, not a member) any node serves it, forwarding
   * one hop to the leader, so a client never needs to know who leads.
   */
  private async serveForwarded(from: NodeId, payload: Uint8Array): Promise<Uint8Array> {
    const receivedUs = this.trace.enabled ? nowUs() : 0;
    const request = decodeForwardedRequest(payload);
    const fromClient = from === NONE;
    let reply: ForwardedReply;
    if (request === null) {
      reply = { ok: false, code: "invalid", message: "unreadable forwarded request" };
    } else if (!fromClient && this.raft.softState().role !== "leader") {
      reply = { ok: false, code: "not_leader", message: `node ${this.id} is not the leader` };
    } else if (request.kind === "proposeBatch") {
      // Each proposal succeeds or fails on its own, as if it had come alone.
      const replies = await Promise.all(request.data.map((data) => this.serveOne(fromClient, { kind: "propose", data })));
      reply = { ok: true, result: replies };
    } else {
      reply = await this.serveOne(fromClient, request);
    }
    if (this.trace.enabled && reply.ok && request?.kind === "propose") {
      const index = (reply.result as Proposed | null)?.index ?? 0;
      this.trace.mark("rpc_in", index, receivedUs);
      this.trace.mark("reply", index);
    }
    return encodeForwardedReply(reply);
  }

  private async serveOne(fromClient: boolean, request: Exclude<ForwardedRequest, { kind: "proposeBatch" }>): Promise<ForwardedReply> {
    try {
      // The caller waits with its own deadline; ours bounds the work here.
      const result = await this.withDeadline(5000, "forwarded request", (deadlineAt) =>
        fromClient ? this.submit(request, deadlineAt) : this.submitLocally(request, deadlineAt),
      );
      return { ok: true, result: result ?? null };
    } catch (error) {
      const e = error instanceof NodeError ? error : new NodeError("unavailable", (error as Error).message);
      return { ok: false, code: e.code, message: e.message };
    }
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
    if (ready.snapshot !== null) await this.installSnapshot(ready.snapshot);
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
    // 3. Apply.
    if (ready.committedEntries.length > 0) {
      const first = ready.committedEntries[0]!;
      assert(first.index === this.appliedIndex + 1, () => `committed entries start at ${first.index}, after applied ${this.appliedIndex}`);
      const applyStartedMs = this.clock.monotonicMs();
      const results = await this.options.stateMachine.apply(ready.committedEntries);
      this.warnIfSlow("apply", this.clock.monotonicMs() - applyStartedMs, ready.committedEntries.length);
      this.io.applyBatches++;
      this.io.entriesApplied += ready.committedEntries.length;
      for (let i = 0; i < ready.committedEntries.length; i++) {
        const entry = ready.committedEntries[i]!;
        const waiter = this.applyWaiters.get(entry.index);
        if (waiter === undefined) continue;
        this.applyWaiters.delete(entry.index);
        if (waiter.term === entry.term) waiter.resolve({ index: entry.index, result: results[i] } satisfies Proposed);
        else waiter.reject(new NodeError("dropped", `entry ${entry.index} was replaced by a new leader's`));
      }
      const last = ready.committedEntries[ready.committedEntries.length - 1]!;
      for (const entry of ready.committedEntries) this.bytesAppliedSinceSnapshot += entry.data.length;
      const tracking = this.snapshotTracking;
      if (tracking !== null) {
        for (const entry of ready.committedEntries) {
          tracking.terms.set(entry.index, entry.term);
          if (entry.kind === "conf") tracking.confChanged = true;
        }
      }
      if (trace !== null) trace.mark("applied", last.index);
      this.appliedIndex = last.index;
      this.appliedTerm = last.term;
      this.options.afterApply?.(ready.committedEntries, results);
    }
    for (const read of ready.readStates) this.readWaiters.get(read.context)?.(read.index);
    this.raft.advance();
    this.releaseAppliedWaiters();
    if (ready.softState !== null) this.announceStatus(ready.softState.role, ready.softState.leader);
    for (const listener of this.progressListeners) listener();
    this.maybeSnapshot();
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
      if (m.type === "snap") void this.sendSnapshot(m);
      else (plain ??= []).push(m);
    }
    if (plain !== null) {
      this.options.transport.send(plain);
      this.options.transport.flush();
    }
  }

  private async sendSnapshot(m: Message): Promise<void> {
    const meta = m.snapshot;
    if (meta === null || this.snapshotsInFlight.has(m.to)) return;
    this.snapshotsInFlight.add(m.to);
    try {
      const data = await this.options.snapshots.load(meta.index);
      if (data === null) {
        this.logger.log("error", "snapshot_bytes_missing", { index: meta.index, to: m.to });
        return;
      }
      this.logger.log("info", "snapshot_send", { to: m.to, index: meta.index, bytes: data.size });
      await this.options.transport.sendSnapshot(m.to, m, data);
    } catch (error) {
      // The core resends after its snapshot timeout.
      this.logger.log("warn", "snapshot_send_failed", { to: m.to, error: (error as Error).message });
    } finally {
      this.snapshotsInFlight.delete(m.to);
    }
  }

  private async installSnapshot(meta: SnapshotMeta): Promise<void> {
    const key = snapshotKey(meta);
    const staged = this.stagedSnapshots.get(key);
    // The core asks only for a snapshot it accepted from a "snap" message, whose bytes
    // were staged then: anything else is a driver bug.
    assert(staged !== undefined, () => `snapshot ${key} to install has no staged bytes (staged: ${[...this.stagedSnapshots.keys()].join(", ") || "none"})`);
    this.stagedSnapshots.delete(key);
    // A state copy running now reflects the state from before the install (or a mix of
    // both): its configuration is not the one this snapshot brings. Drop it.
    if (this.snapshotTracking !== null && this.faults.keepCopyAcrossInstall !== true) this.snapshotTracking.invalidated = true;
    await this.withSnapshotLock(async () => {
      // Keep the bytes first (as a leader later, we may need to send them on); the store
      // may move them, so the state is restored from what it kept.
      const kept = await this.options.snapshots.save(meta, staged.data);
      await this.options.stateMachine.restore(meta, kept);
      assert(meta.index > this.appliedIndex, () => `installed snapshot ${key} is not ahead of applied ${this.appliedIndex}`);
      // The restore moved the log's snapshot record in its own durable transaction: the
      // bytes of older snapshots can go (a follower that keeps falling behind would
      // otherwise keep one state-sized file per install).
      await this.options.snapshots.prune(meta.index);
      this.appliedIndex = meta.index;
      this.appliedTerm = meta.term;
      this.lastSnapshotIndex = meta.index;
      this.lastSnapshotBytes = kept.size;
      this.bytesAppliedSinceSnapshot = 0;
    });
    // Older ones can never be asked for now.
    await this.releaseStaged((other) => other.meta.index <= meta.index);
    this.logger.log("info", "snapshot_installed", { index: meta.index, bytes: staged.data.size });
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

  private withSnapshotLock(body: () => Promise<void>): Promise<void> {
    const run = this.snapshotLock.then(body);
    this.snapshotLock = run.catch(() => {});
    return run;
  }

  /**
   * Take a snapshot every `snapshotEveryEntries` applied entries, in the background: the
   * state machine copies its state off the event loop (seconds, for a large state), and
   * the driver keeps ticking, replicating and applying meanwhile — a node that stopped for
   * the copy would miss heartbeats and cause elections. The copy reflects some index at
   * or after the one applied when it started; its term is recorded as entries are applied
   * meanwhile. A configuration change applied meanwhile makes the snapshot's
   * configuration uncertain, so that copy is dropped and the next trigger tries again.
   */
  private maybeSnapshot(): void {
    if (this.snapshotting || this.stopped || this.appliedIndex - this.lastSnapshotIndex < this.snapshotEveryEntries) return;
    // Each snapshot copies the whole state, so with a large state a fixed entry count
    // would spend most of the machine copying (100 MB every 10,000 messages). Waiting
    // until the log since the last snapshot is a fraction of the state keeps the copying
    // proportional to the writes, at the price of a longer log to keep and replay.
    if (this.bytesAppliedSinceSnapshot < this.lastSnapshotBytes * SNAPSHOT_LOG_TO_STATE_RATIO) return;
    this.snapshotting = true;
    const bytesAtStart = this.bytesAppliedSinceSnapshot;
    // Between advance() and the next ready(): applied index, term and configuration agree.
    const tracking = { terms: new Map([[this.appliedIndex, this.appliedTerm]]), confChanged: false, invalidated: false };
    const conf = this.raft.status().conf;
    this.snapshotTracking = tracking;
    const startedMs = this.clock.monotonicMs();
    this.snapshotDone = (async () => {
      try {
        const { index, data } = await this.options.stateMachine.snapshot();
        try {
          const term = tracking.terms.get(index);
          if (term === undefined || tracking.confChanged || tracking.invalidated) {
            const reason = term === undefined ? "unknown term" : tracking.confChanged ? "configuration changed during the copy" : "a snapshot was installed during the copy";
            this.logger.log("info", "snapshot_dropped", { index, reason });
            return;
          }
          const meta: SnapshotMeta = { index, term, conf };
          await this.withSnapshotLock(async () => {
            // A snapshot installed from the leader meanwhile is newer: keep it.
            if (index <= this.lastSnapshotIndex || this.stopped) return;
            const previousIndex = this.lastSnapshotIndex;
            if (this.faults.dropOldSnapshotBeforeCompact === true) await this.options.snapshots.prune(index + 1);
            await this.options.snapshots.save(meta, data);
            // The core checks the snapshot against its log (the term at its index) before
            // the durable log is compacted to it: a wrong term must stop the node, never
            // reach the disk.
            // (The old bug compacted the durable log first: re-created with the old term bug.)
            if (this.faults.snapshotTermFromLastSnapshot === true) await this.options.storage.compact(meta);
            try {
              this.raft.compact(meta);
            } catch (error) {
              this.fail(error);
              return;
            }
            if (this.faults.snapshotTermFromLastSnapshot !== true) await this.options.storage.compact(meta);
            this.lastSnapshotIndex = index;
            // Only now does the log's snapshot record point at the new bytes: until then a
            // crash restarts from the previous ones, which must still be there.
            if (previousIndex !== index) await this.options.snapshots.prune(index);
            this.lastSnapshotBytes = data.size;
            this.bytesAppliedSinceSnapshot -= bytesAtStart;
            this.logger.log("info", "snapshot_taken", { index, bytes: data.size, ms: Math.round(this.clock.monotonicMs() - startedMs) });
          });
        } finally {
          // Kept (moved into the store, so this frees nothing) or not wanted.
          await data.release?.();
        }
      } catch (error) {
        this.logger.log("warn", "snapshot_failed", { error: (error as Error).message });
      } finally {
        this.snapshotTracking = null;
        this.snapshotting = false;
      }
    })();
  }

  // ──────────────────────────── requests ────────────────────────────

  /** Run `request` on the leader: here, or forwarded. Retries only what surely did not happen. */
  private async submit(request: Exclude<ForwardedRequest, { kind: "proposeBatch" }>, deadlineAt: number): Promise<unknown> {
    for (;;) {
      this.assertRunning();
      const status = this.raft.softState();
      if (status.role === "leader") {
        try {
          return await this.submitLocally(request, deadlineAt);
        } catch (error) {
          if (error instanceof NodeError && error.code === "not_leader") {
            await this.awaitStatusChange(deadlineAt);
            continue;
          }
          throw error;
        }
      }
      if (status.leader === NONE) {
        await this.awaitLeader(deadlineAt);
        continue;
      }
      const remainingMs = deadlineAt - this.clock.nowMs();
      if (remainingMs <= 0) throw unavailable("no answer from the leader");
      let reply: ForwardedReply;
      const leaderGone = this.whenLeaderChanges(status.leader);
      try {
        const forwarded =
          request.kind === "propose"
            ? this.forwarder.propose(status.leader, request.data, deadlineAt)
            : this.options.transport.request(status.leader, encodeForwardedRequest(request), remainingMs).then(decodeForwardedReply);
        reply = await Promise.race([forwarded, leaderGone.promise]);
      } catch (error) {
        if (error instanceof TransportError && error.code === "no_responder") {
          // Nobody received it (the leader is gone): safe to retry once a new leader is
          // known, within our deadline, rather than fail the caller during an election.
          await this.awaitStatusChange(deadlineAt).catch(() => {});
          continue;
        }
        // The outcome is unknown: the leader may have committed it. Do not retry.
        throw new NodeError("unavailable", `leader ${status.leader} did not answer: ${(error as Error).message}`);
      } finally {
        leaderGone.cancel();
      }
      if (reply.ok) return reply.result;
      if (reply.code === "not_leader") {
        await this.awaitStatusChange(Math.min(deadlineAt, this.clock.nowMs() + this.tickIntervalMs * 5));
        continue;
      }
      throw new NodeError(reply.code, reply.message);
    }
  }

  /**
   * Rejects once this node stops following `leader` (it died, or lost an election): a
   * request forwarded to it will likely get no answer, and waiting for the caller's
   * deadline would hold the client seconds after a failover. The outcome stays unknown
   * (503; the client's retry with the same idempotency key is safe).
   */
  private whenLeaderChanges(leader: NodeId): { promise: Promise<never>; cancel(): void } {
    let unsubscribe = (): void => {};
    const promise = new Promise<never>((_, reject) => {
      unsubscribe = this.onStatusChange(() => {
        if (this.raft.softState().leader === leader) return;
        unsubscribe();
        reject(new NodeError("unavailable", `leader ${leader} changed while a request to it was in flight; it may or may not have been applied`));
      });
    });
    promise.catch(() => {});
    return { promise, cancel: () => unsubscribe() };
  }

  private async submitLocally(request: Exclude<ForwardedRequest, { kind: "proposeBatch" }>, deadlineAt: number): Promise<unknown> {
    let outcome: { index: number; term: number } | RaftError | null;
    switch (request.kind) {
      case "propose": {
        const stamp = this.options.stampProposal;
        outcome = this.raft.propose(stamp === undefined ? request.data : stamp(request.data, this.clock.nowMs()));
        break;
      }
      case "confChange":
        outcome = this.raft.proposeConfChange(request.change);
        break;
      case "transfer":
        outcome = this.raft.transferLeader(request.to);
        this.notify();
        if (outcome === null) return null;
        break;
    }
    if (outcome instanceof RaftError) throw fromRaftError(outcome);
    const { index, term } = outcome;
    if (this.trace.enabled) this.trace.mark("proposed", index);
    const applied = new Promise<unknown>((resolve, reject) => this.applyWaiters.set(index, { term, resolve, reject }));
    this.notify();
    // The caller's deadline bounds the wait; the waiter goes when its index is applied.
    return applied;
  }

  // ──────────────────────────── waiting ────────────────────────────

  private async withDeadline<T>(timeoutMs: number, what: string, body: (deadlineAt: number) => Promise<T>): Promise<T> {
    this.assertRunning();
    if (this.pendingRequests >= this.maxPendingRequests) {
      throw new NodeError("overloaded", `${this.pendingRequests} requests are waiting on node ${this.id}`);
    }
    this.pendingRequests++;
    const deadlineAt = this.clock.nowMs() + timeoutMs;
    const deadline = deadlineAfter(this.clock, timeoutMs, what);
    try {
      return await Promise.race([body(deadlineAt), deadline.promise]);
    } finally {
      deadline.cancel();
      this.pendingRequests--;
    }
  }

  private awaitApplied(index: number): Promise<void> {
    if (this.appliedIndex >= index) return Promise.resolve();
    return new Promise((resolve) => this.appliedWaiters.push({ index, resolve }));
  }

  private releaseAppliedWaiters(): void {
    if (this.appliedWaiters.length === 0) return;
    let kept = 0;
    for (const waiter of this.appliedWaiters) {
      if (waiter.index <= this.appliedIndex) waiter.resolve();
      else this.appliedWaiters[kept++] = waiter;
    }
    this.appliedWaiters.length = kept;
  }

  /**
   * Wait for a leader, but fail fast once none has been known for two election timeouts:
   * an election that takes that long is not going to succeed soon (no quorum reachable),
   * and a client is better served by a 503 now than by one at its deadline.
   */
  private async awaitLeader(deadlineAt: number): Promise<void> {
    const failFastAfterMs = 2 * this.electionTimeoutMs;
    while (this.raft.softState().leader === NONE) {
      this.assertRunning();
      const leaderlessMs = this.leaderlessSinceMs === null ? 0 : this.clock.nowMs() - this.leaderlessSinceMs;
      if (leaderlessMs > failFastAfterMs) throw unavailable(`no leader for ${leaderlessMs} ms: a quorum is not reachable`);
      // Wake up when the fail-fast point passes, even if nothing changes.
      await this.awaitStatusChange(Math.min(deadlineAt, this.clock.nowMs() + failFastAfterMs - leaderlessMs + 1)).catch((error: unknown) => {
        if (this.clock.nowMs() >= deadlineAt) throw error;
      });
    }
  }

  private awaitStatusChange(deadlineAt: number): Promise<void> {
    const remainingMs = deadlineAt - this.clock.nowMs();
    if (remainingMs <= 0) return Promise.reject(unavailable("no leader"));
    return new Promise((resolve, reject) => {
      const cancelTimer = this.clock.after(remainingMs, () => {
        unsubscribe();
        reject(unavailable("no leader"));
      });
      const unsubscribe = this.onStatusChange(() => {
        cancelTimer();
        unsubscribe();
        resolve();
      });
    });
  }

  private announceStatus(role: string, leader: NodeId): void {
    this.leaderChanges++;
    if (leader === NONE) this.leaderlessSinceMs ??= this.clock.nowMs();
    else this.leaderlessSinceMs = null;
    if (role !== "leader" && this.applyWaiters.size > 0) {
      // A deposed leader cannot tell whether its pending entries will commit under the
      // next one: answer now (503, outcome unknown; a retry with the same idempotency key
      // is safe) rather than hold the caller until its deadline.
      const lost = new NodeError("unavailable", `node ${this.id} lost leadership; the write may or may not have committed`);
      for (const waiter of this.applyWaiters.values()) waiter.reject(lost);
      this.applyWaiters.clear();
    }
    this.logger.log("info", "role_changed", { id: this.id, role, leader, term: this.raft.status().term });
    const status = this.status();
    for (const listener of [...this.statusListeners]) listener(status);
  }

  private assertRunning(): void {
    if (this.stopped) throw new NodeError("stopped", `node ${this.id} is stopped`);
  }
}

/** A broken driver invariant: stop at once (TigerBeetle style), never limp on. */
function assert(condition: boolean, message: () => string): asserts condition {
  if (!condition) throw new Error(`driver invariant broken: ${message()}`);
}

function snapshotKey(meta: SnapshotMeta): string {
  return `${meta.term}/${meta.index}`;
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

function fromRaftError(error: RaftError): NodeError {
  switch (error.code) {
    case "not_leader":
    case "transfer_in_progress":
      return new NodeError("not_leader", error.message);
    case "no_leader":
      return new NodeError("unavailable", error.message);
    case "uncommitted_limit":
      return new NodeError("overloaded", error.message);
    case "conf_change_pending":
    case "invalid_conf_change":
    case "learner_not_caught_up":
      return new NodeError("invalid", error.message);
  }
}

function unavailable(what: string): NodeError {
  return new NodeError("unavailable", `unavailable: ${what}`);
}

function deadlineAfter(clock: NodeClock, timeoutMs: number, what: string): Deadline {
  let cancel = (): void => {};
  const promise = new Promise<never>((_, reject) => {
    cancel = clock.after(Math.max(0, timeoutMs), () => reject(unavailable(`${what} did not complete within ${timeoutMs} ms`)));
  });
  return { promise, cancel: () => cancel() };
}

/** `promise`'s value, or `fallback` after `ms`; the timer is cancelled either way. */
async function orAfter<T>(clock: NodeClock, promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  let cancel = (): void => {};
  const fallbackAfter = new Promise<T>((resolve) => (cancel = clock.after(ms, () => resolve(fallback))));
  try {
    return await Promise.race([promise, fallbackAfter]);
  } finally {
    cancel();
  }
}
