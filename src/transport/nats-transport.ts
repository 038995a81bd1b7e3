import {
  AuthorizationError,
  ClosedConnectionError,
  type ConnectionOptions,
  DrainingConnectionError,
  InvalidArgumentError,
  type Msg,
  type NatsConnection,
  connect,
  nkeyAuthenticator,
} from "@nats-io/transport-node";
import type { Message, NodeId, SnapshotBytes } from "../raft/types.ts";
import { decodeBatch, encodeBatches, encodeRpcRequest } from "./codec.ts";
import { errorMessage } from "./log.ts";
import { Outbox } from "./outbox.ts";
import { ReplyInbox } from "./reply-inbox.ts";
import { RequestServer, unwrapRpcReply } from "./rpc.ts";
import { SnapshotReceiver } from "./snapshot-receiver.ts";
import { sendSnapshotInChunks } from "./snapshot-sender.ts";
import {
  type Channel,
  TOOL_SENDER,
  checkClusterName,
  inboundSubject,
  inboxPrefix,
  isReplySubject,
  raftSubject,
  rpcSubject,
  senderOf,
  snapSubject,
} from "./subjects.ts";
import { TransportError } from "./transport-error.ts";
import type { Transport, TransportHandlers } from "./transport.ts";
import { type TransportTuning, randomTransferId, withDefaults } from "./tuning.ts";

export interface NatsTransportOptions extends Partial<TransportTuning> {
  readonly servers: string | readonly string[];
  /** The raft group's name: one subject token. */
  readonly cluster: string;
  readonly nodeId: NodeId;
  /**
   * This node's nkey seed (see nats-identity.ts): nats-server knows the node by its public
   * key and lets it publish only as itself. Absent: connect anonymously (a server without
   * authorization; never Concord's).
   */
  readonly seed?: Uint8Array;
  /** Connect over TLS, trusting this CA (PEM file) for the server's certificate. */
  readonly tls?: { readonly caFile: string };
  /** Cap frames below the server's max_payload (the server's limit always applies). */
  readonly maxPayloadBytes?: number;
  /** Handshake deadline of one connection attempt. */
  readonly connectTimeoutMs?: number;
  /** Pause between reconnect attempts; short, since raft is stalled while we are away. */
  readonly reconnectWaitMs?: number;
  /** Client pings find a silently dead server (SIGSTOP, lost route) after ~2 intervals. */
  readonly pingIntervalMs?: number;
  /** How long close() waits to flush what is already written. */
  readonly closeTimeoutMs?: number;
}

/**
 * Hand what the client has buffered to the socket now. nats.js writes publishes on a
 * microtask after the first one; the driver sends appends and then runs its fsync
 * synchronously (the libsql binding blocks the event loop), so without this the appends
 * left only after the leader's own fsync, and followers' acks only after their apply:
 * two disk writes in series instead of in parallel. `flushPending` is the client's own
 * method for this (sendCommand calls it inline past its pending limit); if a release
 * renames it, we fall back to the client's microtask.
 */
function writeNow(nc: NatsConnection): void {
  (nc as unknown as { protocol?: { flushPending?: () => void } }).protocol?.flushPending?.();
}

/** nats-server refused this node's identity (or has none for it). */
export class NatsAuthError extends Error {
  override readonly name = "NatsAuthError";
  readonly code = "nats_auth_refused";
}

/** Traffic this transport refused to deliver, by cause. */
export interface NatsTransportStats {
  /** Frames whose payload named a sender (or receiver) other than the subject's. */
  readonly senderMismatches: number;
  /** Requests not answered because their reply subject was not the requester's inbox for us. */
  readonly refusedReplySubjects: number;
}

/** nats-server's default max_payload, used until the server has told us its own. */
const DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024;

/**
 * Transport over core NATS (at-most-once, which raft tolerates).
 *
 * - start() resolves once connected and subscribed; until a first server answers it
 *   keeps trying. After that the client reconnects forever and resubscribes by itself.
 * - While disconnected, flush() drops batches instead of handing them to the client,
 *   whose reconnect buffer has no byte limit; request() and snapshot chunks fail at
 *   once with "no_responder". So nothing queues up while a server is away.
 * - After close(): send and flush are no-ops, sendSnapshot and request reject with
 *   TransportError("closed"), and no handler is called again.
 * - Logs nothing unless given a `logger`; lost traffic raft will not resend (message_too_large) is a warning, the rest debug.
 *
 * Identity: the node connects with its own nkey and subscribes only to its own subjects
 * (`concord.<cluster>.<channel>.<nodeId>.*`, see subjects.ts); it publishes as
 * `…<channel>.<to>.<nodeId>`, and nats-server lets it publish nothing else. A receiver
 * takes the sender from the subject and drops a frame whose payload claims another
 * sender or receiver (counted in stats(), logged as "sender_mismatch").
 *
 * Replies: a request to node `to` asks for its reply on `_INBOX_<cluster>.<nodeId>.<to>.<token>`
 * (ReplyInbox), which only `to` may publish, so the reply is `to`'s. The node answers a
 * request only when its reply subject is of that shape for the subject's sender and this
 * node; any other (a peer's raft subject, someone else's inbox) would make it a relay
 * for the requester, so such requests are dropped unanswered (counted in stats(), logged
 * as "reply_subject_refused"). No identity has allow_responses.
 */
