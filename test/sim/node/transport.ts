// The Transport a simulated node runs on. Raft batches go through the real wire codec
// (so no two nodes share an object, and what the codec refuses is refused here too) and
// through SimNetwork: loss, duplication, delay, reordering, partitions and one-way cuts.
// Requests (forwarded proposals and reads) and snapshot transfers cross the same links
// and fail as NATS requests do: a timeout when an answer is lost, no_responder when
// nobody is there. A snapshot transfer takes time by its size and fails if a link is cut
// or either end dies under way.

import type { IncomingSnapshot, Transport, TransportHandlers } from "../../../src/transport/transport.ts";
import { decodeBatch, encodeBatch } from "../../../src/transport/codec.ts";
import { TransportError } from "../../../src/transport/transport-error.ts";
import { readWholeSnapshot, snapshotFromBytes } from "../../../src/raft/snapshot-bytes.ts";
import type { Message, NodeId, SnapshotBytes } from "../../../src/raft/types.ts";
import type { SimNetwork } from "../network.ts";
import type { SimRandom } from "../sim-random.ts";
import type { SimScheduler } from "./scheduler.ts";

/** Snapshot bytes that cross a link per millisecond of virtual time. */
const SNAPSHOT_BYTES_PER_MS = 64 * 1024;
/** The most a transfer waits beyond its bytes. */
const SNAPSHOT_EXTRA_MS_MAX = 300;
/** How long a sender waits for the receiver to say it staged a snapshot. */
const SNAPSHOT_ACK_TIMEOUT_MS = 1000;

interface Endpoint {
  readonly handlers: TransportHandlers;
  readonly alive: () => boolean;
}

export interface NetworkObserver {
  trace(who: NodeId, text: string): void;
}

/** Who listens where: the NATS server of the simulation. */
export class SimSwitchboard {
  private readonly endpoints = new Map<NodeId, Endpoint>();
  messagesSent = 0;
  snapshotsSent = 0;

  constructor(
    readonly scheduler: SimScheduler,
    readonly network: SimNetwork,
    readonly observer: NetworkObserver,
    /** Draws how long each snapshot transfer takes beyond its bytes (chunk acks, a busy link). */
    private readonly rng: SimRandom,
  ) {}

  /** How long a snapshot of `bytes` takes to cross: by size, plus a drawn wait, so transfers from two leaders can overlap. */
  transferMs(bytes: number): number {
    return 1 + Math.ceil(bytes / SNAPSHOT_BYTES_PER_MS) + (this.rng.chance(0.3) ? this.rng.between(1, SNAPSHOT_EXTRA_MS_MAX) : 0);
  }

  attach(id: NodeId, endpoint: Endpoint): void {
    this.endpoints.set(id, endpoint);
  }

  detach(id: NodeId, endpoint: Endpoint): void {
    if (this.endpoints.get(id) === endpoint) this.endpoints.delete(id);
  }

  /** The live endpoint of `id`, if any. */
  endpoint(id: NodeId): Endpoint | null {
    const e = this.endpoints.get(id);
    return e !== undefined && e.alive() ? e : null;
  }

  /**
   * Hand `messages` to `to` as if they came off the wire: what a buggy or compromised
   * member could send (the core must drop what no correct member could have sent).
   */
  forge(to: NodeId, messages: readonly Message[]): void {
    const target = this.endpoint(to);
    if (target !== null) target.handlers.onMessages(decodeBatch(encodeBatch(messages)));
  }

  /** At most one copy (requests: NATS does not duplicate), if the link is open when it arrives. */
  carryOnce(from: NodeId, to: NodeId, deliver: () => void): void {
    const delayMs = this.network.deliveryDelaysMs()[0];
    if (delayMs === undefined) return;
    this.scheduler.at(delayMs, () => {
      if (!this.network.isBlocked(from, to)) deliver();
    });
  }

  /** Each copy that survives the network arrives after its own delay, if the link is open then. */
  carry(from: NodeId, to: NodeId, deliver: () => void): void {
    for (const delayMs of this.network.deliveryDelaysMs()) {
      this.scheduler.at(delayMs, () => {
        if (!this.network.isBlocked(from, to)) deliver();
      });
    }
  }
}

export class SimTransport implements Transport {
  private endpoint: Endpoint | null = null;
  private readonly outbox = new Map<NodeId, Message[]>();

  constructor(
    readonly nodeId: NodeId,
    private readonly board: SimSwitchboard,
    private readonly alive: () => boolean,
  ) {}

  async start(handlers: TransportHandlers): Promise<void> {
    this.endpoint = { handlers, alive: this.alive };
    this.board.attach(this.nodeId, this.endpoint);
  }

