import { describe, expect, test } from "bun:test";
import { memorySnapshotSink, readWholeSnapshot, snapshotFromBytes } from "../raft/snapshot-bytes.ts";
import type { Message, SnapshotSink } from "../raft/types.ts";
import { decodeSnapshotAck, decodeSnapshotChunk, encodeSnapshotChunk, snapshotChunkOverheadBytes } from "./codec.ts";
import { SnapshotReceiver } from "./snapshot-receiver.ts";
import { sendSnapshotInChunks } from "./snapshot-sender.ts";
import { TransportError } from "./transport-error.ts";
import { message } from "./transport.conformance.ts";
import type { IncomingSnapshot } from "./transport.ts";

const snap: Message = message({ type: "snap", from: 1, to: 2, snapshot: { index: 10, term: 2, conf: { voters: [1, 2], learners: [] } } });

function receiver(
  staged: IncomingSnapshot[],
  limits: { maxSnapshotBytes?: number; maxConcurrentTransfers?: number } = {},
  openSink: (size: number) => Promise<SnapshotSink> = async (size) => memorySnapshotSink(size),
) {
  return new SnapshotReceiver({
    maxSnapshotBytes: limits.maxSnapshotBytes ?? 1 << 20,
    maxConcurrentTransfers: limits.maxConcurrentTransfers ?? 2,
    idleTimeoutMs: 60_000,
    openSink,
    onSnapshot: async (s) => void staged.push(s),
  });
}

