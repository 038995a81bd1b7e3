import type { Message, SnapshotBytes } from "../raft/types.ts";
import { decodeSnapshotAck, encodeSnapshotChunk, snapshotChunkOverheadBytes } from "./codec.ts";
import { TransportError } from "./transport-error.ts";

/** Sends one chunk frame and resolves with the receiver's ack frame. */
export type ChunkRequest = (frame: Uint8Array, timeoutMs: number) => Promise<Uint8Array>;

export interface SnapshotSendOptions {
  readonly message: Message;
  /** Read a chunk at a time: only the chunks in flight are in memory. */
  readonly data: SnapshotBytes;
  readonly transferId: number;
  /** Largest frame the link carries (chunks are cut to fit with their header). */
  readonly maxFrameBytes: number;
  readonly maxChunksInFlight: number;
  readonly chunkTimeoutMs: number;
  /** For the last chunk only: its ack waits until the receiver has staged the snapshot. */
  readonly stageTimeoutMs: number;
  readonly request: ChunkRequest;
}

/**
 * Ship a snapshot as acknowledged chunks. All but the last go out with at most
 * `maxChunksInFlight` unacknowledged, which bounds memory on both ends; the last goes
 * alone once the others are acked, so its ack is the receiver's "staged", and this
 * resolves only after the receiver's onSnapshot resolved. No retries: the raft core
 * resends the snapshot after its own timeout, and a fresh transfer is simpler than
 * resuming a half-done one.
 */
export async function sendSnapshotInChunks(o: SnapshotSendOptions): Promise<void> {
  if (o.message.type !== "snap" || o.message.snapshot === null) {
    throw new RangeError(`sendSnapshot needs a "snap" message with snapshot meta, got ${o.message.type}`);
  }
  const chunkBytes = o.maxFrameBytes - snapshotChunkOverheadBytes(o.message);
  if (chunkBytes < 1) throw new TransportError("too_large", `a snapshot chunk header alone exceeds ${o.maxFrameBytes} bytes`);
  const total = o.data.size;
  const chunkCount = Math.max(1, Math.ceil(total / chunkBytes));

  const sendChunk = async (i: number, timeoutMs: number, expected: "received" | "staged"): Promise<void> => {
    const offset = i * chunkBytes;
    const frame = encodeSnapshotChunk({
      transferId: o.transferId,
      offset,
      total,
      message: o.message,
      chunk: await o.data.read(offset, Math.min(chunkBytes, total - offset)),
    });
    const ack = decodeSnapshotAck(await o.request(frame, timeoutMs));
    if (ack.transferId !== o.transferId) {
      throw new TransportError("bad_frame", `ack for transfer ${ack.transferId}, expected ${o.transferId}`);
    }
    if (ack.status === "failed") throw new TransportError(ack.code, `peer refused snapshot chunk at ${offset}: ${ack.reason}`);
    if (ack.status !== expected) throw new TransportError("bad_frame", `chunk at ${offset} acked "${ack.status}", expected "${expected}"`);
  };

  let next = 0;
  let failure: unknown = null;
  const lane = async (): Promise<void> => {
    while (failure === null && next < chunkCount - 1) {
      const i = next++;
      try {
        await sendChunk(i, o.chunkTimeoutMs, "received");
      } catch (error) {
        failure ??= error;
      }
    }
  };
  const lanes = Math.max(1, Math.min(o.maxChunksInFlight, chunkCount - 1));
  await Promise.all(Array.from({ length: lanes }, lane));
  if (failure !== null) throw failure;
  await sendChunk(chunkCount - 1, o.stageTimeoutMs, "staged");
}
