import type { Message, NodeId, SnapshotBytes } from "../raft/types.ts";
import { deliverBatch } from "./batch-delivery.ts";
import { encodeBatches, encodeRpcRequest } from "./codec.ts";
import { Outbox } from "./outbox.ts";
import { RequestServer, unwrapRpcReply } from "./rpc.ts";
import { SnapshotReceiver } from "./snapshot-receiver.ts";
import { sendSnapshotInChunks } from "./snapshot-sender.ts";
import { TransportError } from "./transport-error.ts";
import type { Transport, TransportHandlers } from "./transport.ts";
import { type TransportTuning, randomTransferId, withDefaults } from "./tuning.ts";

// An in-process network for tests and benchmarks. Frames go through the real codec
// (so nodes never share mutable message objects, and the benchmark pays for
// encoding), are delivered asynchronously, and can be dropped per link.

/** Return true to drop traffic from `from` to `to` (both directions matter for a request). */
export type LinkFault = (from: NodeId, to: NodeId) => boolean;

export interface MemoryNetworkOptions {
  /** Largest frame a link carries; snapshots are chunked under it. nats-server's default. */
  readonly maxFrameBytes?: number;
  /** Batches waiting for delivery per destination; past it, batches are dropped. */
  readonly maxPendingBatches?: number;
}

type Channel = "snap" | "rpc";

interface PendingBatch {
  readonly from: NodeId;
  readonly frame: Uint8Array;
}

export class MemoryNetwork {
  readonly maxFrameBytes: number;
  private readonly maxPendingBatches: number;
  private readonly endpoints = new Map<NodeId, MemoryTransport>();
  private readonly inboxes = new Map<NodeId, PendingBatch[]>();
  private readonly cuts = new Set<string>();
  private fault: LinkFault | null = null;

  constructor(options: MemoryNetworkOptions = {}) {
    this.maxFrameBytes = options.maxFrameBytes ?? 1024 * 1024;
    this.maxPendingBatches = options.maxPendingBatches ?? 4096;
  }

  /** A transport for `nodeId` on this network; replaces a closed one (a restarted node). */
  endpoint(nodeId: NodeId, tuning: Partial<TransportTuning> = {}): MemoryTransport {
    const existing = this.endpoints.get(nodeId);
    if (existing !== undefined && !existing.isClosed) throw new Error(`node ${nodeId} already has an open endpoint`);
    const transport = new MemoryTransport(this, nodeId, withDefaults(tuning));
    this.endpoints.set(nodeId, transport);
    return transport;
  }

  /** Drop everything from `from` to `to` (one direction) until `heal()`. */
  cut(from: NodeId, to: NodeId): void {
    this.cuts.add(linkKey(from, to));
  }

  /** Remove every cut and the fault hook. */
  heal(): void {
    this.cuts.clear();
    this.fault = null;
  }

  /** A custom fault, consulted for every batch and every request leg (e.g. random loss). */
  setFault(fault: LinkFault | null): void {
    this.fault = fault;
  }

  private dropsTraffic(from: NodeId, to: NodeId): boolean {
    return this.cuts.has(linkKey(from, to)) || (this.fault !== null && this.fault(from, to));
  }

  /** @internal Queue one batch frame for asynchronous delivery; false if it was dropped. */
  deliver(from: NodeId, to: NodeId, frame: Uint8Array): boolean {
    if (this.dropsTraffic(from, to) || !this.endpoints.has(to)) return false;
    let inbox = this.inboxes.get(to);
    if (inbox === undefined) {
      inbox = [];
      this.inboxes.set(to, inbox);
    }
    if (inbox.length >= this.maxPendingBatches) return false;
    inbox.push({ from, frame });
    // One drain per destination per turn. setImmediate rather than a microtask: a
    // ping-pong between drivers must not starve their tick timers.
    if (inbox.length === 1) setImmediate(() => this.drain(to));
    return true;
  }

  private drain(to: NodeId): void {
    const inbox = this.inboxes.get(to);
    if (inbox === undefined) return;
    this.inboxes.delete(to);
    const target = this.endpoints.get(to);
    if (target === undefined) return;
    for (const batch of inbox) target.receive(batch.frame);
  }

  /** @internal One request/reply exchange between endpoints. */
  request(from: NodeId, to: NodeId, channel: Channel, frame: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      // A lost leg looks like NATS: no answer, so the deadline decides.
      const timer = setTimeout(() => reject(new TransportError("timeout", `no ${channel} reply from node ${to} within ${timeoutMs} ms`)), timeoutMs);
      setImmediate(async () => {
        const target = this.endpoints.get(to);
        if (target === undefined || !target.isServing) {
          clearTimeout(timer);
          reject(new TransportError("no_responder", `node ${to} is not listening`));
          return;
        }
        if (this.dropsTraffic(from, to)) return;
        const reply = await target.serve(channel, frame);
        if (!target.isServing || this.dropsTraffic(to, from)) return;
        clearTimeout(timer);
        resolve(reply);
      });
    });
  }

  /** @internal */
  unregister(transport: MemoryTransport): void {
    if (this.endpoints.get(transport.nodeId) === transport) this.endpoints.delete(transport.nodeId);
  }
}