  send(messages: readonly Message[]): void {
    for (const m of messages) {
      let queued = this.outbox.get(m.to);
      if (queued === undefined) this.outbox.set(m.to, (queued = []));
      queued.push(m);
    }
  }

  flush(): void {
    if (!this.alive()) {
      this.outbox.clear();
      return;
    }
    for (const [to, messages] of this.outbox) {
      this.board.messagesSent += messages.length;
      if (process.env.SIM_DEBUG_TO === String(to)) this.board.observer.trace(this.nodeId, `send to n${to}: ${messages.map((m) => `${m.type}(t${m.term} i${m.index} c${m.commit}${m.reject ? " rej" : ""}${m.snapshot ? ` snap ${m.snapshot.index}` : ""} e${m.entries.length})`).join(" ")}`);
      const frame = encodeBatch(messages);
      this.board.carry(this.nodeId, to, () => {
        const target = this.board.endpoint(to);
        if (target === null) return;
        target.handlers.onMessages(decodeBatch(frame));
      });
    }
    this.outbox.clear();
  }

  sendSnapshot(to: NodeId, message: Message, data: SnapshotBytes): Promise<void> {
    const meta = message.snapshot;
    if (meta === null) return Promise.reject(new Error("a snap message without a snapshot"));
    this.board.snapshotsSent++;
    if (process.env.SIM_DEBUG_TO === String(to)) this.board.observer.trace(this.nodeId, `sendSnapshot to n${to}: ${meta.index}/${meta.term}`);
    const from = this.nodeId;
    return readWholeSnapshot(data).then(
      (bytes) =>
        new Promise<void>((resolveTransfer, rejectTransfer) => {
          const takesMs = this.board.transferMs(bytes.length);
          // Like the NATS sender, give up when the receiver's acknowledgement does not come.
          let settled = false;
          const once =
            <A extends unknown[]>(fn: (...args: A) => void) =>
            (...args: A): void => {
              if (settled) return;
              settled = true;
              cancelTimeout();
              fn(...args);
            };
          const resolve = once(resolveTransfer);
          const reject = once(rejectTransfer);
          const cancelTimeout = this.board.scheduler.at(takesMs + SNAPSHOT_ACK_TIMEOUT_MS, () => reject(new TransportError("timeout", `snapshot ${meta.index} to ${to}: no acknowledgement`)));
          const fail = (why: string): void => reject(new TransportError("timeout", `snapshot ${meta.index} to ${to}: ${why}`));
          // Chunks cross the link for takesMs: a cut or a death at any point fails the transfer.
          const startedBlocked = this.board.network.isBlocked(from, to);
          this.board.scheduler.at(takesMs, () => {
            if (!this.alive()) return;
            const target = this.board.endpoint(to);
            if (startedBlocked || target === null || this.board.network.isBlocked(from, to) || this.board.network.deliveryDelaysMs().length === 0) {
              fail("transfer broke off");
              return;
            }
            const incoming: IncomingSnapshot = { message: decodeBatch(encodeBatch([message]))[0]!, meta, data: snapshotFromBytes(bytes.slice()) };
            target.handlers.onSnapshot(incoming).then(
              () => this.board.carryOnce(to, from, () => (this.alive() ? resolve() : undefined)),
              (error: unknown) => reject(error),
            );
          });
        }),
    );
  }

  request(to: NodeId, payload: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    const from = this.nodeId;
    return new Promise<Uint8Array>((resolve, reject) => {
      let settled = false;
      const settle = (fn: () => void): void => {
        if (settled || !this.alive()) return;
        settled = true;
        cancelTimeout();
        fn();
      };
      const cancelTimeout = this.board.scheduler.at(timeoutMs, () =>
        settle(() => reject(new TransportError("timeout", `no reply from node ${to} within ${timeoutMs} ms`))),
      );
      if (this.board.endpoint(to) === null) {
        // NATS answers at once when no subscriber exists.
        this.board.scheduler.at(1, () => settle(() => reject(new TransportError("no_responder", `no node ${to} listens`))));
        return;
      }
      const copy = payload.slice();
      this.board.carryOnce(from, to, () => {
        const target = this.board.endpoint(to);
        if (target === null) return;
        target.handlers.onRequest(from, copy).then(
          (reply) => this.board.carryOnce(to, from, () => settle(() => resolve(reply.slice()))),
          (error: unknown) => this.board.carryOnce(to, from, () => settle(() => reject(new TransportError("remote_error", String(error))))),
        );
      });
    });
  }

  async close(): Promise<void> {
    if (this.endpoint !== null) this.board.detach(this.nodeId, this.endpoint);
    this.endpoint = null;
  }
}