describe("chunked snapshot transfer", () => {
  test("keeps at most maxChunksInFlight unacked and sends the last chunk alone, last", async () => {
    const staged: IncomingSnapshot[] = [];
    const r = receiver(staged);
    const data = new Uint8Array(10_000).map((_, i) => i % 253);
    const chunkBytes = 100;
    let inFlight = 0;
    let maxSeen = 0;
    const order: number[] = [];
    let inFlightWhenLastSent = -1;
    await sendSnapshotInChunks({
      message: snap,
      data: snapshotFromBytes(data),
      transferId: 77,
      maxFrameBytes: snapshotChunkOverheadBytes(snap) + chunkBytes,
      maxChunksInFlight: 4,
      chunkTimeoutMs: 1000,
      stageTimeoutMs: 1000,
      request: async (frame) => {
        const c = decodeSnapshotChunk(frame);
        if (c.offset + c.chunk.length === c.total) inFlightWhenLastSent = inFlight;
        inFlight++;
        maxSeen = Math.max(maxSeen, inFlight);
        order.push(c.offset);
        // Answer out of order to show the receiver does not depend on it.
        await new Promise((resolve) => setTimeout(resolve, (c.offset / chunkBytes) % 3));
        const ack = await r.handle(frame);
        inFlight--;
        return ack;
      },
    });
    expect(maxSeen).toBe(4);
    expect(order.length).toBe(100);
    expect(order[order.length - 1]).toBe(9_900);
    expect(inFlightWhenLastSent).toBe(0);
    expect(staged.length).toBe(1);
    expect(Buffer.compare(await readWholeSnapshot(staged[0]!.data), data)).toBe(0);
  });

  test("a retried chunk is counted once", async () => {
    const staged: IncomingSnapshot[] = [];
    const r = receiver(staged);
    const frame = (offset: number, bytes: number[]) =>
      encodeSnapshotChunk({ transferId: 5, offset, total: 4, message: snap, chunk: new Uint8Array(bytes) });
    expect(decodeSnapshotAck(await r.handle(frame(0, [1, 2]))).status).toBe("received");
    expect(decodeSnapshotAck(await r.handle(frame(0, [1, 2]))).status).toBe("received");
    expect(staged).toEqual([]);
    expect(decodeSnapshotAck(await r.handle(frame(2, [3, 4]))).status).toBe("staged");
    expect([...(await readWholeSnapshot(staged[0]!.data))]).toEqual([1, 2, 3, 4]);
  });

  test("a snapshot over the receiver's limit is refused with too_large before it is assembled", async () => {
    const r = receiver([], { maxSnapshotBytes: 1000 });
    const sending = sendSnapshotInChunks({
      message: snap,
      data: snapshotFromBytes(new Uint8Array(1001)),
      transferId: 1,
      maxFrameBytes: 4096,
      maxChunksInFlight: 4,
      chunkTimeoutMs: 1000,
      stageTimeoutMs: 1000,
      request: (frame) => r.handle(frame),
    });
    await expect(sending).rejects.toMatchObject({ code: "too_large" });
  });

  test("more concurrent senders than allowed are refused, a new transfer from the same sender replaces its old one", async () => {
    const staged: IncomingSnapshot[] = [];
    const r = receiver(staged, { maxConcurrentTransfers: 1 });
    const from = (id: number, transferId: number, offset: number) =>
      encodeSnapshotChunk({ transferId, offset, total: 2, message: { ...snap, from: id }, chunk: new Uint8Array([offset + 1]) });
    expect(decodeSnapshotAck(await r.handle(from(1, 10, 0))).status).toBe("received");
    expect(decodeSnapshotAck(await r.handle(from(3, 30, 0)))).toMatchObject({ status: "failed", code: "remote_error" });
    expect(decodeSnapshotAck(await r.handle(from(1, 11, 0))).status).toBe("received");
    expect(decodeSnapshotAck(await r.handle(from(1, 11, 1))).status).toBe("staged");
    expect(staged.length).toBe(1);
  });

  test("a superseded transfer's sink is discarded, the completed one's finished; a failed write fails the chunk", async () => {
    const staged: IncomingSnapshot[] = [];
    const sinks: { discarded: boolean; finished: boolean }[] = [];
    let failWrites = false;
    const r = receiver(staged, {}, async (size) => {
      const inner = memorySnapshotSink(size);
      const record = { discarded: false, finished: false };
      sinks.push(record);
      return {
        write: (offset, chunk) => (failWrites ? Promise.reject(new Error("disk full")) : inner.write(offset, chunk)),
        finish: () => ((record.finished = true), inner.finish()),
        discard: () => ((record.discarded = true), inner.discard()),
      };
    });
    const chunk = (transferId: number, offset: number) => encodeSnapshotChunk({ transferId, offset, total: 2, message: snap, chunk: new Uint8Array([offset + 1]) });
    expect(decodeSnapshotAck(await r.handle(chunk(20, 0))).status).toBe("received");
    expect(decodeSnapshotAck(await r.handle(chunk(21, 0))).status).toBe("received");
    expect(decodeSnapshotAck(await r.handle(chunk(21, 1))).status).toBe("staged");
    expect(sinks).toEqual([{ discarded: true, finished: false }, { discarded: false, finished: true }]);
    expect([...(await readWholeSnapshot(staged[0]!.data))]).toEqual([1, 2]);
    failWrites = true;
    expect(decodeSnapshotAck(await r.handle(chunk(22, 0)))).toMatchObject({ status: "failed", code: "remote_error" });
    expect(sinks[2]).toEqual({ discarded: true, finished: false });
  });

  test("a chunk frame too small for its header is refused with too_large", async () => {
    const sending = sendSnapshotInChunks({
      message: snap,
      data: snapshotFromBytes(new Uint8Array(10)),
      transferId: 1,
      maxFrameBytes: 20,
      maxChunksInFlight: 4,
      chunkTimeoutMs: 1000,
      stageTimeoutMs: 1000,
      request: () => Promise.reject(new Error("unreachable")),
    });
    await expect(sending).rejects.toBeInstanceOf(TransportError);
    await expect(sending).rejects.toMatchObject({ code: "too_large" });
  });

  test("the first failed chunk stops the transfer", async () => {
    let sent = 0;
    const sending = sendSnapshotInChunks({
      message: snap,
      data: snapshotFromBytes(new Uint8Array(1000)),
      transferId: 1,
      maxFrameBytes: snapshotChunkOverheadBytes(snap) + 10,
      maxChunksInFlight: 2,
      chunkTimeoutMs: 1000,
      stageTimeoutMs: 1000,
      request: async () => {
        sent++;
        throw new TransportError("timeout", "lost");
      },
    });
    await expect(sending).rejects.toMatchObject({ code: "timeout" });
    expect(sent).toBe(2);
  });
});
