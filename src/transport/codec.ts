import { MAX_INDEX, MAX_TERM, MESSAGE_TYPES } from "../raft/message.ts";
import type { ConfState, Entry, EntryKind, Message, MessageType, NodeId, SnapshotMeta } from "../raft/types.ts";
import type { TransportErrorCode } from "./transport-error.ts";
import { Reader, Writer, badFrame } from "./wire.ts";

// Wire format of everything Concord nodes send each other. Every frame starts with
//   [version u8][kind u8]
// so a node can refuse a frame from a newer (or foreign) sender instead of misreading
// it. Integers are big-endian; raft numbers are u53 (see wire.ts).
//
// Terms are at most MAX_TERM and indexes at most MAX_INDEX (2^48 - 1, src/raft/message.ts),
// both ways: the decoder refuses a frame holding a larger one (a node that adopted such a
// term would persist it and could never send term + 1), and the encoder refuses to
// write one, so a peer never drops a whole batch for one bad message. Every value the
// decoder accepts, the encoder writes back unchanged.
//
//   batch          count u32, message…
//   message        type u8, flags u8, from u32, to u32, term, logTerm, index, commit,
//                  rejectHint, context (u53 each), entryCount u32, entry…, [snapshot]
//   entry          index u53, term u53, kind u8, length u32, data
//   snapshot meta  index u53, term u53, voterCount u16, id u32…, learnerCount u16, id u32…
//   snap chunk     transferId u32, offset u53, total u53, message, length u32, bytes
//   snap ack       transferId u32, status u8, [failed: code u8, reason]
//   rpc request    from u32, payload (rest of frame)
//   rpc reply      status u8, ok: payload | failed: code u8, reason (rest, UTF-8)

export const CODEC_VERSION = 1;

const KIND_BATCH = 1;
const KIND_SNAP_CHUNK = 2;
const KIND_SNAP_ACK = 3;
const KIND_RPC_REQUEST = 4;
const KIND_RPC_REPLY = 5;

// Wire codes are positions in these lists: append only, never reorder.
const MESSAGE_TYPE_CODES = new Map<MessageType, number>(MESSAGE_TYPES.map((t, i) => [t, i]));
const ENTRY_KINDS: readonly EntryKind[] = ["normal", "conf"];
const ERROR_CODES: readonly TransportErrorCode[] = ["timeout", "no_responder", "too_large", "bad_frame", "remote_error", "closed"];

const FLAG_REJECT = 1;
const FLAG_SNAPSHOT = 2;

const HEADER_BYTES = 2;
const BATCH_HEADER_BYTES = HEADER_BYTES + 4;
const MESSAGE_FIXED_BYTES = 1 + 1 + 4 + 4 + 6 * 8 + 4;
const ENTRY_FIXED_BYTES = 8 + 8 + 1 + 4;
const SNAPSHOT_FIXED_BYTES = 8 + 8 + 2 + 2;
const MAX_IDS = 0xffff;

// ───────────────────────────── messages ─────────────────────────────

/** Encoded size of one message inside a batch. */
export function messageSizeBytes(m: Message): number {
  let size = MESSAGE_FIXED_BYTES;
  for (const e of m.entries) size += ENTRY_FIXED_BYTES + e.data.length;
  if (m.snapshot !== null) size += SNAPSHOT_FIXED_BYTES + 4 * (m.snapshot.conf.voters.length + m.snapshot.conf.learners.length);
  return size;
}

/**
 * Why `m` cannot be encoded (a value the wire or a peer's decoder would refuse), or
 * null. It checks exactly what writeMessage would throw on, so encodeBatches can set a
 * message aside instead of failing the whole flush.
 */
