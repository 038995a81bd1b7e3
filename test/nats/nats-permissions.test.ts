import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { type NatsConnection, connect, nkeyAuthenticator } from "@nats-io/transport-node";
import { natsServerConfig } from "../../src/cli/nats-server-config.ts";
import { NatsServer } from "../../src/cli/nats-server-process.ts";
import { decodeRpcReply, decodeSnapshotAck, encodeBatch, encodeRpcRequest, encodeSnapshotChunk } from "../../src/transport/codec.ts";
import { createNatsIdentity } from "../../src/transport/nats-identity.ts";
import { NatsAuthError, NatsTransport } from "../../src/transport/nats-transport.ts";
import { TOOL_SENDER, inboxPrefix, nodePermissions, replySubject, toolPermissions } from "../../src/transport/subjects.ts";
import { TransportError } from "../../src/transport/transport-error.ts";
import { message } from "../../src/transport/transport.conformance.ts";
import { Received, Signal } from "./events.ts";
import { intruderPermissions } from "./intruder.ts";
import { permissionViolations, connectAsNode as connectAsNodeOf } from "./permission-violations.ts";

// What nats-server lets each identity do, and what a node's transport accepts from what
// the server lets through. Subjects carry the sender: concord.<cluster>.raft.<to>.<from>;
// replies carry both ends: _INBOX_<cluster>.<requester>.<responder>.<token>.

const CLUSTER = "perm";
let server: NatsServer | null = null;

beforeAll(async () => {
  server = await NatsServer.start({ cluster: CLUSTER, nodeIds: [1, 2, 3], guests: { intruder: intruderPermissions(CLUSTER) } });
});

afterAll(async () => {
  await server?.stop();
});

function connectAsNode(id: number): Promise<NatsConnection> {
  return connectAsNodeOf(server!.url, server!.identityFile(id), CLUSTER, id);
}

/** A fresh reply subject of `requester`'s for a request to `responder`: the one an honest responder answers on. */
function replyTo(requester: number, responder: number): string {
  return replySubject(CLUSTER, requester, responder, randomBytes(6).toString("hex"));
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
      const v = permissionViolations(intruder);
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
      const v = permissionViolations(node2);
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
      const asNode2 = { timeout: 2000, noMux: true, reply: replyTo(2, 1) };
      const reply = await node2.request(`concord.${CLUSTER}.rpc.1.2`, encodeRpcRequest({ from: 3, payload: new Uint8Array([1, 0]) }), asNode2);
      const decoded = decodeRpcReply(reply.data);
      expect(decoded.ok).toBe(false);
      expect(decoded.ok === false && decoded.code).toBe("bad_frame");
      // A snapshot chunk whose message claims node 3: refused before any transfer starts.
      const snap = message({ type: "snap", from: 3, to: 1, term: 7, snapshot: { index: 10, term: 6, conf: { voters: [1, 2, 3], learners: [] } } });
      const ack = decodeSnapshotAck(
        (
          await node2.request(`concord.${CLUSTER}.snap.1.2`, encodeSnapshotChunk({ transferId: 9, offset: 0, total: 1, message: snap, chunk: new Uint8Array([1]) }), {
            ...asNode2,
            reply: replyTo(2, 1),
          })
        ).data,
      );
      expect(ack.status === "failed" && ack.code).toBe("bad_frame");
      await received.signal.until("node 2's own message", () => received.messages.length > 0);
      // Only the message whose payload agrees with its subject was delivered.
      expect(received.messages.map((m) => [m.from, m.context])).toEqual([[2, 21]]);
      expect(received.requests).toBe(0);
      expect(received.snapshots).toBe(0);
      expect(t1.stats()).toEqual({ senderMismatches: 4, refusedReplySubjects: 0 });
    } finally {
      await node2.close();
      await t1.close();
    }
  });
});

