import type { ConfChange } from "../raft/types.ts";
import type { NodeErrorCode } from "./node-error.ts";

/** What a follower asks the leader to do on its behalf (over the rpc subject). */
export type ForwardedRequest =
  | { kind: "propose"; data: Uint8Array }
  /** Several proposals in one round trip; the reply's result is one ForwardedReply per proposal, in order. */
  | { kind: "proposeBatch"; data: Uint8Array[] }
  | { kind: "confChange"; change: ConfChange }
  | { kind: "transfer"; to: number };

export type ForwardedReply = { ok: true; result: unknown } | { ok: false; code: NodeErrorCode; message: string };

const KIND_PROPOSE = 1;
const KIND_JSON = 2;
const KIND_PROPOSE_BATCH = 3;

// A proposal is the hot path: its bytes go as they are, behind one kind byte. A batch is
// the kind byte, a u32 count, then each proposal as a u32 length and its bytes.
export function encodeForwardedRequest(request: ForwardedRequest): Uint8Array {
  if (request.kind === "propose") {
    const out = new Uint8Array(1 + request.data.length);
    out[0] = KIND_PROPOSE;
    out.set(request.data, 1);
    return out;
  }
  if (request.kind === "proposeBatch") {
    let size = 5;
    for (const data of request.data) size += 4 + data.length;
    const out = new Uint8Array(size);
    const view = new DataView(out.buffer);
    out[0] = KIND_PROPOSE_BATCH;
    view.setUint32(1, request.data.length);
    let at = 5;
    for (const data of request.data) {
      view.setUint32(at, data.length);
      out.set(data, at + 4);
      at += 4 + data.length;
    }
    return out;
  }
  const json = new TextEncoder().encode(JSON.stringify(request));
  const out = new Uint8Array(1 + json.length);
  out[0] = KIND_JSON;
  out.set(json, 1);
  return out;
}

export function decodeForwardedRequest(bytes: Uint8Array): ForwardedRequest | null {
  if (bytes[0] === KIND_PROPOSE) return { kind: "propose", data: bytes.subarray(1) };
  if (bytes[0] === KIND_PROPOSE_BATCH) return decodeBatch(bytes);
  if (bytes[0] !== KIND_JSON) return null;
  try {
    const parsed = JSON.parse(new TextDecoder().decode(bytes.subarray(1))) as ForwardedRequest;
    return parsed.kind === "confChange" || parsed.kind === "transfer" ? parsed : null;
  } catch {
    return null;
  }
}

export function encodeForwardedReply(reply: ForwardedReply): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(reply));
}

export function decodeForwardedReply(bytes: Uint8Array): ForwardedReply {
  return JSON.parse(new TextDecoder().decode(bytes)) as ForwardedReply;
}

function decodeBatch(bytes: Uint8Array): ForwardedRequest | null {
  if (bytes.length < 5) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = view.getUint32(1);
  const data: Uint8Array[] = [];
  let at = 5;
  for (let i = 0; i < count; i++) {
    if (at + 4 > bytes.length) return null;
    const length = view.getUint32(at);
    if (at + 4 + length > bytes.length) return null;
    data.push(bytes.subarray(at + 4, at + 4 + length));
    at += 4 + length;
  }
  return at === bytes.length ? { kind: "proposeBatch", data } : null;
}
