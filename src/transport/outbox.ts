import type { Message, NodeId } from "../raft/types.ts";

/**
 * Messages queued per peer between `send` and `flush`. Bounded: a driver that keeps
 * sending without flushing (or a peer list gone wrong) must not grow memory without
 * limit, and raft recovers from the loss, so past the bound new messages are dropped.
 */
export class Outbox {
  private queues = new Map<NodeId, Message[]>();
  private queued = 0;

  constructor(private readonly maxQueuedMessages: number) {
    if (!(maxQueuedMessages >= 1)) throw new RangeError(`maxQueuedMessages must be >= 1, got ${maxQueuedMessages}`);
  }

  /** Queue `messages`; returns how many were dropped because the outbox is full. */
  add(messages: readonly Message[]): number {
    let dropped = 0;
    for (const m of messages) {
      if (this.queued >= this.maxQueuedMessages) {
        dropped++;
        continue;
      }
      let queue = this.queues.get(m.to);
      if (queue === undefined) {
        queue = [];
        this.queues.set(m.to, queue);
      }
      queue.push(m);
      this.queued++;
    }
    return dropped;
  }

  /** Everything queued, grouped by destination in send order; the outbox is left empty. */
  take(): Map<NodeId, Message[]> {
    const out = this.queues;
    this.queues = new Map();
    this.queued = 0;
    return out;
  }

  clear(): void {
    this.queues.clear();
    this.queued = 0;
  }
}
