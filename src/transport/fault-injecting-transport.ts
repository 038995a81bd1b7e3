import type { Message, NodeId, SnapshotBytes } from "../raft/types.ts";
import { TransportError } from "./transport-error.ts";
import type { IncomingSnapshot, Transport, TransportHandlers } from "./transport.ts";

/**
 * Which peers a node stops talking to. `dropTo`: everything this node sends to them is
 * lost. `dropFrom`: everything they send to this node is lost. A partition between A and
 * B is A{dropTo:[B], dropFrom:[B]} plus the mirror on B; a one-way cut A -> B needs only
 * A.dropTo and B.dropFrom (either alone already loses the traffic).
 */
export interface LinkFaults {
  readonly dropTo: readonly NodeId[];
  readonly dropFrom: readonly NodeId[];
}

/** The limit on ids in one fault set: far above any cluster we run. */
export const MAX_FAULT_PEERS = 64;

/**
 * Wraps a real transport and loses the traffic of cut links, on raft messages, snapshots
 * and forwarded requests alike — the harness's partitions act on the node's real traffic.
 * A lost request looks like a lost NATS message: no answer until the caller's deadline.
 * Only a node started with `--fault-injection` has one; production nodes never do.
 * Requests from clients (id 0, not a member) are never dropped: the harness must still
 * reach an isolated node.
 */
export class FaultInjectingTransport implements Transport {
  private dropTo = new Set<NodeId>();
  private dropFrom = new Set<NodeId>();

  constructor(private readonly inner: Transport) {}

  get nodeId(): NodeId {
    return this.inner.nodeId;
  }

  faults(): LinkFaults {
    return { dropTo: [...this.dropTo].sort((a, b) => a - b), dropFrom: [...this.dropFrom].sort((a, b) => a - b) };
  }

  setFaults(faults: LinkFaults): void {
    if (faults.dropTo.length > MAX_FAULT_PEERS || faults.dropFrom.length > MAX_FAULT_PEERS) {
      throw new RangeError(`at most ${MAX_FAULT_PEERS} peers per fault set`);
    }
    this.dropTo = new Set(faults.dropTo);
    this.dropFrom = new Set(faults.dropFrom);
  }

  start(handlers: TransportHandlers): Promise<void> {
    return this.inner.start({
      onMessages: (messages: Message[]) => {
        const kept = this.dropFrom.size === 0 ? messages : messages.filter((m) => !this.dropFrom.has(m.from));
        if (kept.length > 0) handlers.onMessages(kept);
      },
      onSnapshot: (snapshot: IncomingSnapshot) => {
        // The sender waits for staging; never answering makes it time out like a lost link.
        if (this.dropFrom.has(snapshot.message.from)) return new Promise<void>(() => {});
        return handlers.onSnapshot(snapshot);
      },
      onRequest: (from: NodeId, payload: Uint8Array) => {
        if (this.dropFrom.has(from)) return new Promise<Uint8Array>(() => {});
        return handlers.onRequest(from, payload);
      },
    });
  }

  send(messages: readonly Message[]): void {
    this.inner.send(this.dropTo.size === 0 ? messages : messages.filter((m) => !this.dropTo.has(m.to)));
  }

  flush(): void {
    this.inner.flush();
  }

  sendSnapshot(to: NodeId, message: Message, data: SnapshotBytes): Promise<void> {
    if (this.dropTo.has(to)) return Promise.reject(new TransportError("timeout", `link to node ${to} is cut (fault injection)`));
    return this.inner.sendSnapshot(to, message, data);
  }

  request(to: NodeId, payload: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    if (this.dropTo.has(to)) {
      return new Promise((_, reject) =>
        setTimeout(() => reject(new TransportError("timeout", `no reply from node ${to} within ${timeoutMs} ms (link cut by fault injection)`)), timeoutMs),
      );
    }
    return this.inner.request(to, payload, timeoutMs);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
