import { describe, expect, test } from "bun:test";
import { MAX_INDEX, MAX_TERM } from "../raft/message.ts";
import type { Message } from "../raft/types.ts";
import {
  CODEC_VERSION,
  batchSizeBytes,
  decodeBatch,
  decodeRpcReply,
  decodeRpcRequest,
  decodeSnapshotAck,
  decodeSnapshotChunk,
  encodeBatch,
  encodeBatches,
  encodeRpcReply,
  encodeRpcRequest,
  encodeSnapshotAck,
  encodeSnapshotChunk,
  snapshotChunkOverheadBytes,
} from "./codec.ts";
import { TransportError } from "./transport-error.ts";
import { message } from "./transport.conformance.ts";

const snap: Message = message({
  type: "snap",
  from: 3,
  to: 1,
  term: 9,
  snapshot: { index: 2 ** 45, term: 8, conf: { voters: [1, 2, 3, 4_000_000_000], learners: [] } },
});

const rich: Message[] = [
  message({
    type: "app",
    from: 1,
    to: 2,
    term: MAX_TERM,
    logTerm: 2 ** 32,
    index: 2 ** 32 - 1,
    commit: 17,
    entries: [
      { index: 18, term: 3, kind: "normal", data: new Uint8Array([1, 2, 3]) },
      { index: 19, term: 3, kind: "conf", data: new Uint8Array(0) },
    ],
  }),
  message({ type: "appResp", from: 2, to: 1, reject: true, rejectHint: 5, logTerm: 2 }),
  message({ type: "preVote", from: 2, to: 1, context: 1 }),
  snap,
];

/** A tiny seeded generator, so a failing fuzz case can be replayed. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

function expectBadFrame(decode: () => unknown): void {
  try {
    decode();
  } catch (error) {
    expect(error).toBeInstanceOf(TransportError);
    expect((error as TransportError).code).toBe("bad_frame");
    return;
  }
  throw new Error("decoded a frame that should be rejected");
}

/** Decoding may succeed or throw bad_frame; any other outcome is a bug. */
function decodesOrBadFrame(decode: () => unknown): void {
  try {
    decode();
  } catch (error) {
    if (!(error instanceof TransportError) || error.code !== "bad_frame") throw error;
  }
}

