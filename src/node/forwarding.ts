import type { ConfChange } from "../raft/types.ts";
import type { NodeErrorCode } from "./node-error.ts";

/** What a follower asks the leader to do on its behalf (over the rpc subject). */
export type ForwardedRequest =
  | { kind: "propose"; data: Uint8Array }
  | { kind: "confChange"; change: ConfChange }
  | { kind: "transfer"; to: number };

export type ForwardedReply = { ok: true; result: unknown } | { ok: false; code: NodeErrorCode; message: string };

const KIND_PROPOSE = 1;
const KIND_JSON = 2;

// A proposal is the hot path: its bytes go as they are, behind one kind byte.
export function encodeForwardedRequest(request: ForwardedRequest): Uint8Array {
  if (request.kind === "propose") {
    const out = new Uint8Array(1 + request.data.length);
    out[0] = KIND_PROPOSE;
    out.set(request.data, 1);
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
