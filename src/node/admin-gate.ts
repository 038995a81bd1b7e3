import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { Message, NodeId, SnapshotBytes } from "../raft/types.ts";
import type { Transport, TransportHandlers } from "../transport/transport.ts";
import type { Logger } from "./logger.ts";
import { decodeForwardedRequest, encodeForwardedReply } from "./forwarding.ts";

// Admin operations (membership changes, leadership transfer) need the cluster's admin
// token end to end. The HTTP edge checks the caller's token; when the node that took the
// request is not the leader, it forwards the operation over the rpc subject, and the
// leader would otherwise take any member's word for it. So a forwarded admin request
// travels sealed: an HMAC-SHA256, keyed by the admin token, over the cluster, sender,
// receiver, a timestamp, a nonce and the request itself. The leader checks the seal with
// its own token and refuses an admin request that has none, a wrong one, a stale one or
// one it has seen before. Proposals pass untouched (and unsealed: the hot path).
//
// "Seen before" is remembered in memory only, so a seal issued before this gate existed
// (before the node's process started) is refused too: otherwise a seal captured on the
// wire could be replayed within its window to a leader that restarted and forgot it. The
// check has no allowance for clock skew, on purpose: a peer seals right before it
// forwards, so only a forward made just before (or within the peers' clock difference
// after) the leader's start is refused; it fails once with admin_proof_refused and the
// client retries.
//
//   sealed request   0xAD, version u8 (1), issuedAt u64 ms, nonce (16 bytes), mac (32 bytes), request

const SEALED = 0xad;
const VERSION = 1;
const HEADER_BYTES = 2 + 8 + 16 + 32;
/** A seal older (or newer: clocks of two machines) than this is refused. */
const MAX_SKEW_MS = 5 * 60_000;

export type AdminGateRefusal =
  | "admin_proof_missing" // an admin request forwarded without a seal (or by a tool)
  | "admin_proof_refused" // a seal this node cannot verify: another token, stale, replayed, issued before this node started, or none configured
  | "admin_disabled"; // this node has no admin token, so it cannot seal what it forwards

export interface AdminGateOptions {
  readonly cluster: string;
  /** The cluster's admin token; null: this node neither seals nor accepts admin requests. */
  readonly adminToken: string | null;
  readonly nowMs?: () => number;
  /** Refusals are logged as warnings (admin_request_refused): someone sent what a member never would. */
  readonly logger?: Logger;
}

/** Wraps a node's transport: seals outgoing admin requests, checks incoming ones. */
export class AdminGate implements Transport {
  readonly nodeId: NodeId;
  private readonly key: Buffer | null;
  private readonly nowMs: () => number;
  private readonly seen = new Map<string, number>();
  /** When this gate (and its memory of seen nonces) began: earlier seals are refused. */
  private readonly startedAt: number;
  private refusals = 0;

  constructor(
    private readonly inner: Transport,
    private readonly options: AdminGateOptions,
  ) {
    this.nodeId = inner.nodeId;
    // A key derived from the token, so the token itself is never an HMAC key elsewhere.
    this.key = options.adminToken === null ? null : createHash("sha256").update("concord admin forwarding v1\0").update(options.adminToken).digest();
    this.nowMs = options.nowMs ?? Date.now;
    this.startedAt = this.nowMs();
  }

  /** Admin requests refused so far. */
  get refused(): number {
    return this.refusals;
  }

  start(handlers: TransportHandlers): Promise<void> {
    return this.inner.start({
      onMessages: (messages) => handlers.onMessages(messages),
      onSnapshot: (snapshot) => handlers.onSnapshot(snapshot),
      onRequest: (from, payload) => this.serve(from, payload, handlers),
    });
  }

  send(messages: readonly Message[]): void {
    this.inner.send(messages);
  }

  flush(): void {
    this.inner.flush();
  }

  sendSnapshot(to: NodeId, message: Message, data: SnapshotBytes): Promise<void> {
    return this.inner.sendSnapshot(to, message, data);
  }

