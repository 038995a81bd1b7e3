import type { NodeId, SnapshotSink } from "../raft/types.ts";
import { type SnapshotAck, type SnapshotChunk, decodeSnapshotChunk, encodeSnapshotAck } from "./codec.ts";
import { errorMessage, silentLogger, type Logger } from "./log.ts";
import type { TransportErrorCode } from "./transport-error.ts";
import type { IncomingSnapshot } from "./transport.ts";

export interface SnapshotReceiverOptions {
  /** A snapshot announced as larger is refused before any memory is taken for it. */
  readonly maxSnapshotBytes: number;
  /** Senders assembling at once; more are refused until one finishes or goes idle. */
  readonly maxConcurrentTransfers: number;
  /** A transfer with no chunk for this long is dropped (its sender died or gave up). */
  readonly idleTimeoutMs: number;
  /** Where a transfer's chunks are written (TransportTuning.openSnapshotSink). */
  readonly openSink: (size: number) => Promise<SnapshotSink>;
  readonly onSnapshot: (snapshot: IncomingSnapshot) => Promise<void>;
  readonly logger?: Logger;
  /** Told of each refused chunk whose message was not from its sender. */
  readonly onSenderMismatch?: (sender: NodeId, claimed: NodeId) => void;
}

interface Assembly {
  readonly transferId: number;
  readonly total: number;
  /** Opened by the first chunk; later ones (possibly in flight at once) wait for it. */
  readonly sink: Promise<SnapshotSink>;
  /** Offsets taken, counted before their write completes so a duplicate is never written twice. */
  readonly offsets: Set<number>;
  writtenBytes: number;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * The receiving side of chunked snapshot transfer, shared by every transport: puts
 * chunks together per sender and hands the whole snapshot over once complete. The
 * ack of the chunk that completes it is held until `onSnapshot` resolves.
 */
export class SnapshotReceiver {
  private readonly transfers = new Map<NodeId, Assembly>();
  private readonly logger: Logger;
  private closed = false;

  constructor(private readonly options: SnapshotReceiverOptions) {
    this.logger = options.logger ?? silentLogger;
  }

  /**
   * The ack frame for one chunk frame; never rejects (failures are encoded in the ack).
   * `sender` is who the transport knows sent it (NATS: the subject's sender token); a
   * chunk whose message claims another sender is refused, and no transfer is touched.
   */
  async handle(frame: Uint8Array, sender?: NodeId): Promise<Uint8Array> {
    let chunk: SnapshotChunk;
    try {
      chunk = decodeSnapshotChunk(frame);
    } catch (error) {
      return failed(0, "bad_frame", errorMessage(error));
    }
    const { transferId, total, message } = chunk;
    if (sender !== undefined && message.from !== sender) {
      this.options.onSenderMismatch?.(sender, message.from);
      return failed(transferId, "bad_frame", `snapshot chunk says it is from ${message.from}, but ${sender} sent it`);
    }
    if (this.closed) return failed(transferId, "closed", "receiver closed");
    if (total > this.options.maxSnapshotBytes) {
      return failed(transferId, "too_large", `snapshot of ${total} bytes exceeds ${this.options.maxSnapshotBytes}`);
    }

    let a = this.transfers.get(message.from);
    if (a === undefined || a.transferId !== transferId) {
      if (a !== undefined) {
        // The sender started over; its earlier transfer will never finish.
        this.drop(message.from, a, "superseded");
      } else if (this.transfers.size >= this.options.maxConcurrentTransfers) {
        return failed(transferId, "remote_error", `busy: ${this.transfers.size} snapshot transfers in progress`);
      }
      a = { transferId, total, sink: this.options.openSink(total), offsets: new Set(), writtenBytes: 0, timer: this.idleTimer(message.from) };
      this.transfers.set(message.from, a);
    } else {
      clearTimeout(a.timer);
      a.timer = this.idleTimer(message.from);
    }
    if (a.total !== total) {
      this.drop(message.from, a, "inconsistent total");
      return failed(transferId, "bad_frame", `chunk says total ${total}, transfer has ${a.total}`);
    }
    // A retried chunk is acked again but written and counted once.
    if (!a.offsets.has(chunk.offset)) {
      a.offsets.add(chunk.offset);
      try {
        await (await a.sink).write(chunk.offset, chunk.chunk);
      } catch (error) {
        if (this.transfers.get(message.from) === a) this.drop(message.from, a, "write failed");
        return failed(transferId, "remote_error", `cannot write snapshot chunk at ${chunk.offset}: ${errorMessage(error)}`);
      }
      a.writtenBytes += chunk.chunk.length;
      // Exactly one chunk's write brings the count to the total: that one hands it over.
      if (a.writtenBytes === total) return this.complete(message, a);
    }
    return encodeSnapshotAck({ transferId, status: "received" });
  }

  private async complete(message: SnapshotChunk["message"], a: Assembly): Promise<Uint8Array> {
    const { transferId } = a;
    if (this.transfers.get(message.from) !== a) return failed(transferId, "remote_error", "transfer dropped before it completed");
    clearTimeout(a.timer);
    this.transfers.delete(message.from);
    let data;
    try {
      data = await (await a.sink).finish();
    } catch (error) {
      void discard(a);
      return failed(transferId, "remote_error", `cannot finish snapshot: ${errorMessage(error)}`);
    }
    try {
      await this.options.onSnapshot({ message, meta: message.snapshot!, data });
    } catch (error) {
      return failed(transferId, "remote_error", `staging failed: ${errorMessage(error)}`);
    }
    return encodeSnapshotAck({ transferId, status: "staged" });
  }

  /** Forget partial transfers; later chunks are refused with "closed". */
  close(): void {
    this.closed = true;
    for (const [from, a] of this.transfers) this.drop(from, a, "closed");
  }

  private idleTimer(from: NodeId): ReturnType<typeof setTimeout> {
    const timer = setTimeout(() => {
      const a = this.transfers.get(from);
      if (a !== undefined && a.timer === timer) this.drop(from, a, "idle");
    }, this.options.idleTimeoutMs);
    // An abandoned transfer must not keep the process alive.
    timer.unref?.();
    return timer;
  }

  private drop(from: NodeId, a: Assembly, reason: string): void {
    clearTimeout(a.timer);
    this.transfers.delete(from);
    void discard(a);
    this.logger.log("debug", "snapshot_transfer_dropped", { from, transferId: a.transferId, receivedBytes: a.writtenBytes, reason });
  }
}

/** Free what a dropped transfer took; a sink that never opened took nothing. */
async function discard(a: Assembly): Promise<void> {
  try {
    await (await a.sink).discard();
  } catch {
    // Nothing more to free.
  }
}

function failed(transferId: number, code: TransportErrorCode, reason: string): Uint8Array {
  const ack: SnapshotAck = { transferId, status: "failed", code, reason };
  return encodeSnapshotAck(ack);
}
