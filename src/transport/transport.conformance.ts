import { blankMessage } from "../raft/message.ts";
import { readWholeSnapshot, snapshotFromBytes } from "../raft/snapshot-bytes.ts";
import { describe, expect, test } from "bun:test";
import type { Message, NodeId } from "../raft/types.ts";
import { TransportError } from "./transport-error.ts";
import type { IncomingSnapshot, Transport, TransportHandlers } from "./transport.ts";

export interface TransportCluster {
  /** One transport per requested node id, not started yet. */
  readonly transports: ReadonlyMap<NodeId, Transport>;
  cleanup(): Promise<void>;
}

export type MakeTransportCluster = (nodeIds: readonly NodeId[]) => Promise<TransportCluster>;

const WAIT_MS = 10_000;

export function message(over: Partial<Message> & Pick<Message, "from" | "to">): Message {
  return { ...blankMessage("heartbeat", over.from, over.to, 1), ...over };
}

function snapMessage(from: NodeId, to: NodeId): Message {
  return message({ type: "snap", from, to, term: 7, snapshot: { index: 1234, term: 6, conf: { voters: [1, 2, 3], learners: [4] } } });
}

/** Deterministic bytes that differ at every position a chunking bug could shift. */
function patterned(lengthBytes: number): Uint8Array {
  const out = new Uint8Array(lengthBytes);
  let x = 0x9e3779b9;
  for (let i = 0; i < lengthBytes; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Records what one node receives; tests wait on it instead of sleeping. */
class Peer {
  readonly batches: Message[][] = [];
  readonly snapshots: IncomingSnapshot[] = [];
  onSnapshot: (s: IncomingSnapshot) => Promise<void> = async () => {};
  onRequest: (from: NodeId, payload: Uint8Array) => Promise<Uint8Array> = async (from, payload) =>
    new Uint8Array([from, ...payload]);
  private wake: (() => void) | null = null;

  constructor(readonly transport: Transport) {}

  get messages(): Message[] {
    return this.batches.flat();
  }

  handlers(): TransportHandlers {
    return {
      onMessages: (messages) => {
        this.batches.push(messages);
        this.notify();
      },
      onSnapshot: (s) => {
        this.snapshots.push(s);
        this.notify();
        return this.onSnapshot(s);
      },
      onRequest: (from, payload) => this.onRequest(from, payload),
    };
  }

  async until(what: string, done: () => boolean): Promise<void> {
    const deadline = Date.now() + WAIT_MS;
    while (!done()) {
      const leftMs = deadline - Date.now();
      if (leftMs <= 0) throw new Error(`node ${this.transport.nodeId}: timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, leftMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }
}

async function rejection(p: Promise<unknown>): Promise<TransportError> {
  try {
    await p;
  } catch (error) {
    if (error instanceof TransportError) return error;
    throw error;
  }
  throw new Error("expected a rejection");
}

/** One suite for every Transport implementation. */
export function describeTransport(name: string, makeCluster: MakeTransportCluster): void {
  describe(`Transport conformance: ${name}`, () => {
    async function withPeers(ids: readonly NodeId[], body: (peers: Map<NodeId, Peer>) => Promise<void>): Promise<void> {
      const cluster = await makeCluster(ids);
      try {
        const peers = new Map<NodeId, Peer>();
        for (const [id, transport] of cluster.transports) peers.set(id, new Peer(transport));
        await Promise.all([...peers.values()].map((p) => p.transport.start(p.handlers())));
        await body(peers);
      } finally {
        await cluster.cleanup();
      }
    }

    test("one flush delivers one batch per peer, every field and byte intact", () =>
      withPeers([1, 2, 3], async (peers) => {
        const big = 2 ** 40 + 3;
        const toTwo: Message[] = [
          message({
            type: "app",
            from: 1,
            to: 2,
            term: big,
            logTerm: big - 1,
            index: big + 7,
            commit: big + 5,
            entries: [
              { index: big + 8, term: big, kind: "normal", data: new Uint8Array([0, 255, 1, 254]) },
              { index: big + 9, term: big, kind: "conf", data: new Uint8Array([1, 1, 0, 0, 0, 4]) },
              { index: big + 10, term: big, kind: "normal", data: new Uint8Array(0) },
            ],
          }),
          message({ type: "appResp", from: 1, to: 2, reject: true, rejectHint: 41, logTerm: 3, index: 44 }),
          message({ type: "readIndexResp", from: 1, to: 2, index: 99, context: 2 ** 50 }),
          snapMessage(1, 2),
        ];
        const toThree = [message({ type: "vote", from: 1, to: 3, term: 5, index: 10, logTerm: 4, context: 1 })];
        const sender = peers.get(1)!.transport;
        sender.send([toTwo[0]!, toThree[0]!, toTwo[1]!]);
        sender.send(toTwo.slice(2));
        sender.flush();
        const two = peers.get(2)!;
        const three = peers.get(3)!;
        await two.until("the batch", () => two.batches.length > 0);
        await three.until("the batch", () => three.batches.length > 0);
        expect(two.batches).toEqual([toTwo]);
        expect(three.batches).toEqual([toThree]);
        expect(two.batches[0]![0]!.entries[0]!.data).toBeInstanceOf(Uint8Array);
      }));

    test("a burst arrives complete and in order per peer", () =>
      withPeers([1, 2, 3], async (peers) => {
        const sender = peers.get(1)!.transport;
        const count = 2000;
        for (let i = 0; i < count; i++) {
          sender.send([
            message({ type: "app", from: 1, to: 2, context: i, entries: [{ index: i + 1, term: 1, kind: "normal", data: new Uint8Array(64) }] }),
            message({ from: 1, to: 3, context: i }),
          ]);
          if (i % 10 === 9) sender.flush();
        }
        sender.flush();
        for (const id of [2, 3]) {
          const peer = peers.get(id)!;
          await peer.until(`${count} messages`, () => peer.messages.length >= count);
          expect(peer.messages.map((m) => m.context)).toEqual(Array.from({ length: count }, (_, i) => i));
        }
      }));

    test("messages to an unknown or closed peer are dropped without an error", () =>
      withPeers([1, 2, 3], async (peers) => {
        const sender = peers.get(1)!.transport;
        await peers.get(3)!.transport.close();
        expect(() => {
          sender.send([message({ from: 1, to: 99 }), message({ from: 1, to: 3 })]);
          sender.flush();
        }).not.toThrow();
        // The transport still works for live peers.
        sender.send([message({ from: 1, to: 2, context: 5 })]);
        sender.flush();
        const two = peers.get(2)!;
        await two.until("a message after the dropped ones", () => two.messages.length === 1);
        expect(two.messages[0]!.context).toBe(5);
        expect(peers.get(3)!.batches).toEqual([]);
      }));

    test("a 5 MB snapshot arrives byte-exact, and sendSnapshot resolves only after onSnapshot did", () =>
      withPeers([1, 2], async (peers) => {
        const data = patterned(5 * 1024 * 1024 + 17);
        const receiver = peers.get(2)!;
        let openGate = (): void => {};
        const gate = new Promise<void>((resolve) => {
          openGate = resolve;
        });
        let staged = false;
        receiver.onSnapshot = async () => {
          await gate;
          staged = true;
        };
        const sent = snapMessage(1, 2);
        let resolved = false;
        const sending = peers.get(1)!.transport.sendSnapshot(2, sent, snapshotFromBytes(data)).then(() => {
          resolved = true;
        });
        await receiver.until("the snapshot", () => receiver.snapshots.length === 1);
        // A negative check needs some time to pass: the sender must still be waiting.
        await Bun.sleep(100);
        expect(resolved).toBe(false);
        openGate();
        await sending;
        expect(staged).toBe(true);
        const got = receiver.snapshots[0]!;
        expect(got.message).toEqual(sent);
        expect(got.meta).toEqual(sent.snapshot!);
        expect(got.data.size).toBe(data.length);
        expect(Buffer.compare(await readWholeSnapshot(got.data), data)).toBe(0);
      }));

    test("an empty snapshot is delivered too", () =>
      withPeers([1, 2], async (peers) => {
        await peers.get(1)!.transport.sendSnapshot(2, snapMessage(1, 2), snapshotFromBytes(new Uint8Array(0)));
        expect(peers.get(2)!.snapshots.map((s) => s.data.size)).toEqual([0]);
      }));

    test("a snapshot the receiver fails to stage rejects the sender with remote_error", () =>
      withPeers([1, 2], async (peers) => {
        peers.get(2)!.onSnapshot = async () => {
          throw new Error("disk full");
        };
        const error = await rejection(peers.get(1)!.transport.sendSnapshot(2, snapMessage(1, 2), snapshotFromBytes(patterned(3000))));
        expect(error.code).toBe("remote_error");
        expect(error.message).toContain("disk full");
      }));

    test("request/reply carries the sender's id and the bytes both ways", () =>
      withPeers([1, 2], async (peers) => {
        const reply = await peers.get(1)!.transport.request(2, new Uint8Array([7, 8, 9]), 5_000);
        expect([...reply]).toEqual([1, 7, 8, 9]);
        const many = await Promise.all(
          Array.from({ length: 50 }, (_, i) => peers.get(2)!.transport.request(1, new Uint8Array([i]), 5_000)),
        );
        expect(many.map((r) => [...r])).toEqual(Array.from({ length: 50 }, (_, i) => [2, i]));
      }));

    test("a failing request handler surfaces as remote_error", () =>
      withPeers([1, 2], async (peers) => {
        peers.get(2)!.onRequest = async () => {
          throw new Error("not today");
        };
        const error = await rejection(peers.get(1)!.transport.request(2, new Uint8Array([1]), 5_000));
        expect(error.code).toBe("remote_error");
        expect(error.message).toContain("not today");
      }));

    test("a request nobody answers in time rejects with timeout", () =>
      withPeers([1, 2], async (peers) => {
        peers.get(2)!.onRequest = () => new Promise<Uint8Array>(() => {});
        const startedAt = Date.now();
        const error = await rejection(peers.get(1)!.transport.request(2, new Uint8Array([1]), 300));
        expect(error.code).toBe("timeout");
        expect(Date.now() - startedAt).toBeGreaterThanOrEqual(250);
      }));

    test("a request to a gone peer rejects with no_responder or timeout", () =>
      withPeers([1, 2], async (peers) => {
        await peers.get(2)!.transport.close();
        const gone = await rejection(peers.get(1)!.transport.request(2, new Uint8Array([1]), 500));
        expect(["no_responder", "timeout"]).toContain(gone.code);
        const unknown = await rejection(peers.get(1)!.transport.request(42, new Uint8Array([1]), 500));
        expect(["no_responder", "timeout"]).toContain(unknown.code);
        const snap = await rejection(peers.get(1)!.transport.sendSnapshot(2, snapMessage(1, 2), snapshotFromBytes(patterned(10))));
        expect(["no_responder", "timeout"]).toContain(snap.code);
      }));

    test("close() stops delivery; send and flush become no-ops, requests reject with closed", () =>
      withPeers([1, 2, 3], async (peers) => {
        const two = peers.get(2)!;
        const three = peers.get(3)!;
        await two.transport.close();
        await two.transport.close(); // idempotent
        const sender = peers.get(1)!.transport;
        sender.send([message({ from: 1, to: 2 }), message({ from: 1, to: 3 })]);
        sender.flush();
        // Node 3's copy left in the same flush; once it is in, node 2's had its chance.
        await three.until("the control message", () => three.messages.length === 1);
        expect(two.batches).toEqual([]);

        expect(() => {
          two.transport.send([message({ from: 2, to: 1 })]);
          two.transport.flush();
        }).not.toThrow();
        expect((await rejection(two.transport.request(1, new Uint8Array([1]), 1_000))).code).toBe("closed");
        expect((await rejection(two.transport.sendSnapshot(1, snapMessage(2, 1), snapshotFromBytes(patterned(10))))).code).toBe("closed");
        expect((await rejection(two.transport.start(two.handlers()))).code).toBe("closed");
      }));

    test("close() rejects the transport's own pending requests with closed", () =>
      withPeers([1, 2], async (peers) => {
        let arrived = (): void => {};
        const reached = new Promise<void>((resolve) => {
          arrived = resolve;
        });
        peers.get(2)!.onRequest = () => {
          arrived();
          return new Promise<Uint8Array>(() => {});
        };
        const pending = rejection(peers.get(1)!.transport.request(2, new Uint8Array([1]), 10_000));
        await reached;
        await peers.get(1)!.transport.close();
        expect((await pending).code).toBe("closed");
      }));
  });
}