export function unencodableReason(m: Message): string | null {
  if (!MESSAGE_TYPE_CODES.has(m.type)) return `unknown message type ${String(m.type)}`;
  if (!isU32(m.from) || !isU32(m.to)) return `node ids ${m.from} -> ${m.to} are not u32`;
  if (!isU53(m.context)) return `context ${m.context} is not a u53`;
  const bad =
    boundReason("term", m.term, MAX_TERM) ??
    boundReason("logTerm", m.logTerm, MAX_TERM) ??
    boundReason("index", m.index, MAX_INDEX) ??
    boundReason("commit", m.commit, MAX_INDEX) ??
    boundReason("rejectHint", m.rejectHint, MAX_INDEX);
  if (bad !== null) return bad;
  if (!isU32(m.entries.length)) return `${m.entries.length} entries`;
  for (const e of m.entries) {
    const entryBad = boundReason("entry index", e.index, MAX_INDEX) ?? boundReason("entry term", e.term, MAX_TERM);
    if (entryBad !== null) return entryBad;
    if (e.kind !== "normal" && e.kind !== "conf") return `unknown entry kind ${String(e.kind)}`;
    if (!isU32(e.data.length)) return `entry of ${e.data.length} bytes`;
  }
  const meta = m.snapshot;
  if (meta !== null) {
    const metaBad = boundReason("snapshot index", meta.index, MAX_INDEX) ?? boundReason("snapshot term", meta.term, MAX_TERM);
    if (metaBad !== null) return metaBad;
    for (const ids of [meta.conf.voters, meta.conf.learners]) {
      if (ids.length > MAX_IDS) return `too many node ids in a configuration: ${ids.length}`;
      for (const id of ids) if (!isU32(id)) return `node id ${id} is not a u32`;
    }
  }
  return null;
}

function isU32(n: number): boolean {
  return n >>> 0 === n;
}

function isU53(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}

function boundReason(field: string, n: number, max: number): string | null {
  return Number.isInteger(n) && n >= 0 && n <= max ? null : `${field} ${n} is outside [0, ${max}]`;
}

/** A term read from the wire: a u53, refused beyond MAX_TERM. */
function readTerm(r: Reader, field: string): number {
  const n = r.u53();
  if (n > MAX_TERM) throw badFrame(`${field} ${n} exceeds the largest term ${MAX_TERM}`);
  return n;
}

/** An index read from the wire: a u53, refused beyond MAX_INDEX. */
function readIndex(r: Reader, field: string): number {
  const n = r.u53();
  if (n > MAX_INDEX) throw badFrame(`${field} ${n} exceeds the largest index ${MAX_INDEX}`);
  return n;
}

function checkEncodable(m: Message): void {
  const reason = unencodableReason(m);
  if (reason !== null) throw new RangeError(`cannot encode ${String(m.type)} ${m.from}->${m.to}: ${reason}`);
}

/** Only for a message unencodableReason passed: the Writer's own checks are the backstop. */
function writeMessage(w: Writer, m: Message): void {
  const type = MESSAGE_TYPE_CODES.get(m.type)!;
  w.u8(type);
  w.u8((m.reject ? FLAG_REJECT : 0) | (m.snapshot !== null ? FLAG_SNAPSHOT : 0));
  w.u32(m.from);
  w.u32(m.to);
  w.u53(m.term);
  w.u53(m.logTerm);
  w.u53(m.index);
  w.u53(m.commit);
  w.u53(m.rejectHint);
  w.u53(m.context);
  w.u32(m.entries.length);
  for (const e of m.entries) {
    w.u53(e.index);
    w.u53(e.term);
    w.u8(e.kind === "conf" ? 1 : 0);
    w.u32(e.data.length);
    w.raw(e.data);
  }
  if (m.snapshot !== null) writeSnapshotMeta(w, m.snapshot);
}

function writeSnapshotMeta(w: Writer, meta: SnapshotMeta): void {
  w.u53(meta.index);
  w.u53(meta.term);
  for (const ids of [meta.conf.voters, meta.conf.learners]) {
    if (ids.length > MAX_IDS) throw new RangeError(`too many node ids in a configuration: ${ids.length}`);
    w.u16(ids.length);
    for (const id of ids) w.u32(id);
  }
}

