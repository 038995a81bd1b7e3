import { randomBytes } from "node:crypto";
import type { Msg, NatsConnection, Subscription } from "@nats-io/transport-node";
import type { NodeId } from "../raft/types.ts";
import { silentLogger, type Logger } from "./log.ts";
import { inboxPrefix, replySubject } from "./subjects.ts";
import { TransportError } from "./transport-error.ts";

interface Pending {
  readonly to: string;
  readonly subject: string;
  readonly resolve: (data: Uint8Array) => void;
  readonly reject: (error: Error) => void;
  readonly timer: ReturnType<typeof setTimeout>;
}

/**
 * Request/reply whose reply subject names both ends: a request to `to` asks for its reply
 * on `_INBOX_<cluster>.<me>.<to>.<token>` (subjects.ts replySubject). nats-server lets
 * only `me` read that and only `to` publish it, so a reply that arrives there for a
 * request made to `to` comes from `to`; no identity needs allow_responses.
 *
 * nats.js's own request() would put the replies of every peer under one random inbox, and
 * its `noMux` variant subscribes and unsubscribes once per request. This keeps one
 * wildcard subscription for all of them, as nats.js's muxed inbox does: a request costs
 * one publish. A reply is matched by its token and must come from the peer the request
 * went to; anything else is dropped (logged at debug as "stray_reply").
 *
 * Tokens start with a random prefix per inbox, so a late reply to an earlier process's
 * request never completes one of ours.
 */
export class ReplyInbox {
  private readonly pending = new Map<string, Pending>();
  private readonly prefix: string;
  private readonly base = randomBytes(8).toString("hex");
  private next = 0;
  private subscription: Subscription | null = null;
  private closed = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly cluster: string,
    /** The requester token: a node id, or TOOL_SENDER for the tool. */
    private readonly me: NodeId,
    private readonly logger: Logger = silentLogger,
  ) {
    this.prefix = `${inboxPrefix(cluster, me)}.`;
  }

  /** Subscribe to this identity's reply subjects; before the first request. */
  start(): void {
    if (this.subscription !== null) return;
    this.subscription = this.nc.subscribe(`${this.prefix}*.*`, {
      callback: (error, msg) => {
        if (error !== null) this.logger.log("debug", "subscription_error", { subject: "inbox", error: error.message });
        else this.deliver(msg);
      },
    });
    // The connection closing for good fails what is still waiting.
    void this.nc.closed().then(() => this.close());
  }

  /**
   * Publish `data` on `subject` (addressed to node `to`) and resolve with `to`'s reply.
   * Rejects with TransportError: "timeout", "no_responder" (the server says nobody
   * subscribes to `subject`), "closed"; or with the client's error if it refuses the publish.
   */
  request(subject: string, to: NodeId, data: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    if (this.closed) return Promise.reject(new TransportError("closed", `no more requests: the connection is closed (${subject})`));
    if (this.subscription === null) this.start();
    const token = `${this.base}${(this.next++).toString(36)}`;
    const reply = replySubject(this.cluster, this.me, to, token);
    return new Promise<Uint8Array>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.pending.delete(token)) reject(new TransportError("timeout", `no reply on ${subject} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(token, { to: String(to), subject, resolve, reject, timer });
      try {
        this.nc.publish(subject, data, { reply });
      } catch (error) {
        clearTimeout(timer);
        this.pending.delete(token);
        reject(error as Error);
      }
    });
  }

  /** Fail every waiting request with "closed" and stop listening; later requests fail at once. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const [token, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(token);
      p.reject(new TransportError("closed", `connection closed before a reply on ${p.subject}`));
    }
    try {
      this.subscription?.unsubscribe();
    } catch {
      // Already closed with the connection.
    }
  }

  private deliver(msg: Msg): void {
    // `<prefix><to>.<token>`: the subscription lets no other shape through.
    const rest = msg.subject.slice(this.prefix.length);
    const dot = rest.indexOf(".");
    const from = rest.slice(0, dot);
    const token = rest.slice(dot + 1);
    const p = this.pending.get(token);
    if (p === undefined || p.to !== from) {
      this.logger.log("debug", "stray_reply", { subject: msg.subject });
      return;
    }
    clearTimeout(p.timer);
    this.pending.delete(token);
    // nats-server's "no responders" status: no data, header code 503.
    if (msg.data.length === 0 && msg.headers?.code === 503) p.reject(new TransportError("no_responder", `nobody listens on ${p.subject}`));
    else p.resolve(msg.data);
  }
}
