import { describe, expect, test } from "bun:test";
import type { Message, NodeId, SnapshotBytes } from "../raft/types.ts";
import type { Transport, TransportHandlers } from "../transport/transport.ts";
import { AdminGate } from "./admin-gate.ts";
import { decodeForwardedReply, decodeForwardedRequest, encodeForwardedReply, encodeForwardedRequest, type ForwardedRequest } from "./forwarding.ts";

/** Two nodes whose requests go straight to each other's handlers; records what arrives. */
function pair(tokens: [string | null, string | null], now = () => 1_000_000) {
  const handlers = new Map<NodeId, TransportHandlers>();
  const arrived: { from: NodeId; request: ForwardedRequest | null }[] = [];
  const wire = (id: NodeId): Transport => ({
    nodeId: id,
    start: async (h) => void handlers.set(id, h),
    send: (_m: readonly Message[]) => {},
    flush: () => {},
    sendSnapshot: async (_to: NodeId, _m: Message, _d: SnapshotBytes) => {},
    request: (to, payload) => handlers.get(to)!.onRequest(id, payload),
    close: async () => {},
  });
  const gates = ([1, 2] as const).map((id, i) => new AdminGate(wire(id), { cluster: "c", adminToken: tokens[i]!, nowMs: now }));
  const app: TransportHandlers = {
    onMessages: () => {},
    onSnapshot: async () => {},
    onRequest: async (from, payload) => {
      arrived.push({ from, request: decodeForwardedRequest(payload) });
      return encodeForwardedReply({ ok: true, result: "done" });
    },
  };
  return {
    arrived,
    raw: (from: NodeId, to: NodeId, payload: Uint8Array) => handlers.get(to)!.onRequest(from, payload),
    start: async () => void (await Promise.all(gates.map((g) => g.start(app)))),
    ask: async (request: ForwardedRequest) => decodeForwardedReply(await gates[0]!.request(2, encodeForwardedRequest(request), 1000)),
  };
}

describe("admin requests forwarded between nodes carry the admin token's seal", () => {
  test("proposals pass as they are; admin requests arrive unchanged when both nodes hold the token", async () => {
    const p = pair(["token", "token"]);
    await p.start();
    expect(await p.ask({ kind: "propose", data: new Uint8Array([1, 2]) })).toEqual({ ok: true, result: "done" });
    expect(await p.ask({ kind: "transfer", to: 2 })).toEqual({ ok: true, result: "done" });
    expect(await p.ask({ kind: "confChange", change: { type: "removeNode", nodeId: 3 } })).toEqual({ ok: true, result: "done" });
    expect(p.arrived.map((a) => a.request)).toEqual([
      { kind: "propose", data: new Uint8Array([1, 2]) },
      { kind: "transfer", to: 2 },
      { kind: "confChange", change: { type: "removeNode", nodeId: 3 } },
    ]);
  });

  test("an unsealed admin request, another token's seal, or a forwarder without a token: refused before the node sees it", async () => {
    const other = pair(["other", "token"]);
    await other.start();
    expect(await other.ask({ kind: "transfer", to: 2 })).toEqual({ ok: false, code: "invalid", message: expect.stringMatching(/^admin_proof_refused: /) });
    const none = pair([null, "token"]);
    await none.start();
    expect(await none.ask({ kind: "transfer", to: 2 })).toEqual({ ok: false, code: "invalid", message: expect.stringMatching(/^admin_disabled: /) });
    const raw = decodeForwardedReply(await none.raw(1, 2, encodeForwardedRequest({ kind: "transfer", to: 1 })));
    expect(raw).toEqual({ ok: false, code: "invalid", message: expect.stringMatching(/^admin_proof_missing: /) });
    // A tool (sender 0) never holds the seal: it proposes, and nothing else.
    const tool = decodeForwardedReply(await none.raw(0, 2, encodeForwardedRequest({ kind: "confChange", change: { type: "addVoter", nodeId: 9 } })));
    expect(tool.ok).toBe(false);
    expect(other.arrived.length + none.arrived.length).toBe(0);
  });

  test("a seal is bound to its sender and receiver, used once, and goes stale", async () => {
    let now = 1_000_000;
    const captured: Uint8Array[] = [];
    const p = pair(["token", "token"], () => now);
    await p.start();
    // Capture what node 1 sends by sealing through a gate whose wire records instead.
    const recorder = new AdminGate(
      { nodeId: 1, start: async () => {}, send: () => {}, flush: () => {}, sendSnapshot: async () => {}, close: async () => {}, request: async (_to, payload) => (captured.push(payload), new Uint8Array()) },
      { cluster: "c", adminToken: "token", nowMs: () => now },
    );
    await recorder.request(2, encodeForwardedRequest({ kind: "transfer", to: 1 }), 1000);
    const sealed = captured[0]!;
    expect(decodeForwardedReply(await p.raw(3, 2, sealed)).ok).toBe(false); // another sender
    expect(decodeForwardedReply(await p.raw(1, 2, sealed)).ok).toBe(true);
    expect(decodeForwardedReply(await p.raw(1, 2, sealed))).toEqual({ ok: false, code: "invalid", message: expect.stringContaining("used before") });
    await recorder.request(2, encodeForwardedRequest({ kind: "transfer", to: 1 }), 1000);
    now += 10 * 60_000;
    expect(decodeForwardedReply(await p.raw(1, 2, captured[1]!))).toEqual({ ok: false, code: "invalid", message: expect.stringContaining("old") });
    expect(p.arrived.length).toBe(1);
  });

  test("a leader that restarted refuses seals issued before it started: its memory of used nonces is gone", async () => {
    let now = 1_000_000;
    const captured: Uint8Array[] = [];
    const recorder = new AdminGate(
      { nodeId: 1, start: async () => {}, send: () => {}, flush: () => {}, sendSnapshot: async () => {}, close: async () => {}, request: async (_to, payload) => (captured.push(payload), new Uint8Array()) },
      { cluster: "c", adminToken: "token", nowMs: () => now },
    );
    const before = pair(["token", "token"], () => now);
    await before.start();
    await recorder.request(2, encodeForwardedRequest({ kind: "transfer", to: 1 }), 1000);
    const sealed = captured[0]!;
    expect(decodeForwardedReply(await before.raw(1, 2, sealed)).ok).toBe(true);
    expect(decodeForwardedReply(await before.raw(1, 2, sealed)).ok).toBe(false); // used
    // Node 2 restarts a minute later: the captured seal is well within its five minutes.
    now += 60_000;
    const after = pair(["token", "token"], () => now);
    await after.start();
    expect(decodeForwardedReply(await after.raw(1, 2, sealed))).toEqual({ ok: false, code: "invalid", message: expect.stringContaining("before this node started") });
    // The trade-off: a forward sealed just before a restart and arriving just after it fails
    // once; the client's retry is sealed anew and passes.
    await recorder.request(2, encodeForwardedRequest({ kind: "transfer", to: 1 }), 1000);
    now += 5;
    const restarted = pair(["token", "token"], () => now);
    await restarted.start();
    expect(decodeForwardedReply(await restarted.raw(1, 2, captured[1]!)).ok).toBe(false);
    await recorder.request(2, encodeForwardedRequest({ kind: "transfer", to: 1 }), 1000);
    expect(decodeForwardedReply(await restarted.raw(1, 2, captured[2]!)).ok).toBe(true);
    expect(after.arrived.length + restarted.arrived.length).toBe(1);
  });
});