function readMessage(r: Reader): Message {
  const typeCode = r.u8();
  const type = MESSAGE_TYPES[typeCode];
  if (type === undefined) throw badFrame(`unknown message type ${typeCode}`);
  const flags = r.u8();
  if ((flags & ~(FLAG_REJECT | FLAG_SNAPSHOT)) !== 0) throw badFrame(`unknown message flags ${flags}`);
  const from = r.u32();
  const to = r.u32();
  const term = readTerm(r, "term");
  const logTerm = readTerm(r, "logTerm");
  const index = readIndex(r, "index");
  const commit = readIndex(r, "commit");
  const rejectHint = readIndex(r, "rejectHint");
  const context = r.u53();
  const entryCount = r.u32();
  r.checkCount(entryCount, ENTRY_FIXED_BYTES);
  const entries: Entry[] = new Array<Entry>(entryCount);
  for (let i = 0; i < entryCount; i++) {
    const eIndex = readIndex(r, "entry index");
    const eTerm = readTerm(r, "entry term");
    const kindCode = r.u8();
    const kind = ENTRY_KINDS[kindCode];
    if (kind === undefined) throw badFrame(`unknown entry kind ${kindCode}`);
    // Copied: entries outlive the frame (storage keeps them), and the NATS client
    // may hand us a view into a buffer it reuses.
    entries[i] = { index: eIndex, term: eTerm, kind, data: r.copy(r.u32()) };
  }
  const snapshot = (flags & FLAG_SNAPSHOT) !== 0 ? readSnapshotMeta(r) : null;
  // Same field order as the core builds messages, so both share one object shape.
  return {
    type,
    from,
    to,
    term,
    logTerm,
    index,
    entries,
    commit,
    reject: (flags & FLAG_REJECT) !== 0,
    rejectHint,
    context,
    snapshot,
  };
}

function readSnapshotMeta(r: Reader): SnapshotMeta {
  const index = readIndex(r, "snapshot index");
  const term = readTerm(r, "snapshot term");
  const lists: NodeId[][] = [];
  for (let list = 0; list < 2; list++) {
    const count = r.u16();
    r.checkCount(count, 4);
    const ids: NodeId[] = new Array<NodeId>(count);
    for (let i = 0; i < count; i++) ids[i] = r.u32();
    lists.push(ids);
  }
  const conf: ConfState = { voters: lists[0]!, learners: lists[1]! };
  return { index, term, conf };
}

function readHeader(r: Reader, kind: number): void {
  const version = r.u8();
  if (version !== CODEC_VERSION) throw badFrame(`unknown codec version ${version}`);
  const actual = r.u8();
  if (actual !== kind) throw badFrame(`frame kind ${actual}, expected ${kind}`);
}

function writeHeader(w: Writer, kind: number): void {
  w.u8(CODEC_VERSION);
  w.u8(kind);
}

// ───────────────────────────── batches ─────────────────────────────

export function batchSizeBytes(messages: readonly Message[]): number {
  let size = BATCH_HEADER_BYTES;
  for (const m of messages) size += messageSizeBytes(m);
  return size;
}

/** One frame for all `messages` (sizes computed first, so one allocation); RangeError if one cannot be encoded. */
export function encodeBatch(messages: readonly Message[]): Uint8Array {
  for (const m of messages) checkEncodable(m);
  return writeBatch(messages);
}

function writeBatch(messages: readonly Message[]): Uint8Array {
  const w = new Writer(batchSizeBytes(messages));
  writeHeader(w, KIND_BATCH);
  w.u32(messages.length);
  for (const m of messages) writeMessage(w, m);
  return w.finish();
}

