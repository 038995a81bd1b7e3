import { RaftError, type Raft } from "../raft/raft.ts";
import { NONE, type ConfChange, type Entry, type NodeId, type ReadState } from "../raft/types.ts";
import { TransportError } from "../transport/transport-error.ts";
import type { Transport } from "../transport/transport.ts";
import {
  decodeForwardedReply,
  decodeForwardedRequest,
  encodeForwardedReply,
  encodeForwardedRequest,
  type ForwardedReply,
  type ForwardedRequest,
} from "./forwarding.ts";
import { LatencyHistogram } from "./latency-histogram.ts";
import { sleepOn, type NodeClock } from "./node-clock.ts";
import { NodeError } from "./node-error.ts";
import { ProposalBatcher } from "./proposal-batcher.ts";
import { nowUs, type StageTrace } from "./stage-trace.ts";

/** Where a proposal landed in the log, and what applying it returned. */
export interface Proposed {
  readonly index: number;
  readonly result: unknown;
}

/** One request on its way to the leader (a batch is split into these on arrival). */
type SingleRequest = Exclude<ForwardedRequest, { kind: "proposeBatch" }>;

interface ApplyWaiter {
  term: number;
  resolve(result: unknown): void;
  reject(error: NodeError): void;
}

interface Deadline {
  readonly promise: Promise<never>;
  cancel(): void;
}

/** What the router needs from the Ready loop that owns it. */
export interface RequestLoop {
  isStopped(): boolean;
  appliedIndex(): number;
  /** The core may have something new in its Ready. */
  notify(): void;
  /** Called on every role or leader change; returns an unsubscribe function. */
  onStatusChange(listener: () => void): () => void;
}

export interface RequestRouterOptions {
  readonly id: NodeId;
  readonly raft: Raft;
  readonly transport: Transport;
  readonly clock: NodeClock;
  readonly trace: StageTrace;
  readonly tickIntervalMs: number;
  /**
   * Where this process's read contexts start: at random, not 1. A leader may still hold a
   * read index asked by this node's previous process in the same term, and its answer to
   * a reused context would hand a new read that older, lower index.
   */
  readonly firstReadContext: number;
  /** The election timeout (its low end) in milliseconds. */
  readonly electionTimeoutMs: number;
  /** Bound on proposals and reads waiting for an answer on this node. */
  readonly maxPendingRequests: number;
  /** Applied on the leader to every proposal before it enters the log. */
  readonly stampProposal: ((payload: Uint8Array, leaderTimeMs: number) => Uint8Array) | undefined;
  readonly loop: RequestLoop;
}

/**
 * Requests into the log and their answers: proposals, membership changes and leadership
 * transfers run on the leader, here or forwarded to it (and served here when forwarded
 * to us); read barriers wait for a read index and its application. Everything that
 * waits has a deadline, and only what surely did not happen is retried.
 *
 * The loop tells it, at fixed points of each Ready, what was applied (applied), which
 * reads were answered (readStates), how far the state machine got
 * (releaseAppliedWaiters) and when the leader changed (leaderChanged).
 */
export class RequestRouter {
  private readonly raft: Raft;
  private readonly options: RequestRouterOptions;
  private readonly loop: RequestLoop;
  private readonly clock: NodeClock;
  private readonly trace: StageTrace;

  private readonly applyWaiters = new Map<number, ApplyWaiter>();
  private readonly readWaiters = new Map<number, (index: number) => void>();
  private readonly appliedWaiters: { index: number; resolve(): void }[] = [];
  private nextReadContext: number;
  private pendingRequests = 0;
  /** Proposals forwarded to the leader, one request per event-loop turn. */
  private readonly forwarder: ProposalBatcher;
  /** When this node last lost sight of a leader; null while it knows one. */
  private leaderlessSinceMs: number | null;
  readonly proposalLatency = new LatencyHistogram();

  constructor(options: RequestRouterOptions) {
    this.options = options;
    this.raft = options.raft;
    this.loop = options.loop;
    this.clock = options.clock;
    this.trace = options.trace;
    this.leaderlessSinceMs = this.clock.nowMs();
    this.nextReadContext = options.firstReadContext;
    this.forwarder = new ProposalBatcher((to, request, timeoutMs) => this.options.transport.request(to, request, timeoutMs), this.clock);
  }

