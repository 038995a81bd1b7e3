import { afterEach, describe, expect, test } from "bun:test";
import type { Message, NodeId } from "../raft/types.ts";
import { FaultInjectingTransport } from "./fault-injecting-transport.ts";
import { MemoryNetwork } from "./memory-transport.ts";
import { message } from "./transport.conformance.ts";

// The harness's partitions run through this wrapper; these tests pin what a cut loses
// and, as important, what it must keep flowing (the reverse direction, other peers).

interface Node {
  readonly transport: FaultInjectingTransport;
  readonly received: Message[];
  /** Resolves at the next delivered batch. */
  nextBatch(): Promise<void>;
}

const opened: FaultInjectingTransport[] = [];

async function node(network: MemoryNetwork, id: NodeId): Promise<Node> {
  const transport = new FaultInjectingTransport(network.endpoint(id));
  opened.push(transport);
  const received: Message[] = [];
  let wake: (() => void) | null = null;
  await transport.start({
    onMessages: (messages) => {
      received.push(...messages);
      wake?.();
    },
    onSnapshot: async () => {},
    onRequest: async (from, payload) => new Uint8Array([from, ...payload]),
  });
  return { transport, received, nextBatch: () => new Promise<void>((resolve) => (wake = resolve)) };
}

function heartbeat(from: NodeId, to: NodeId, term: number): Message {
  return message({ from, to, term });
}

afterEach(async () => {
  await Promise.all(opened.splice(0).map((t) => t.close()));
});

describe("FaultInjectingTransport", () => {
  test("dropTo loses messages to that peer only; other peers still get theirs", async () => {
    const network = new MemoryNetwork();
    const [a, b, c] = await Promise.all([node(network, 1), node(network, 2), node(network, 3)]);
    a.transport.setFaults({ dropTo: [2], dropFrom: [] });
    const atC = c.nextBatch();
    a.transport.send([heartbeat(1, 2, 5), heartbeat(1, 3, 5)]);
    a.transport.flush();
    await atC;
    // Node 2 would have received its batch in the same delivery round as node 3.
    const atB = b.nextBatch();
    a.transport.send([heartbeat(1, 2, 6)]);
    a.transport.setFaults({ dropTo: [], dropFrom: [] });
    a.transport.send([heartbeat(1, 2, 7)]);
    a.transport.flush();
    await atB;
    expect(b.received.map((m) => m.term)).toEqual([7]);
    expect(c.received.map((m) => m.term)).toEqual([5]);
  });

  test("dropFrom loses what that peer sends, while this node's own sends still arrive (one-way cut)", async () => {
    const network = new MemoryNetwork();
    const [a, b] = await Promise.all([node(network, 1), node(network, 2)]);
    a.transport.setFaults({ dropTo: [], dropFrom: [2] });
    const atB = b.nextBatch();
    a.transport.send([heartbeat(1, 2, 3)]);
    a.transport.flush();
    await atB;
    expect(b.received.map((m) => m.term)).toEqual([3]);

    const atA = a.nextBatch();
    b.transport.send([heartbeat(2, 1, 4)]);
    b.transport.flush();
    // A message from another peer in the same window still arrives; node 2's never does.
    const c = await node(network, 3);
    c.transport.send([heartbeat(3, 1, 9)]);
    c.transport.flush();
    await atA;
    expect(a.received.map((m) => m.from)).toEqual([3]);
  });

  test("a request over a cut link times out like a lost message; clients (id 0) are never cut", async () => {
    const network = new MemoryNetwork();
    const [a, b] = await Promise.all([node(network, 1), node(network, 2)]);
    a.transport.setFaults({ dropTo: [2], dropFrom: [] });
    const error = await a.transport.request(2, new Uint8Array([7]), 50).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: "TransportError", code: "timeout" });

    b.transport.setFaults({ dropTo: [], dropFrom: [1] });
    a.transport.setFaults({ dropTo: [], dropFrom: [] });
    const fromA = await a.transport.request(2, new Uint8Array([7]), 50).catch((e: unknown) => e);
    expect(fromA).toMatchObject({ code: "timeout" });
    b.transport.setFaults({ dropTo: [], dropFrom: [] });
    expect([...(await a.transport.request(2, new Uint8Array([7]), 1000))]).toEqual([1, 7]);
  });

  test("faults() reports the set in id order; oversized sets are refused", () => {
    const network = new MemoryNetwork();
    const transport = new FaultInjectingTransport(network.endpoint(1));
    transport.setFaults({ dropTo: [5, 2], dropFrom: [4] });
    expect(transport.faults()).toEqual({ dropTo: [2, 5], dropFrom: [4] });
    expect(() => transport.setFaults({ dropTo: Array.from({ length: 65 }, (_, i) => i + 2), dropFrom: [] })).toThrow(RangeError);
  });
});
