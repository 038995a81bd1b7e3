import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type NatsConnection, PermissionViolationError, connect, nkeyAuthenticator } from "@nats-io/transport-node";
import { NatsServer } from "../../src/cli/nats-server-process.ts";
import { decodeRpcReply, decodeSnapshotAck, encodeBatch, encodeRpcRequest, encodeSnapshotChunk } from "../../src/transport/codec.ts";
import { createNatsIdentity, readNatsIdentity } from "../../src/transport/nats-identity.ts";
import { NatsAuthError, NatsTransport } from "../../src/transport/nats-transport.ts";
import { inboxPrefix } from "../../src/transport/subjects.ts";
import { message } from "../../src/transport/transport.conformance.ts";
import { Received, Signal } from "./events.ts";
import { intruderPermissions } from "./intruder.ts";

// What nats-server lets each identity do, and what a node's transport accepts from what
// the server lets through. Subjects carry the sender: concord.<cluster>.raft.<to>.<from>.

const CLUSTER = "perm";
let server: NatsServer | null = null;

beforeAll(async () => {
  server = await NatsServer.start({ cluster: CLUSTER, nodeIds: [1, 2, 3], guests: { intruder: intruderPermissions(CLUSTER) } });
});

afterAll(async () => {
  await server?.stop();
});

/** The permission violations the server reports to `nc`, as they come. */
function violations(nc: NatsConnection): { readonly seen: [string, string][]; readonly signal: Signal } {
  const seen: [string, string][] = [];
  const signal = new Signal();
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === "error" && status.error instanceof PermissionViolationError) {
        seen.push([status.error.operation, status.error.subject]);
        signal.notify();
      }
    }
  })();
  return { seen, signal };
}

/** A raw connection with node `id`'s identity: what an attacker holding its seed file could do. */
async function connectAsNode(id: number): Promise<NatsConnection> {
  const s = server!;
  return connect({ servers: s.url, authenticator: nkeyAuthenticator(readNatsIdentity(s.identityFile(id)).seed), inboxPrefix: inboxPrefix(CLUSTER, id) });
}

async function started(id: number, received: Received): Promise<NatsTransport> {
  const t = new NatsTransport({ ...server!.transportOptions(id) });
  await t.start(received.handlers());
  return t;
}

