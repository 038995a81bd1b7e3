import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type NatsConnection, PermissionViolationError, connect } from "@nats-io/transport-node";
import { encodeBatch, encodeRpcRequest } from "../../src/transport/codec.ts";
import { NatsTransport } from "../../src/transport/nats-transport.ts";
import { message } from "../../src/transport/transport.conformance.ts";
import { Received, Signal } from "./events.ts";
import { NatsServer } from "../../src/cli/nats-server-process.ts";

const CLUSTER = "perm";
let server: NatsServer | null = null;

beforeAll(async () => {
  server = await NatsServer.start({ cluster: CLUSTER, nodeIds: [1, 2] });
});

afterAll(async () => {
  await server?.stop();
});

describe("NATS permissions on the raft subjects", () => {
  test("an intruder's publish on a raft subject is refused and never reaches the node", async () => {
    const s = server!;
    const received = new Received();
    const t1 = new NatsTransport({ servers: s.url, cluster: CLUSTER, nodeId: 1, ...s.credentials(1) });
    const t2 = new NatsTransport({ servers: s.url, cluster: CLUSTER, nodeId: 2, ...s.credentials(2) });
    let intruder: NatsConnection | null = null;
    try {
      await t1.start(received.handlers());
      await t2.start(new Received().handlers());

      intruder = await connect({ servers: s.url, ...s.intruder });
      const violations: PermissionViolationError[] = [];
      const seen = new Signal();
      void (async () => {
        for await (const status of intruder.status()) {
          if (status.type === "error" && status.error instanceof PermissionViolationError) {
            violations.push(status.error);
            seen.notify();
          }
        }
      })();

      intruder.publish(`concord.${CLUSTER}.raft.1`, encodeBatch([message({ from: 2, to: 1, context: 666 })]));
      intruder.publish(`concord.${CLUSTER}.rpc.1`, encodeRpcRequest({ from: 2, payload: new Uint8Array([6]) }), { reply: "_INBOX.x" });
      await intruder.flush();
      await seen.until("the permission violations", () => violations.length >= 2);
      expect(violations.map((v) => [v.operation, v.subject])).toEqual([
        ["publish", `concord.${CLUSTER}.raft.1`],
        ["publish", `concord.${CLUSTER}.rpc.1`],
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
      await intruder?.close();
      await t1.close();
      await t2.close();
    }
  });

  test("a node with a wrong password fails to start instead of hanging", async () => {
    const s = server!;
    const t = new NatsTransport({ servers: s.url, cluster: CLUSTER, nodeId: 1, user: "node1", pass: "wrong", reconnectWaitMs: 50 });
    try {
      await expect(t.start(new Received().handlers())).rejects.toThrow();
    } finally {
      await t.close();
    }
  });
});
