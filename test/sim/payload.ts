// How the simulator names log contents. Client payloads are short unique ASCII
// strings ("w17"), so a payload can be used directly as the identity of a write, and
// an entry's identity (kind + term + bytes) can be compared as a string.

import type { Entry } from "../../src/raft/types.ts";

export function encodePayload(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i) & 0xff;
  return bytes;
}

/** Byte-per-char decoding: exact for our ASCII payloads, and still an injective
 *  rendering for arbitrary bytes (conf entries), which is all an identity needs. */
export function decodePayload(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i] as number);
  return s;
}

/** Identity of an entry's contents, independent of where it sits in a log. */
export function contentKey(entry: Entry): string {
  return entry.kind === "normal" ? `n:${decodePayload(entry.data)}` : `c:${decodePayload(entry.data)}`;
}

export function sameEntry(a: Entry, b: Entry): boolean {
  if (a.index !== b.index || a.term !== b.term || a.kind !== b.kind) return false;
  if (a.data.length !== b.data.length) return false;
  for (let i = 0; i < a.data.length; i++) if (a.data[i] !== b.data[i]) return false;
  return true;
}

/** A client write is a normal entry with a non-empty payload; empty ones are leader no-ops. */
export function isClientWrite(entry: Entry): boolean {
  return entry.kind === "normal" && entry.data.length > 0;
}