export function decodeBatch(frame: Uint8Array): Message[] {
  const r = new Reader(frame);
  readHeader(r, KIND_BATCH);
  const count = r.u32();
  r.checkCount(count, MESSAGE_FIXED_BYTES);
  const messages: Message[] = new Array<Message>(count);
  for (let i = 0; i < count; i++) messages[i] = readMessage(r);
  r.end();
  return messages;
}

export interface SplitBatches {
  readonly frames: Uint8Array[];
  /** Messages that alone exceed the limit: they cannot be sent at all. */
  readonly oversized: Message[];
  /** Messages holding a value the wire cannot carry or a peer would refuse (unencodableReason). */
  readonly unencodable: { readonly message: Message; readonly reason: string }[];
}

/**
 * Encode `messages` (in order) into as few frames as fit under `maxFrameBytes`, so a
 * large append never trips the server's payload limit. Order is kept across frames.
 * Never throws for a message's contents: what cannot be encoded is set aside in
 * `unencodable` (raft survives the loss), and the rest still goes.
 */
export function encodeBatches(messages: readonly Message[], maxFrameBytes: number): SplitBatches {
  const frames: Uint8Array[] = [];
  const oversized: Message[] = [];
  const unencodable: { message: Message; reason: string }[] = [];
  let group: Message[] = [];
  let groupBytes = BATCH_HEADER_BYTES;
  const emit = (): void => {
    try {
      frames.push(writeBatch(group));
    } catch {
      // Unreachable while unencodableReason mirrors writeMessage; if they ever drift,
      // lose only the message that fails, one frame each for this group.
      for (const m of group) {
        try {
          frames.push(writeBatch([m]));
        } catch (error) {
          unencodable.push({ message: m, reason: error instanceof Error ? error.message : String(error) });
        }
      }
    }
  };
  for (const m of messages) {
    const reason = unencodableReason(m);
    if (reason !== null) {
      unencodable.push({ message: m, reason });
      continue;
    }
    const size = messageSizeBytes(m);
    if (BATCH_HEADER_BYTES + size > maxFrameBytes) {
      oversized.push(m);
      continue;
    }
    if (groupBytes + size > maxFrameBytes) {
      emit();
      group = [];
      groupBytes = BATCH_HEADER_BYTES;
    }
    group.push(m);
    groupBytes += size;
  }
  if (group.length > 0) emit();
  return { frames, oversized, unencodable };
}

// ───────────────────────────── snapshot chunks ─────────────────────────────

export interface SnapshotChunk {
  /** Chosen by the sender; with `message.from` it names one transfer. */
  readonly transferId: number;
  readonly offset: number;
  /** Size of the whole snapshot in bytes. */
  readonly total: number;
  /** The "snap" message, repeated in every chunk so each chunk stands alone. */
  readonly message: Message;
  readonly chunk: Uint8Array;
}

/** Bytes a chunk frame needs besides the chunk itself. */
export function snapshotChunkOverheadBytes(message: Message): number {
  return HEADER_BYTES + 4 + 8 + 8 + messageSizeBytes(message) + 4;
}

export function encodeSnapshotChunk(c: SnapshotChunk): Uint8Array {
  checkEncodable(c.message);
  const w = new Writer(snapshotChunkOverheadBytes(c.message) + c.chunk.length);
  writeHeader(w, KIND_SNAP_CHUNK);
  w.u32(c.transferId);
  w.u53(c.offset);
  w.u53(c.total);
  writeMessage(w, c.message);
  w.u32(c.chunk.length);
  w.raw(c.chunk);
  return w.finish();
}

/** `chunk` is a view into `frame`: copy it before the frame's buffer can be reused. */
export function decodeSnapshotChunk(frame: Uint8Array): SnapshotChunk {
  const r = new Reader(frame);
  readHeader(r, KIND_SNAP_CHUNK);
  const transferId = r.u32();
  const offset = r.u53();
  const total = r.u53();
  const message = readMessage(r);
  if (message.type !== "snap" || message.snapshot === null) throw badFrame(`snapshot chunk carries a ${message.type} message`);
  const chunk = r.borrow(r.u32());
  r.end();
  if (offset + chunk.length > total) throw badFrame(`chunk [${offset}, ${offset + chunk.length}) beyond total ${total}`);
  return { transferId, offset, total, message, chunk };
}