export class NatsTransport implements Transport {
  readonly nodeId: NodeId;
  private readonly tuning: TransportTuning;
  private readonly outbox: Outbox;
  private nc: NatsConnection | null = null;
  private connected = false;
  private closed = false;
  private receiver: SnapshotReceiver | null = null;
  private statusLoop: Promise<void> = Promise.resolve();
  private senderMismatches = 0;
  private refusedReplySubjects = 0;
  private inbox: ReplyInbox | null = null;

  constructor(private readonly options: NatsTransportOptions) {
    checkClusterName(options.cluster);
    this.nodeId = options.nodeId;
    this.tuning = withDefaults(options);
    this.outbox = new Outbox(this.tuning.maxQueuedMessages);
  }

  async start(handlers: TransportHandlers): Promise<void> {
    this.assertOpen();
    if (this.nc !== null) throw new Error(`transport of node ${this.nodeId} already started`);
    const o = this.options;
    const t = this.tuning;
    const reconnectWaitMs = o.reconnectWaitMs ?? 250;
    const connection: ConnectionOptions = {
      servers: typeof o.servers === "string" ? o.servers : [...o.servers],
      name: `concord-${o.cluster}-${o.nodeId}`,
      reconnect: true,
      maxReconnectAttempts: -1,
      waitOnFirstConnect: true,
      reconnectTimeWait: reconnectWaitMs,
      reconnectJitter: Math.min(100, reconnectWaitMs),
      timeout: o.connectTimeoutMs ?? 5_000,
      pingInterval: o.pingIntervalMs ?? 5_000,
      maxPingOut: 2,
      // An Error (with a stack) per request costs more than the request on this path.
      noAsyncTraces: true,
      // Only we may subscribe under our inbox prefix (ReplyInbox's subjects are there too).
      inboxPrefix: inboxPrefix(o.cluster, o.nodeId),
      ...(o.seed !== undefined ? { authenticator: nkeyAuthenticator(o.seed) } : {}),
      ...(o.tls !== undefined ? { tls: { caFile: o.tls.caFile } } : {}),
    };
    let nc: NatsConnection;
    try {
      nc = await connect(connection);
    } catch (error) {
      if (error instanceof AuthorizationError) {
        throw new NatsAuthError(
          o.seed === undefined
            ? `nats-server requires an identity and node ${o.nodeId} has none (${error.message}): pass --nats-identity FILE`
            : `nats-server refused node ${o.nodeId}'s identity (${error.message}): it must be one of the server's configured nkeys`,
        );
      }
      throw error;
    }
    if (this.closed) {
      // close() ran while we were connecting.
      await nc.close().catch(() => {});
      throw new TransportError("closed", `transport of node ${this.nodeId} closed while connecting`);
    }
    this.nc = nc;
    this.connected = true;
    this.inbox = new ReplyInbox(nc, o.cluster, o.nodeId, t.logger);
    this.inbox.start();
    this.statusLoop = this.watchStatus(nc);
    void nc.closed().then((error) => {
      this.connected = false;
      if (!this.closed) t.logger.log("debug", "connection_closed", { error: error === undefined ? null : errorMessage(error) });
    });

    this.receiver = new SnapshotReceiver({
      maxSnapshotBytes: t.maxSnapshotBytes,
      maxConcurrentTransfers: t.maxConcurrentSnapshotTransfers,
      idleTimeoutMs: t.snapshotIdleTimeoutMs,
      openSink: t.openSnapshotSink,
      onSnapshot: (s) => handlers.onSnapshot(s),
      logger: t.logger,
      onSenderMismatch: (sender, claimed) => this.mismatch("snap", sender, claimed),
    });
    const receiver = this.receiver;
    const requestServer = new RequestServer(
      t.maxConcurrentRequests,
      (from, payload) => handlers.onRequest(from, payload),
      (sender, claimed) => this.mismatch("rpc", sender, claimed),
    );

    nc.subscribe(inboundSubject(o.cluster, "raft", o.nodeId), {
      callback: (error, msg) => {
        if (error !== null) return t.logger.log("debug", "subscription_error", { subject: "raft", error: errorMessage(error) });
        const sender = this.sender(msg, "raft");
        if (sender !== null) this.receiveBatch(handlers, msg.data, sender);
      },
    });
    nc.subscribe(inboundSubject(o.cluster, "snap", o.nodeId), {
      callback: (error, msg) => {
        if (error !== null) return t.logger.log("debug", "subscription_error", { subject: "snap", error: errorMessage(error) });
        const sender = this.sender(msg, "snap");
        if (sender !== null && this.answerable(msg, "snap", sender) && !this.closed) void receiver.handle(msg.data, sender).then((ack) => this.respond(msg, ack));
      },
    });
    nc.subscribe(inboundSubject(o.cluster, "rpc", o.nodeId), {
      callback: (error, msg) => {
        if (error !== null) return t.logger.log("debug", "subscription_error", { subject: "rpc", error: errorMessage(error) });
        const sender = this.sender(msg, "rpc");
        if (sender !== null && this.answerable(msg, "rpc", sender) && !this.closed) void requestServer.handle(msg.data, sender).then((reply) => this.respond(msg, reply));
      },
    });
    // The server knows our subscriptions once this resolves: a peer's first send is not lost.
    await nc.flush();
  }