  // ───────────────────────────── requests ─────────────────────────────

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
        this.loop.notify();
        if (refusal !== null) {
          this.readWaiters.delete(context);
          await this.awaitLeader(deadlineAt);
          continue;
        }
        // The request or its answer may be lost; ask again after an election timeout.
        const index = await orAfter(this.clock, answered, this.options.electionTimeoutMs, -1);
        this.readWaiters.delete(context);
        if (index < 0) continue;
        await this.awaitApplied(index);
        return index;
      }
    });
  }

  /** Wait, locally, until the state machine has applied every entry the core has handed out. */
  async applyHeld(timeoutMs: number): Promise<void> {
    await this.withDeadline(timeoutMs, "apply", () => this.awaitApplied(this.raft.status().applied));
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
        await sleepOn(this.clock, this.options.tickIntervalMs * 5);
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

  /**
   * A request over the rpc subject (the transport's onRequest). From a member (a follower
   * forwarding), only the leader serves it. From a client (id 0, not a member) any node
   * serves it, forwarding one hop to the leader, so a client never needs to know who leads.
   */
  async serve(from: NodeId, payload: Uint8Array): Promise<Uint8Array> {
    const receivedUs = this.trace.enabled ? nowUs() : 0;
    const request = decodeForwardedRequest(payload);
    const fromClient = from === NONE;
    let reply: ForwardedReply;
    if (request === null) {
      reply = { ok: false, code: "invalid", message: "unreadable forwarded request" };
    } else if (!fromClient && this.raft.softState().role !== "leader") {
      reply = { ok: false, code: "not_leader", message: `node ${this.options.id} is not the leader` };
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

  private async serveOne(fromClient: boolean, request: SingleRequest): Promise<ForwardedReply> {
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

  /** Run `request` on the leader: here, or forwarded. Retries only what surely did not happen. */
  private async submit(request: SingleRequest, deadlineAt: number): Promise<unknown> {
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
        await this.awaitStatusChange(Math.min(deadlineAt, this.clock.nowMs() + this.options.tickIntervalMs * 5));
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
      unsubscribe = this.loop.onStatusChange(() => {
        if (this.raft.softState().leader === leader) return;
        unsubscribe();
        reject(new NodeError("unavailable", `leader ${leader} changed while a request to it was in flight; it may or may not have been applied`));
      });
    });
    promise.catch(() => {});
    return { promise, cancel: () => unsubscribe() };
  }

  private async submitLocally(request: SingleRequest, deadlineAt: number): Promise<unknown> {
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
        this.loop.notify();
        if (outcome === null) return null;
        break;
    }
    if (outcome instanceof RaftError) throw fromRaftError(outcome);
    const { index, term } = outcome;
    if (this.trace.enabled) this.trace.mark("proposed", index);
    const applied = new Promise<unknown>((resolve, reject) => this.applyWaiters.set(index, { term, resolve, reject }));
    this.loop.notify();
    // The caller's deadline bounds the wait; the waiter goes when its index is applied.
    return applied;
  }

  // ───────────────────────────── from the loop ─────────────────────────────

  /** Entries just applied, with the state machine's results: answer their proposers. */
  applied(entries: readonly Entry[], results: readonly unknown[]): void {
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i]!;
      const waiter = this.applyWaiters.get(entry.index);
      if (waiter === undefined) continue;
      this.applyWaiters.delete(entry.index);
      if (waiter.term === entry.term) waiter.resolve({ index: entry.index, result: results[i] } satisfies Proposed);
      else waiter.reject(new NodeError("dropped", `entry ${entry.index} was replaced by a new leader's`));
    }
  }

  /** Read indexes the core answered. */
  readStates(reads: readonly ReadState[]): void {
    for (const read of reads) this.readWaiters.get(read.context)?.(read.index);
  }

  /** The state machine reached `appliedIndex`: release reads waiting for it. */
  releaseAppliedWaiters(appliedIndex: number): void {
    if (this.appliedWaiters.length === 0) return;
    let kept = 0;
    for (const waiter of this.appliedWaiters) {
      if (waiter.index <= appliedIndex) waiter.resolve();
      else this.appliedWaiters[kept++] = waiter;
    }
    this.appliedWaiters.length = kept;
  }

  /** The role or leader changed (a Ready's soft state). */
  leaderChanged(role: string, leader: NodeId): void {
    if (leader === NONE) this.leaderlessSinceMs ??= this.clock.nowMs();
    else this.leaderlessSinceMs = null;
    if (role !== "leader" && this.applyWaiters.size > 0) {
      // A deposed leader cannot tell whether its pending entries will commit under the
      // next one: answer now (503, outcome unknown; a retry with the same idempotency key
      // is safe) rather than hold the caller until its deadline.
      this.rejectProposals(new NodeError("unavailable", `node ${this.options.id} lost leadership; the write may or may not have committed`));
    }
  }

  /** Answer every proposal waiting to be applied with `error` (leadership lost, or the node stopped). */
  rejectProposals(error: NodeError): void {
    for (const waiter of this.applyWaiters.values()) waiter.reject(error);
    this.applyWaiters.clear();
  }

  // ───────────────────────────── waiting ─────────────────────────────

  private async withDeadline<T>(timeoutMs: number, what: string, body: (deadlineAt: number) => Promise<T>): Promise<T> {
    this.assertRunning();
    if (this.pendingRequests >= this.options.maxPendingRequests) {
      throw new NodeError("overloaded", `${this.pendingRequests} requests are waiting on node ${this.options.id}`);
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
    if (this.loop.appliedIndex() >= index) return Promise.resolve();
    return new Promise((resolve) => {
      this.appliedWaiters.push({ index, resolve });
      // A follower may hold the entries back for a larger batch: somebody waits for them now.
      this.loop.notify();
    });
  }

  /** Somebody on this node waits for entries to be applied: a read barrier, or a proposal made here. */
  waitsForApply(): boolean {
    return this.appliedWaiters.length > 0 || this.applyWaiters.size > 0;
  }

  /**
   * Wait for a leader, but fail fast once none has been known for two election timeouts:
   * an election that takes that long is not going to succeed soon (no quorum reachable),
   * and a client is better served by a 503 now than by one at its deadline.
   */
  private async awaitLeader(deadlineAt: number): Promise<void> {
    const failFastAfterMs = 2 * this.options.electionTimeoutMs;
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
      const unsubscribe = this.loop.onStatusChange(() => {
        cancelTimer();
        unsubscribe();
        resolve();
      });
    });
  }

  private assertRunning(): void {
    if (this.loop.isStopped()) throw new NodeError("stopped", `node ${this.options.id} is stopped`);
  }
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