describe("batch codec", () => {
  test("round-trips every message type and field", () => {
    const types = ["app", "appResp", "heartbeat", "heartbeatResp", "vote", "voteResp", "preVote", "preVoteResp", "snap", "timeoutNow", "readIndex", "readIndexResp"] as const;
    const all = [...rich, ...types.map((type, i) => message({ type, from: i + 1, to: 2 ** 32 - 1, context: i }))];
    const frame = encodeBatch(all);
    expect(frame[0]).toBe(CODEC_VERSION);
    expect(frame.length).toBe(batchSizeBytes(all));
    expect(decodeBatch(frame)).toEqual(all);
  });

  test("an empty batch round-trips", () => {
    expect(decodeBatch(encodeBatch([]))).toEqual([]);
  });

  test("decoded entry data is a copy, not a view into the frame", () => {
    const frame = encodeBatch(rich);
    const decoded = decodeBatch(frame);
    frame.fill(0);
    expect([...decoded[0]!.entries[0]!.data]).toEqual([1, 2, 3]);
  });

  test("decodes from a view at an odd offset inside a larger buffer", () => {
    const frame = encodeBatch(rich);
    const big = new Uint8Array(frame.length + 7);
    big.set(frame, 3);
    expect(decodeBatch(big.subarray(3, 3 + frame.length))).toEqual(rich);
  });

  test("refuses values the wire cannot carry exactly", () => {
    expect(() => encodeBatch([message({ from: 1, to: 2, term: -1 })])).toThrow(RangeError);
    expect(() => encodeBatch([message({ from: 1, to: 2, index: 1.5 })])).toThrow(RangeError);
    expect(() => encodeBatch([message({ from: 2 ** 32, to: 2 })])).toThrow(RangeError);
    expect(() => encodeBatch([message({ from: 1, to: 2, commit: 2 ** 53 })])).toThrow(RangeError);
    expect(() => encodeBatch([message({ from: 1, to: 2, context: 2 ** 53 })])).toThrow(RangeError);
  });

  test("terms and indexes are bounded both ways: up to MAX_TERM / MAX_INDEX round-trips, beyond is refused", () => {
    const atBounds = message({
      type: "app",
      from: 1,
      to: 2,
      term: MAX_TERM,
      logTerm: MAX_TERM,
      index: MAX_INDEX - 1,
      commit: MAX_INDEX,
      rejectHint: MAX_INDEX,
      entries: [{ index: MAX_INDEX, term: MAX_TERM, kind: "normal", data: new Uint8Array([7]) }],
    });
    expect(decodeBatch(encodeBatch([atBounds]))).toEqual([atBounds]);
    // The encoder will not write a term a peer would refuse (the heartbeat at 2^53 - 1
    // that nodes once adopted, persisted and then failed to answer)...
    const beyond: Partial<Message>[] = [
      { term: MAX_TERM + 1 },
      { term: Number.MAX_SAFE_INTEGER },
      { logTerm: MAX_TERM + 1 },
      { index: MAX_INDEX + 1 },
      { commit: MAX_INDEX + 1 },
      { rejectHint: MAX_INDEX + 1 },
      { type: "app", entries: [{ index: MAX_INDEX + 1, term: 1, kind: "normal", data: new Uint8Array(0) }] },
      { type: "app", entries: [{ index: 1, term: MAX_TERM + 1, kind: "normal", data: new Uint8Array(0) }] },
      { type: "snap", snapshot: { index: MAX_INDEX + 1, term: 1, conf: { voters: [1], learners: [] } } },
      { type: "snap", snapshot: { index: 1, term: MAX_TERM + 1, conf: { voters: [1], learners: [] } } },
    ];
    for (const over of beyond) {
      expect(() => encodeBatch([message({ from: 1, to: 2, ...over })])).toThrow(/outside \[0, /);
    }
    // ...and the decoder refuses a frame that holds one, naming the field.
    const frame = encodeBatch([atBounds]);
    const termAt = 2 + 4 + 1 + 1 + 4 + 4; // header, count, type, flags, from, to
    const fields: [string, number, number][] = [
      ["term", termAt, MAX_TERM + 1],
      ["logTerm", termAt + 8, MAX_TERM + 1],
      ["index", termAt + 16, MAX_INDEX + 1],
      ["commit", termAt + 24, MAX_INDEX + 1],
      ["rejectHint", termAt + 32, MAX_INDEX + 1],
      ["entry index", termAt + 48 + 4, MAX_INDEX + 1],
      ["entry term", termAt + 48 + 4 + 8, 2 ** 53 - 1],
    ];
    for (const [field, at, value] of fields) {
      const bad = frame.slice();
      const view = new DataView(bad.buffer);
      view.setUint32(at, Math.floor(value / 2 ** 32));
      view.setUint32(at + 4, value >>> 0);
      expectBadFrame(() => decodeBatch(bad));
      expect(() => decodeBatch(bad)).toThrow(new RegExp(`bad frame: ${field} ${value} exceeds the largest`));
    }
  });

  test("encodeBatches never throws for a message's contents: the unencodable are set aside with a reason, the rest are sent", () => {
    const good = [message({ from: 1, to: 2, context: 1 }), message({ from: 1, to: 2, context: 2 })];
    const bad = [
      message({ from: 1, to: 2, term: Number.MAX_SAFE_INTEGER }),
      message({ from: 1, to: 2, index: Number.NaN }),
      message({ from: 1, to: 2, commit: -1 }),
      { ...message({ from: 1, to: 2 }), type: "nonsense" } as unknown as Message,
    ];
    const { frames, oversized, unencodable } = encodeBatches([bad[0]!, good[0]!, bad[1]!, bad[2]!, good[1]!, bad[3]!], 1 << 20);
    expect(oversized).toEqual([]);
    expect(unencodable.map((u) => u.message)).toEqual(bad);
    expect(unencodable[0]!.reason).toContain("term 9007199254740991");
    expect(frames.flatMap(decodeBatch)).toEqual(good);
  });

  test("an unknown version, a foreign kind, and trailing bytes are bad frames", () => {
    const frame = encodeBatch(rich);
    const newer = frame.slice();
    newer[0] = CODEC_VERSION + 1;
    expectBadFrame(() => decodeBatch(newer));
    expectBadFrame(() => decodeBatch(encodeRpcRequest({ from: 1, payload: new Uint8Array(70) })));
    const trailing = new Uint8Array(frame.length + 1);
    trailing.set(frame);
    expectBadFrame(() => decodeBatch(trailing));
    expectBadFrame(() => decodeBatch(new Uint8Array(0)));
  });

  test("every truncation of a valid frame is a bad frame", () => {
    const frame = encodeBatch(rich);
    for (let n = 0; n < frame.length; n++) expectBadFrame(() => decodeBatch(frame.subarray(0, n)));
  });

  test("a huge count in a tiny frame is refused before any allocation", () => {
    const frame = new Uint8Array([CODEC_VERSION, 1, 0xff, 0xff, 0xff, 0xff]);
    expectBadFrame(() => decodeBatch(frame));
  });

  test("fuzz: random bytes and bit flips decode or throw bad_frame, nothing else", () => {
    const next = rng(20240611);
    const valid = encodeBatch(rich);
    for (let round = 0; round < 20_000; round++) {
      let bytes: Uint8Array;
      if (round % 2 === 0) {
        bytes = new Uint8Array(Math.floor(next() * 300));
        for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(next() * 256);
        // Half the random frames get a valid header so the decoder goes deeper.
        if (bytes.length >= 2 && round % 4 === 0) {
          bytes[0] = CODEC_VERSION;
          bytes[1] = 1;
        }
      } else {
        bytes = valid.slice(0, 1 + Math.floor(next() * valid.length));
        const flips = 1 + Math.floor(next() * 4);
        for (let f = 0; f < flips; f++) {
          const at = Math.floor(next() * bytes.length);
          bytes[at] = bytes[at]! ^ (1 << Math.floor(next() * 8));
        }
      }
      decodesOrBadFrame(() => decodeBatch(bytes));
      // Whatever the decoder accepts, the encoder writes back byte for byte.
      let decoded: Message[] | null = null;
      try {
        decoded = decodeBatch(bytes);
      } catch {}
      if (decoded !== null) expect(encodeBatch(decoded)).toEqual(bytes);
      decodesOrBadFrame(() => decodeSnapshotChunk(bytes));
      decodesOrBadFrame(() => decodeSnapshotAck(bytes));
      decodesOrBadFrame(() => decodeRpcRequest(bytes));
      decodesOrBadFrame(() => decodeRpcReply(bytes));
    }
  });

  test("encodeBatches splits under the frame limit, keeps order, and sets aside what cannot fit", () => {
    const payload = (n: number) => new Uint8Array(n).fill(n % 251);
    const messages = Array.from({ length: 30 }, (_, i) =>
      message({ type: "app", from: 1, to: 2, context: i, entries: [{ index: i + 1, term: 1, kind: "normal", data: payload(100 + i * 20) }] }),
    );
    const huge = message({ type: "app", from: 1, to: 2, context: 999, entries: [{ index: 1, term: 1, kind: "normal", data: payload(5000) }] });
    const limit = 1500;
    const { frames, oversized } = encodeBatches([...messages.slice(0, 10), huge, ...messages.slice(10)], limit);
    expect(oversized).toEqual([huge]);
    expect(frames.length).toBeGreaterThan(1);
    for (const f of frames) expect(f.length).toBeLessThanOrEqual(limit);
    expect(frames.flatMap(decodeBatch)).toEqual(messages);
  });
});

describe("snapshot chunk and ack codec", () => {
  test("a chunk round-trips with its message and meta", () => {
    const chunk = new Uint8Array([9, 8, 7, 6]);
    const frame = encodeSnapshotChunk({ transferId: 0xfffffffe, offset: 2 ** 33, total: 2 ** 33 + 10, message: snap, chunk });
    expect(frame.length).toBe(snapshotChunkOverheadBytes(snap) + chunk.length);
    const back = decodeSnapshotChunk(frame);
    expect(back.transferId).toBe(0xfffffffe);
    expect(back.offset).toBe(2 ** 33);
    expect(back.total).toBe(2 ** 33 + 10);
    expect(back.message).toEqual(snap);
    expect([...back.chunk]).toEqual([9, 8, 7, 6]);
  });

  test("a chunk past its total, or carrying no snapshot meta, is a bad frame", () => {
    expectBadFrame(() => decodeSnapshotChunk(encodeSnapshotChunk({ transferId: 1, offset: 8, total: 10, message: snap, chunk: new Uint8Array(3) })));
    const notSnap = message({ from: 1, to: 2 });
    expectBadFrame(() => decodeSnapshotChunk(encodeSnapshotChunk({ transferId: 1, offset: 0, total: 1, message: notSnap, chunk: new Uint8Array(1) })));
  });

  test("every truncation of a chunk is a bad frame", () => {
    const frame = encodeSnapshotChunk({ transferId: 5, offset: 0, total: 3, message: snap, chunk: new Uint8Array([1, 2, 3]) });
    for (let n = 0; n < frame.length; n++) expectBadFrame(() => decodeSnapshotChunk(frame.subarray(0, n)));
  });

  test("acks round-trip", () => {
    for (const ack of [
      { transferId: 1, status: "received" },
      { transferId: 2, status: "staged" },
      { transferId: 3, status: "failed", code: "too_large", reason: "snapshot of 9 bytes exceeds 8 ✗" },
    ] as const) {
      expect(decodeSnapshotAck(encodeSnapshotAck(ack))).toEqual(ack);
    }
  });
});

describe("request/reply codec", () => {
  test("requests and replies round-trip", () => {
    const req = { from: 12, payload: new Uint8Array([0, 1, 2]) };
    expect(decodeRpcRequest(encodeRpcRequest(req))).toEqual(req);
    const ok = { ok: true, payload: new Uint8Array([5]) } as const;
    expect(decodeRpcReply(encodeRpcReply(ok))).toEqual(ok);
    const failed = { ok: false, code: "remote_error", reason: "boom" } as const;
    expect(decodeRpcReply(encodeRpcReply(failed))).toEqual(failed);
  });
});
