import { describe, expect, test } from "bun:test";
import type { NodeId } from "../raft/types.ts";
import { MemoryNetwork } from "./memory-transport.ts";
import { describeTransport, message } from "./transport.conformance.ts";
import type { TransportHandlers } from "./transport.ts";

describeTransport("memory", async (nodeIds) => {
  // A small frame limit so the 5 MB snapshot really goes through many chunks.
  const network = new MemoryNetwork({ maxFrameBytes: 256 * 1024 });
  const transports = new Map(nodeIds.map((id) => [id, network.endpoint(id)] as const));
  return { transports, cleanup: async () => void (await Promise.all([...transports.values()].map((t) => t.close()))) };
});

describe("MemoryNetwork faults", () => {
  function recorder(): { handlers: TransportHandlers; contexts: number[] } {
    const contexts: number[] = [];
    return {
      contexts,
      handlers: {
        onMessages: (ms) => void contexts.push(...ms.map((m) => m.context)),
        onSnapshot: async () => {},
        onRequest: async (_from, p) => p,
      },
    };
  }

  async function settle(): Promise<void> {
    // Deliveries run on setImmediate; two turns drain everything queued before.
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
  }

  async function cluster(ids: NodeId[]) {
    const network = new MemoryNetwork();
    const nodes = new Map(ids.map((id) => [id, { t: network.endpoint(id), r: recorder() }] as const));
    for (const n of nodes.values()) await n.t.start(n.r.handlers);
    return { network, nodes };
  }

  test("cut drops one direction until heal", async () => {
    const { network, nodes } = await cluster([1, 2]);
    network.cut(1, 2);
    nodes.get(1)!.t.send([message({ from: 1, to: 2, context: 1 })]);
    nodes.get(1)!.t.flush();
    nodes.get(2)!.t.send([message({ from: 2, to: 1, context: 2 })]);
    nodes.get(2)!.t.flush();
    await settle();
    expect(nodes.get(2)!.r.contexts).toEqual([]);
    expect(nodes.get(1)!.r.contexts).toEqual([2]);
    network.heal();
    nodes.get(1)!.t.send([message({ from: 1, to: 2, context: 3 })]);
    nodes.get(1)!.t.flush();
    await settle();
    expect(nodes.get(2)!.r.contexts).toEqual([3]);
  });

  test("a request across a cut link times out", async () => {
    const { network, nodes } = await cluster([1, 2]);
    network.cut(2, 1); // the reply leg
    await expect(nodes.get(1)!.t.request(2, new Uint8Array([1]), 100)).rejects.toMatchObject({ code: "timeout" });
  });

  test("a fault hook can drop selectively", async () => {
    const { network, nodes } = await cluster([1, 2, 3]);
    network.setFault((_from, to) => to === 3);
    nodes.get(1)!.t.send([message({ from: 1, to: 2, context: 1 }), message({ from: 1, to: 3, context: 1 })]);
    nodes.get(1)!.t.flush();
    await settle();
    expect(nodes.get(2)!.r.contexts).toEqual([1]);
    expect(nodes.get(3)!.r.contexts).toEqual([]);
  });

  test("a closed endpoint can be replaced (a restarted node), an open one cannot", async () => {
    const { network, nodes } = await cluster([1, 2]);
    expect(() => network.endpoint(2)).toThrow();
    await nodes.get(2)!.t.close();
    const again = network.endpoint(2);
    const r = recorder();
    await again.start(r.handlers);
    nodes.get(1)!.t.send([message({ from: 1, to: 2, context: 9 })]);
    nodes.get(1)!.t.flush();
    await settle();
    expect(r.contexts).toEqual([9]);
  });

  test("the outbox and the delivery queue are bounded", async () => {
    const network = new MemoryNetwork({ maxPendingBatches: 3 });
    const a = network.endpoint(1, { maxQueuedMessages: 5 });
    const b = network.endpoint(2);
    const r = recorder();
    await a.start(recorder().handlers);
    await b.start(r.handlers);
    a.send(Array.from({ length: 10 }, (_, i) => message({ from: 1, to: 2, context: i })));
    a.flush();
    for (let i = 10; i < 15; i++) {
      a.send([message({ from: 1, to: 2, context: i })]);
      a.flush();
    }
    await settle();
    // 5 fit the outbox (one batch), then 2 more single batches fit the 3-batch queue.
    expect(r.contexts).toEqual([0, 1, 2, 3, 4, 10, 11]);
  });
});