function linkKey(from: NodeId, to: NodeId): string {
  return `${from}>${to}`;
}

/**
 * One node's endpoint on a MemoryNetwork. After close(): send and flush are no-ops,
 * sendSnapshot and request reject with TransportError("closed"), pending requests
 * reject with "closed", and no handler is called again.
 */
export class MemoryTransport implements Transport {
  private readonly outbox: Outbox;
  private handlers: TransportHandlers | null = null;
  private receiver: SnapshotReceiver | null = null;
  private requestServer: RequestServer | null = null;
  private readonly pending = new Set<(error: TransportError) => void>();
  private closed = false;

  /** Use MemoryNetwork.endpoint(). */
  constructor(
    private readonly network: MemoryNetwork,
    readonly nodeId: NodeId,
    private readonly tuning: TransportTuning,
  ) {
    this.outbox = new Outbox(tuning.maxQueuedMessages);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** @internal Started and not closed: requests to it get answers. */
  get isServing(): boolean {
    return !this.closed && this.handlers !== null;
  }

  async start(handlers: TransportHandlers): Promise<void> {
    if (this.closed) throw new TransportError("closed", `transport of node ${this.nodeId} is closed`);
    if (this.handlers !== null) throw new Error(`transport of node ${this.nodeId} already started`);
    this.handlers = handlers;
    const t = this.tuning;
    this.receiver = new SnapshotReceiver({
      maxSnapshotBytes: t.maxSnapshotBytes,
      maxConcurrentTransfers: t.maxConcurrentSnapshotTransfers,
      idleTimeoutMs: t.snapshotIdleTimeoutMs,
      openSink: t.openSnapshotSink,
      onSnapshot: (s) => handlers.onSnapshot(s),
      logger: t.logger,
    });
    this.requestServer = new RequestServer(t.maxConcurrentRequests, (from, payload) => handlers.onRequest(from, payload));
  }

  send(messages: readonly Message[]): void {
    if (this.closed) return;
    const dropped = this.outbox.add(messages);
    if (dropped > 0) this.tuning.logger.log("debug", "outbox_full", { dropped });
  }

  flush(): void {
    if (this.closed) return;
    for (const [to, messages] of this.outbox.take()) {
      const { frames, oversized, unencodable } = encodeBatches(messages, this.network.maxFrameBytes);
      if (oversized.length > 0) this.tuning.logger.log("warn", "message_too_large", { to, count: oversized.length, maxFrameBytes: this.network.maxFrameBytes });
      if (unencodable.length > 0) this.tuning.logger.log("debug", "message_unencodable", { to, count: unencodable.length, reason: unencodable[0]!.reason });
      for (const frame of frames) this.network.deliver(this.nodeId, to, frame);
    }
  }

  async sendSnapshot(to: NodeId, message: Message, data: SnapshotBytes): Promise<void> {
    this.assertOpen();
    await sendSnapshotInChunks({
      message,
      data,
      transferId: randomTransferId(),
      maxFrameBytes: this.network.maxFrameBytes,
      maxChunksInFlight: this.tuning.maxChunksInFlight,
      chunkTimeoutMs: this.tuning.snapshotChunkTimeoutMs,
      stageTimeoutMs: this.tuning.snapshotStageTimeoutMs,
      request: (frame, timeoutMs) => this.exchange(to, "snap", frame, timeoutMs),
    });
  }

  async request(to: NodeId, payload: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    this.assertOpen();
    const frame = encodeRpcRequest({ from: this.nodeId, payload });
    if (frame.length > this.network.maxFrameBytes) {
      throw new TransportError("too_large", `request of ${payload.length} bytes exceeds ${this.network.maxFrameBytes}`);
    }
    return unwrapRpcReply(await this.exchange(to, "rpc", frame, timeoutMs));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.outbox.clear();
    this.receiver?.close();
    this.network.unregister(this);
    const error = new TransportError("closed", `transport of node ${this.nodeId} closed`);
    for (const reject of this.pending) reject(error);
    this.pending.clear();
  }

  /** @internal A batch frame arrived. */
  receive(frame: Uint8Array): void {
    const handlers = this.handlers;
    if (this.closed || handlers === null) return;
    deliverBatch(frame, handlers, this.tuning.logger);
  }

  /** @internal Answer a snapshot chunk or a request. */
  serve(channel: Channel, frame: Uint8Array): Promise<Uint8Array> {
    // The network checked isServing, and start() creates both before that holds.
    return channel === "snap" ? this.receiver!.handle(frame) : this.requestServer!.handle(frame);
  }

  private exchange(to: NodeId, channel: Channel, frame: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    this.assertOpen();
    return new Promise((resolve, reject) => {
      this.pending.add(reject);
      this.network.request(this.nodeId, to, channel, frame, timeoutMs).then(
        (reply) => {
          this.pending.delete(reject);
          resolve(reply);
        },
        (error: unknown) => {
          this.pending.delete(reject);
          reject(error);
        },
      );
    });
  }

  private assertOpen(): void {
    if (this.closed) throw new TransportError("closed", `transport of node ${this.nodeId} is closed`);
  }
}