describe("NATS identities and permissions on the raft subjects", () => {
  test("no identity, or one the server does not know, cannot connect at all", async () => {
    const s = server!;
    await expect(connect({ servers: s.url, reconnect: false })).rejects.toThrow(/Authorization Violation/);
    const stranger = createNatsIdentity();
    await expect(connect({ servers: s.url, reconnect: false, authenticator: nkeyAuthenticator(new TextEncoder().encode(stranger.seed)) })).rejects.toThrow(/Authorization Violation/);
    // A node started with an identity the server does not know fails with a clear error.
    const t = new NatsTransport({ servers: s.url, cluster: CLUSTER, nodeId: 1, seed: new TextEncoder().encode(stranger.seed), reconnectWaitMs: 50 });
    try {
      const error = await t.start(new Received().handlers()).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(NatsAuthError);
      expect((error as NatsAuthError).code).toBe("nats_auth_refused");
      // The message names the node, never the seed.
      expect((error as Error).message).not.toContain(stranger.seed);
    } finally {
      await t.close();
    }
  });

  test("an intruder on the bus can neither publish on the cluster's subjects nor read them", async () => {
    const s = server!;
    const received = new Received();
    const t1 = await started(1, received);
    const t2 = await started(2, new Received());
    const intruder = await s.connectAs("intruder");
    try {
      const v = violations(intruder);
      intruder.publish(`concord.${CLUSTER}.raft.1.2`, encodeBatch([message({ from: 2, to: 1, term: 2 ** 48 - 1, context: 666 })]));
      intruder.publish(`concord.${CLUSTER}.rpc.1.2`, encodeRpcRequest({ from: 2, payload: new Uint8Array([6]) }), { reply: "_INBOX.x" });
      intruder.subscribe(`concord.${CLUSTER}.>`);
      intruder.subscribe(`${inboxPrefix(CLUSTER, 1)}.>`);
      await intruder.flush();
      await v.signal.until("the permission violations", () => v.seen.length >= 4);
      expect(v.seen).toEqual([
        ["publish", `concord.${CLUSTER}.raft.1.2`],
        ["publish", `concord.${CLUSTER}.rpc.1.2`],
        ["subscription", `concord.${CLUSTER}.>`],
        ["subscription", `${inboxPrefix(CLUSTER, 1)}.>`],
      ]);
      // A violation is reported, not fatal: the intruder stays connected, and refused.
      expect(intruder.isClosed()).toBe(false);

      // A legitimate peer's message goes through the same server after the refused one.
      t2.send([message({ from: 2, to: 1, context: 1 })]);
      t2.flush();
      await received.signal.until("the legitimate message", () => received.messages.length > 0);
      expect(received.messages.map((m) => m.context)).toEqual([1]);
      expect(received.requests).toBe(0);
    } finally {
      await intruder.close();
      await t1.close();
      await t2.close();
    }
  });

  test("a member can publish only as itself and read only what is addressed to it", async () => {
    const node2 = await connectAsNode(2);
    try {
      const v = violations(node2);
      node2.publish(`concord.${CLUSTER}.raft.1.3`, encodeBatch([message({ from: 3, to: 1 })])); // as node 3
      node2.publish(`concord.${CLUSTER}.rpc.1.0`, encodeRpcRequest({ from: 0, payload: new Uint8Array([1]) })); // as a tool
      node2.publish(`${inboxPrefix(CLUSTER, 1)}.forged`, new Uint8Array([1])); // a forged reply to node 1
      node2.subscribe(`concord.${CLUSTER}.raft.1.*`); // node 1's traffic
      node2.subscribe(`${inboxPrefix(CLUSTER, 1)}.>`); // node 1's replies
      await node2.flush();
      await v.signal.until("the permission violations", () => v.seen.length >= 5);
      expect(v.seen).toEqual([
        ["publish", `concord.${CLUSTER}.raft.1.3`],
        ["publish", `concord.${CLUSTER}.rpc.1.0`],
        ["publish", `${inboxPrefix(CLUSTER, 1)}.forged`],
        ["subscription", `concord.${CLUSTER}.raft.1.*`],
        ["subscription", `${inboxPrefix(CLUSTER, 1)}.>`],
      ]);
    } finally {
      await node2.close();
    }
  });

  test("a receiver takes the sender from the subject and drops payloads that claim another", async () => {
    const received = new Received();
    const t1 = await started(1, received);
    const node2 = await connectAsNode(2);
    try {
      // Allowed subject (node 2 sending to node 1), payload claiming node 3 or another receiver.
      node2.publish(`concord.${CLUSTER}.raft.1.2`, encodeBatch([message({ from: 3, to: 1, term: 2 ** 48 - 1, context: 13 })]));
      node2.publish(`concord.${CLUSTER}.raft.1.2`, encodeBatch([message({ from: 2, to: 3, context: 23 }), message({ from: 2, to: 1, context: 21 })]));
      const reply = await node2.request(`concord.${CLUSTER}.rpc.1.2`, encodeRpcRequest({ from: 3, payload: new Uint8Array([1, 0]) }), { timeout: 2000 });
      const decoded = decodeRpcReply(reply.data);
      expect(decoded.ok).toBe(false);
      expect(decoded.ok === false && decoded.code).toBe("bad_frame");
      // A snapshot chunk whose message claims node 3: refused before any transfer starts.
      const snap = message({ type: "snap", from: 3, to: 1, term: 7, snapshot: { index: 10, term: 6, conf: { voters: [1, 2, 3], learners: [] } } });
      const ack = decodeSnapshotAck(
        (await node2.request(`concord.${CLUSTER}.snap.1.2`, encodeSnapshotChunk({ transferId: 9, offset: 0, total: 1, message: snap, chunk: new Uint8Array([1]) }), { timeout: 2000 })).data,
      );
      expect(ack.status === "failed" && ack.code).toBe("bad_frame");
      await received.signal.until("node 2's own message", () => received.messages.length > 0);
      // Only the message whose payload agrees with its subject was delivered.
      expect(received.messages.map((m) => [m.from, m.context])).toEqual([[2, 21]]);
      expect(received.requests).toBe(0);
      expect(received.snapshots).toBe(0);
      expect(t1.stats().senderMismatches).toBe(4);
    } finally {
      await node2.close();
      await t1.close();
    }
  });
});