describe("replies: nobody answers as someone else, and no honest node relays", () => {
  test("no cluster identity has allow_responses (nats-server would let a response go anywhere)", async () => {
    const config = await natsServerConfig({
      cluster: CLUSTER,
      host: "127.0.0.1",
      port: 4222,
      users: [
        { publicKey: "UNODE", permissions: nodePermissions(CLUSTER, 1) },
        { publicKey: "UTOOL", permissions: toolPermissions(CLUSTER) },
      ],
    });
    expect(config).not.toContain("allow_responses");
  });

  test("a member cannot reflect a message off its own request: the response to another member's raft subject is refused", async () => {
    // The attack that allow_responses made possible: node 3 asks itself, naming node 2's
    // raft subject from node 1 as the reply, and answers with a raft batch "from node 1".
    const received = new Received();
    const t1 = await started(1, new Received());
    const t2 = await started(2, received);
    const node3 = await connectAsNode(3);
    try {
      const v = permissionViolations(node3);
      const forged = encodeBatch([message({ from: 1, to: 2, term: 2 ** 40, context: 666 })]);
      let responded = false;
      node3.subscribe(`concord.${CLUSTER}.rpc.3.*`, {
        callback: (_error, m) => {
          m.respond(forged);
          responded = true;
        },
      });
      node3.publish(`concord.${CLUSTER}.rpc.3.3`, encodeRpcRequest({ from: 3, payload: new Uint8Array([1]) }), { reply: `concord.${CLUSTER}.raft.2.1` });
      // And the same publish made directly.
      node3.publish(`concord.${CLUSTER}.raft.2.1`, forged);
      await v.signal.until("both publishes refused", () => v.seen.length >= 2);
      expect(responded).toBe(true);
      expect(v.seen).toEqual([
        ["publish", `concord.${CLUSTER}.raft.2.1`],
        ["publish", `concord.${CLUSTER}.raft.2.1`],
      ]);
      // The server has processed both before node 3's flush returns; node 1's message after
      // them is the first, and only, one node 2 receives.
      await node3.flush();
      t1.send([message({ from: 1, to: 2, context: 1 })]);
      t1.flush();
      await received.signal.until("node 1's own message", () => received.messages.length > 0);
      expect(received.messages.map((m) => [m.from, m.term, m.context])).toEqual([[1, 1, 1]]);
      expect(t2.stats()).toEqual({ senderMismatches: 0, refusedReplySubjects: 0 });
    } finally {
      await node3.close();
      await t1.close();
      await t2.close();
    }
  });

  test("a member can reply only as itself: a reply on another responder's subject is refused", async () => {
    const node1 = await connectAsNode(1);
    const node2 = await connectAsNode(2);
    try {
      const v = permissionViolations(node2);
      const arrived: string[] = [];
      const signal = new Signal();
      node1.subscribe(`${inboxPrefix(CLUSTER, 1)}.>`, {
        callback: (_error, m) => {
          arrived.push(m.subject);
          signal.notify();
        },
      });
      await node1.flush();
      const asNode3 = replyTo(1, 3); // node 1's inbox for node 3's replies
      const asNode2 = replyTo(1, 2); // node 1's inbox for node 2's replies
      const toTool = replySubject(CLUSTER, TOOL_SENDER, 3, "x"); // the tool's inbox for node 3's
      node2.publish(asNode3, new Uint8Array([1]));
      node2.publish(toTool, new Uint8Array([1]));
      node2.publish(`${asNode2}.deeper`, new Uint8Array([1])); // one token after the responder, no more
      node2.publish(asNode2, new Uint8Array([2]));
      await node2.flush();
      await v.signal.until("the forged replies refused", () => v.seen.length >= 3);
      expect(v.seen).toEqual([
        ["publish", asNode3],
        ["publish", toTool],
        ["publish", `${asNode2}.deeper`],
      ]);
      // Its reply as itself goes through, and is the only one node 1 sees.
      await signal.until("node 2's reply as itself", () => arrived.length > 0);
      await node1.flush();
      expect(arrived).toEqual([asNode2]);
    } finally {
      await node1.close();
      await node2.close();
    }
  });

  test("an honest responder answers only on its requester's inbox for it: it relays nowhere else", async () => {
    const received = new Received();
    const t1 = await started(1, received);
    const node3 = await connectAsNode(3);
    const node2 = await connectAsNode(2);
    try {
      // Whatever a relayed reply would land on: node 2's raft subject from node 1, node 2's inbox for node 1.
      const landed: string[] = [];
      for (const subject of [`concord.${CLUSTER}.raft.2.1`, `${inboxPrefix(CLUSTER, 2)}.>`]) {
        node2.subscribe(subject, { callback: (_error, m) => void landed.push(m.subject) });
      }
      await node2.flush();
      const v = permissionViolations(node3);
      const rpc = encodeRpcRequest({ from: 3, payload: new Uint8Array([1, 0]) });
      const snap = message({ type: "snap", from: 3, to: 1, term: 7, snapshot: { index: 10, term: 6, conf: { voters: [1, 2, 3], learners: [] } } });
      const chunk = encodeSnapshotChunk({ transferId: 9, offset: 0, total: 1, message: snap, chunk: new Uint8Array([1]) });
      const foreign = [
        `concord.${CLUSTER}.raft.2.1`, // a peer's raft subject, as node 1
        replyTo(2, 1), // node 2's inbox for node 1: a forged reply to node 2
        replyTo(3, 2), // node 3's own inbox, but for node 2's replies
        `${inboxPrefix(CLUSTER, 3)}.abc.1`, // not a reply subject at all
      ];
      for (const reply of foreign) {
        node3.publish(`concord.${CLUSTER}.rpc.1.3`, rpc, { reply });
        node3.publish(`concord.${CLUSTER}.snap.1.3`, chunk, { reply });
      }
      node3.publish(`concord.${CLUSTER}.rpc.1.3`, rpc); // no reply subject
      // Then a request on node 3's inbox for node 1: answered.
      const answer = await node3.request(`concord.${CLUSTER}.rpc.1.3`, rpc, { timeout: 2000, noMux: true, reply: replyTo(3, 1) });
      expect(decodeRpcReply(answer.data)).toEqual({ ok: true, payload: new Uint8Array([1, 0]) });
      // Node 1 answers in the order it received: nothing went anywhere before the answer.
      await node2.flush();
      expect(landed).toEqual([]);
      expect(received.requests).toBe(1);
      expect(received.snapshots).toBe(0);
      expect(t1.stats()).toEqual({ senderMismatches: 0, refusedReplySubjects: 2 * foreign.length + 1 });
      expect(v.seen).toEqual([]);
    } finally {
      await node2.close();
      await node3.close();
      await t1.close();
    }
  });

  test("a request to a node nobody runs fails fast with no_responder; one that runs answers on the requester's inbox for it", async () => {
    const t1 = await started(1, new Received());
    const t2 = await started(2, new Received());
    try {
      const started_ = Date.now();
      const error = await t1.request(3, new Uint8Array([1]), 5_000).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TransportError);
      expect((error as TransportError).code).toBe("no_responder");
      expect(Date.now() - started_).toBeLessThan(2_000);
      // Node 2 answers node 1 as itself, on _INBOX_<cluster>.1.2.<token>.
      expect(await t1.request(2, new Uint8Array([7, 8]), 2_000)).toEqual(new Uint8Array([7, 8]));
    } finally {
      await t1.close();
      await t2.close();
    }
  });
});
