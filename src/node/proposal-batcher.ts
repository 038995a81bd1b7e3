import type { NodeId } from "../raft/types.ts";
import { systemClock, type NodeClock } from "./node-clock.ts";
import { decodeForwardedReply, encodeForwardedRequest, type ForwardedReply, type ForwardedRequest } from "./forwarding.ts";

/** Sends an encoded ForwardedRequest to a node and resolves with the reply's bytes. */
export type ForwardedExchange = (to: NodeId, request: Uint8Array, timeoutMs: number) => Promise<Uint8Array>;

interface Pending {
  readonly data: Uint8Array;
  readonly deadlineAt: number;
  resolve(reply: ForwardedReply): void;
  reject(error: unknown): void;
}

/**
 * Proposals for one node made in the same event-loop turn travel as one request, and
 * their answers as one reply: a round trip each was most of what forwarding cost (a
 * follower forwarding to its leader, a client of the node API). Each proposal still
 * succeeds or fails on its own. The turn bounds a batch: nothing waits for more to come.
 */
export class ProposalBatcher {
  private readonly pending = new Map<NodeId, Pending[]>();

  constructor(
    private readonly exchange: ForwardedExchange,
    private readonly clock: NodeClock = systemClock,
  ) {}

  /** Rejects as the exchange would, for the whole batch (the outcome is then unknown). */
  propose(to: NodeId, data: Uint8Array, deadlineAt: number): Promise<ForwardedReply> {
    return new Promise((resolve, reject) => {
      let batch = this.pending.get(to);
      if (batch === undefined) {
        batch = [];
        this.pending.set(to, batch);
        void this.clock.nextTurn().then(() => this.flush(to));
      }
      batch.push({ data, deadlineAt, resolve, reject });
    });
  }

  private async flush(to: NodeId): Promise<void> {
    const batch = this.pending.get(to) ?? [];
    this.pending.delete(to);
    if (batch.length === 0) return;
    let latestDeadline = 0;
    for (const item of batch) latestDeadline = Math.max(latestDeadline, item.deadlineAt);
    const timeoutMs = Math.max(1, latestDeadline - this.clock.nowMs());
    const request: ForwardedRequest = batch.length === 1 ? { kind: "propose", data: batch[0]!.data } : { kind: "proposeBatch", data: batch.map((item) => item.data) };
    let reply: ForwardedReply;
    try {
      reply = decodeForwardedReply(await this.exchange(to, encodeForwardedRequest(request), timeoutMs));
    } catch (error) {
      for (const item of batch) item.reject(error);
      return;
    }
    if (batch.length === 1 || !reply.ok) {
      for (const item of batch) item.resolve(reply);
      return;
    }
    const replies = reply.result as ForwardedReply[];
    batch.forEach((item, i) => item.resolve(replies[i] ?? { ok: false, code: "unavailable", message: "the reply lacks this proposal" }));
  }
}
