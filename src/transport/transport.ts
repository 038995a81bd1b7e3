import type { Message, NodeId, SnapshotBytes, SnapshotMeta } from "../raft/types.ts";

/** A snapshot's bytes with the raft message that announced them. */
export interface IncomingSnapshot {
  /** The "snap" message to step into the core once the bytes are staged. */
  readonly message: Message;
  readonly meta: SnapshotMeta;
  /** Assembled where TransportTuning.openSnapshotSink put it; the handler owns (and releases) it. */
  readonly data: SnapshotBytes;
}

export interface TransportHandlers {
  /** A batch of raft messages addressed to this node (may be duplicated, reordered or lost). */
  onMessages(messages: Message[]): void;
  /** A complete snapshot arrived; resolve once it is staged (the sender waits for that). */
  onSnapshot(snapshot: IncomingSnapshot): Promise<void>;
  /** A follower forwards a request (a proposal, a read-index): answer with bytes. */
  onRequest(from: NodeId, payload: Uint8Array): Promise<Uint8Array>;
}

/**
 * How raft traffic moves between nodes. Narrow on purpose: raft tolerates loss,
 * duplication and reordering, so `send` is fire-and-forget.
 */
export interface Transport {
  readonly nodeId: NodeId;
  start(handlers: TransportHandlers): Promise<void>;
  /** Queue messages; all queued for one peer leave as one batch at the next flush. */
  send(messages: readonly Message[]): void;
  flush(): void;
  /** Ship a snapshot in chunks, a bounded number in flight; resolves when the receiver staged it. */
  sendSnapshot(to: NodeId, message: Message, data: SnapshotBytes): Promise<void>;
  /** Request/reply to one peer; rejects with TransportError on timeout or no responder. */
  request(to: NodeId, payload: Uint8Array, timeoutMs: number): Promise<Uint8Array>;
  close(): Promise<void>;
}