  send(messages: readonly Message[]): void {
    if (this.closed) return;
    const dropped = this.outbox.add(messages);
    if (dropped > 0) this.tuning.logger.log("debug", "outbox_full", { dropped });
  }

  flush(): void {
    if (this.closed) return;
    const batches = this.outbox.take();
    const nc = this.nc;
    if (nc === null || !this.connected) {
      if (batches.size > 0) this.tuning.logger.log("debug", "dropped_while_disconnected", { peers: batches.size });
      return;
    }
    const maxFrameBytes = this.maxFrameBytes(nc);
    for (const [to, messages] of batches) {
      const { frames, oversized } = encodeBatches(messages, maxFrameBytes);
      if (oversized.length > 0) this.tuning.logger.log("warn", "message_too_large", { to, count: oversized.length, maxFrameBytes });
      const subject = raftSubject(this.options.cluster, to, this.nodeId);
      for (const frame of frames) {
        try {
          nc.publish(subject, frame);
        } catch (error) {
          this.tuning.logger.log("debug", "publish_failed", { to, error: errorMessage(error) });
        }
      }
    }
    if (batches.size > 0) writeNow(nc);
  }

  async sendSnapshot(to: NodeId, message: Message, data: SnapshotBytes): Promise<void> {
    const nc = this.connection();
    const subject = snapSubject(this.options.cluster, to, this.nodeId);
    await sendSnapshotInChunks({
      message,
      data,
      transferId: randomTransferId(),
      maxFrameBytes: this.maxFrameBytes(nc),
      maxChunksInFlight: this.tuning.maxChunksInFlight,
      chunkTimeoutMs: this.tuning.snapshotChunkTimeoutMs,
      stageTimeoutMs: this.tuning.snapshotStageTimeoutMs,
      request: (frame, timeoutMs) => this.exchange(subject, to, frame, timeoutMs),
    });
  }