export type SnapshotAck =
  | { readonly transferId: number; readonly status: "received" | "staged" }
  | { readonly transferId: number; readonly status: "failed"; readonly code: TransportErrorCode; readonly reason: string };

const ACK_STATUSES = ["received", "staged", "failed"] as const;

export function encodeSnapshotAck(ack: SnapshotAck): Uint8Array {
  const reason = ack.status === "failed" ? new TextEncoder().encode(ack.reason) : null;
  const w = new Writer(HEADER_BYTES + 4 + 1 + (reason === null ? 0 : 1 + reason.length));
  writeHeader(w, KIND_SNAP_ACK);
  w.u32(ack.transferId);
  w.u8(ACK_STATUSES.indexOf(ack.status));
  if (ack.status === "failed") {
    w.u8(ERROR_CODES.indexOf(ack.code));
    w.raw(reason!);
  }
  return w.finish();
}

export function decodeSnapshotAck(frame: Uint8Array): SnapshotAck {
  const r = new Reader(frame);
  readHeader(r, KIND_SNAP_ACK);
  const transferId = r.u32();
  const statusCode = r.u8();
  const status = ACK_STATUSES[statusCode];
  if (status === undefined) throw badFrame(`unknown ack status ${statusCode}`);
  if (status !== "failed") {
    r.end();
    return { transferId, status };
  }
  const code = readErrorCode(r);
  return { transferId, status, code, reason: readRestAsText(r) };
}

// ───────────────────────────── request/reply ─────────────────────────────

export interface RpcRequest {
  readonly from: NodeId;
  readonly payload: Uint8Array;
}

export function encodeRpcRequest(req: RpcRequest): Uint8Array {
  const w = new Writer(HEADER_BYTES + 4 + req.payload.length);
  writeHeader(w, KIND_RPC_REQUEST);
  w.u32(req.from);
  w.raw(req.payload);
  return w.finish();
}

/** The payload is an owned copy: handlers may keep it. */
export function decodeRpcRequest(frame: Uint8Array): RpcRequest {
  const r = new Reader(frame);
  readHeader(r, KIND_RPC_REQUEST);
  const from = r.u32();
  return { from, payload: r.copy(r.remainingBytes) };
}

export type RpcReply =
  | { readonly ok: true; readonly payload: Uint8Array }
  | { readonly ok: false; readonly code: TransportErrorCode; readonly reason: string };

export function encodeRpcReply(reply: RpcReply): Uint8Array {
  const body = reply.ok ? reply.payload : new TextEncoder().encode(reply.reason);
  const w = new Writer(HEADER_BYTES + 1 + (reply.ok ? 0 : 1) + body.length);
  writeHeader(w, KIND_RPC_REPLY);
  w.u8(reply.ok ? 0 : 1);
  if (!reply.ok) w.u8(ERROR_CODES.indexOf(reply.code));
  w.raw(body);
  return w.finish();
}

export function decodeRpcReply(frame: Uint8Array): RpcReply {
  const r = new Reader(frame);
  readHeader(r, KIND_RPC_REPLY);
  const status = r.u8();
  if (status === 0) return { ok: true, payload: r.copy(r.remainingBytes) };
  if (status !== 1) throw badFrame(`unknown reply status ${status}`);
  const code = readErrorCode(r);
  return { ok: false, code, reason: readRestAsText(r) };
}

function readErrorCode(r: Reader): TransportErrorCode {
  const n = r.u8();
  const code = ERROR_CODES[n];
  if (code === undefined) throw badFrame(`unknown error code ${n}`);
  return code;
}

function readRestAsText(r: Reader): string {
  return new TextDecoder().decode(r.borrow(r.remainingBytes));
}