  async request(to: NodeId, payload: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    if (!isAdminRequest(payload)) return this.inner.request(to, payload, timeoutMs);
    if (this.key === null) return refusal("admin_disabled", `node ${this.nodeId} has no admin token, so it cannot forward admin requests`);
    return this.inner.request(to, this.seal(to, payload), timeoutMs);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private async serve(from: NodeId, payload: Uint8Array, handlers: TransportHandlers): Promise<Uint8Array> {
    if (payload[0] === SEALED) {
      const opened = this.open(from, payload);
      if (typeof opened === "string") return this.refuse(from, "admin_proof_refused", opened);
      return handlers.onRequest(from, opened);
    }
    if (isAdminRequest(payload)) return this.refuse(from, "admin_proof_missing", "admin requests come through HTTP with the admin token; forwarded ones must be sealed with it");
    return handlers.onRequest(from, payload);
  }

  private refuse(from: NodeId, code: AdminGateRefusal, reason: string): Uint8Array {
    this.refusals++;
    this.options.logger?.log("warn", "admin_request_refused", { from, code });
    return refusal(code, reason);
  }

  private seal(to: NodeId, request: Uint8Array): Uint8Array {
    const out = new Uint8Array(HEADER_BYTES + request.length);
    const view = new DataView(out.buffer);
    out[0] = SEALED;
    out[1] = VERSION;
    view.setBigUint64(2, BigInt(Math.floor(this.nowMs())));
    out.set(randomBytes(16), 10);
    out.set(this.mac(this.nodeId, to, out.subarray(2, 26), request), 26);
    out.set(request, HEADER_BYTES);
    return out;
  }

  /** The request inside a valid seal, or why the seal is refused. */
  private open(from: NodeId, sealed: Uint8Array): Uint8Array | string {
    if (this.key === null) return `node ${this.nodeId} has no admin token`;
    if (sealed.length <= HEADER_BYTES || sealed[1] !== VERSION) return "unreadable seal";
    const view = new DataView(sealed.buffer, sealed.byteOffset, sealed.byteLength);
    const issuedAt = Number(view.getBigUint64(2));
    const request = sealed.subarray(HEADER_BYTES);
    const expected = this.mac(from, this.nodeId, sealed.subarray(2, 26), request);
    if (!timingSafeEqual(expected, sealed.subarray(26, HEADER_BYTES))) return "the seal does not match this cluster's admin token";
    const now = this.nowMs();
    if (Math.abs(now - issuedAt) > MAX_SKEW_MS) return `the seal is ${Math.round((now - issuedAt) / 1000)} s old`;
    // Its nonce may have been used with a process whose memory is gone: refused, whatever it was.
    if (issuedAt < this.startedAt) return `the seal was issued ${this.startedAt - issuedAt} ms before this node started`;
    const nonce = Buffer.from(sealed.subarray(10, 26)).toString("hex");
    for (const [n, expires] of this.seen) if (expires < now) this.seen.delete(n);
    if (this.seen.has(nonce)) return "the seal was used before";
    this.seen.set(nonce, now + 2 * MAX_SKEW_MS);
    return request;
  }

  private mac(from: NodeId, to: NodeId, header: Uint8Array, request: Uint8Array): Buffer {
    const ids = new Uint8Array(8);
    new DataView(ids.buffer).setUint32(0, from);
    new DataView(ids.buffer).setUint32(4, to);
    return createHmac("sha256", this.key!).update(this.options.cluster).update("\0").update(ids).update(header).update(request).digest();
  }
}

/** Membership changes and leadership transfers (the forwarded requests an admin must authorize). */
function isAdminRequest(payload: Uint8Array): boolean {
  // Proposals (kinds 1 and 3) are never admin requests: skip decoding them.
  if (payload[0] === 1 || payload[0] === 3) return false;
  const request = decodeForwardedRequest(payload);
  return request !== null && (request.kind === "confChange" || request.kind === "transfer");
}

/**
 * A refusal as the forwarded reply raft-node decodes. NodeErrorCode has no "forbidden",
 * so it travels as "invalid" (HTTP 400) with the stable refusal code leading the message.
 */
function refusal(code: AdminGateRefusal, reason: string): Uint8Array {
  return encodeForwardedReply({ ok: false, code: "invalid", message: `${code}: ${reason}` });
}