  async request(to: NodeId, payload: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    const nc = this.connection();
    const frame = encodeRpcRequest({ from: this.nodeId, payload });
    const maxFrameBytes = this.maxFrameBytes(nc);
    if (frame.length > maxFrameBytes) throw new TransportError("too_large", `request of ${payload.length} bytes exceeds ${maxFrameBytes}`);
    return unwrapRpcReply(await this.exchange(rpcSubject(this.options.cluster, to, this.nodeId), to, frame, timeoutMs));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.outbox.clear();
    this.receiver?.close();
    const nc = this.nc;
    if (nc === null) return;
    if (this.connected) {
      // Best effort: what raft already sent may still be useful to peers.
      let timer: ReturnType<typeof setTimeout> | undefined;
      const deadline = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.options.closeTimeoutMs ?? 2_000);
      });
      await Promise.race([nc.flush().catch(() => {}), deadline]);
      clearTimeout(timer);
    }
    await nc.close().catch(() => {});
    this.inbox?.close();
    await this.statusLoop;
  }

  /** Traffic refused so far: payloads that disagreed with their subject, requests with a foreign reply subject. */
  stats(): NatsTransportStats {
    return { senderMismatches: this.senderMismatches, refusedReplySubjects: this.refusedReplySubjects };
  }

  /**
   * The sender a message's subject names; null (dropped) when it names none we accept:
   * the tool sender only ever sends forwarded proposals, never raft or snapshot traffic.
   */
  private sender(msg: Msg, channel: Channel): NodeId | null {
    const sender = senderOf(msg.subject, this.options.cluster, channel, this.nodeId);
    if (sender === null || (sender === TOOL_SENDER && channel !== "rpc")) {
      this.senderMismatches++;
      this.tuning.logger.log("debug", "sender_mismatch", { channel, subject: msg.subject });
      return null;
    }
    return sender;
  }

  /** Whether to answer this request: only on `sender`'s inbox for us, never relaying elsewhere. */
  private answerable(msg: Msg, channel: Channel, sender: NodeId): boolean {
    if (isReplySubject(msg.reply, this.options.cluster, sender, this.nodeId)) return true;
    this.refusedReplySubjects++;
    this.tuning.logger.log("debug", "reply_subject_refused", { channel, sender, reply: msg.reply ?? null });
    return false;
  }

  private mismatch(channel: Channel, sender: NodeId, claimed: NodeId): void {
    this.senderMismatches++;
    this.tuning.logger.log("debug", "sender_mismatch", { channel, sender, claimed });
  }

  private receiveBatch(handlers: TransportHandlers, frame: Uint8Array, sender: NodeId): void {
    if (this.closed) return;
    // As deliverBatch does, plus: every message comes from the subject's sender to us.
    let messages: Message[];
    try {
      messages = decodeBatch(frame);
    } catch (error) {
      this.tuning.logger.log("debug", "bad_frame", { error: errorMessage(error) });
      return;
    }
    const me = this.nodeId;
    let mismatched = false;
    for (const m of messages) {
      if (m.from !== sender || m.to !== me) {
        mismatched = true;
        this.mismatch("raft", sender, m.from);
      }
    }
    if (mismatched) messages = messages.filter((m) => m.from === sender && m.to === me);
    if (messages.length === 0) return;
    try {
      handlers.onMessages(messages);
    } catch (error) {
      this.tuning.logger.log("debug", "handler_failed", { handler: "onMessages", error: errorMessage(error) });
    }
  }

  private respond(msg: Msg, reply: Uint8Array): void {
    if (this.closed) return;
    try {
      // False when disconnected: the requester's deadline covers it.
      // No writeNow here: replies finishing in the same turn share one socket write.
      if (!msg.respond(reply)) this.tuning.logger.log("debug", "reply_lost", { subject: msg.subject });
    } catch (error) {
      this.tuning.logger.log("debug", "reply_lost", { subject: msg.subject, error: errorMessage(error) });
    }
  }

  private async exchange(subject: string, to: NodeId, frame: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    this.assertOpen();
    if (!this.connected) throw new TransportError("no_responder", `not connected to NATS (${subject})`);
    try {
      return await this.inbox!.request(subject, to, frame, timeoutMs);
    } catch (error) {
      throw this.translate(error, subject);
    }
  }

  private translate(error: unknown, subject: string): TransportError {
    if (error instanceof TransportError) return error;
    // ReplyInbox reports timeouts and "no responders" as TransportErrors; what remains is the client refusing the publish.
    if (this.closed) return new TransportError("closed", `transport of node ${this.nodeId} closed`);
    if (error instanceof ClosedConnectionError || error instanceof DrainingConnectionError) {
      return new TransportError("closed", `NATS connection closed: ${errorMessage(error)}`);
    }
    if (error instanceof InvalidArgumentError) return new TransportError("too_large", errorMessage(error));
    // Anything else the client throws: no answer will come, as with a timeout.
    return new TransportError("timeout", `request on ${subject} failed: ${errorMessage(error)}`);
  }

  private async watchStatus(nc: NatsConnection): Promise<void> {
    const logger = this.tuning.logger;
    for await (const s of nc.status()) {
      switch (s.type) {
        case "disconnect":
          this.connected = false;
          logger.log("debug", "disconnected", { server: s.server });
          break;
        case "reconnect":
          this.connected = true;
          logger.log("debug", "reconnected", { server: s.server });
          break;
        case "error":
          logger.log("debug", "server_error", { error: errorMessage(s.error) });
          break;
        case "ldm":
        case "staleConnection":
        case "slowConsumer":
          logger.log("debug", s.type, {});
          break;
        default:
          break;
      }
    }
  }

  private maxFrameBytes(nc: NatsConnection): number {
    // Re-read on every use: after a reconnect we may be on a server with another limit.
    const serverMax = nc.info?.max_payload ?? DEFAULT_MAX_PAYLOAD_BYTES;
    return Math.min(serverMax, this.options.maxPayloadBytes ?? serverMax);
  }

  private connection(): NatsConnection {
    this.assertOpen();
    if (this.nc === null) throw new Error(`transport of node ${this.nodeId} not started`);
    return this.nc;
  }

  private assertOpen(): void {
    if (this.closed) throw new TransportError("closed", `transport of node ${this.nodeId} is closed`);
  }
}
