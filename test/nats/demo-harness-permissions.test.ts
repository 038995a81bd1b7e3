import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type NatsConnection } from "@nats-io/transport-node";
import { NatsServer } from "../../src/cli/nats-server-process.ts";
import { inboxPrefix, raftSubject, replySubject } from "../../src/transport/subjects.ts";
import { DriverRequests, answerDriver, busSubject, harnessIdentity, harnessPermissions } from "../../harness/cli/two-machine-bus.ts";
import { permissionViolations, connectAsNode as connectAsNodeOf } from "./permission-violations.ts";

// The two-machine demo's harness identities against a real nats-server (both on one
// server here; in the demo each machine's server knows its own): machine 1's requests get
// machine 2's answers without allow_responses, and neither harness can reach a node,
// not even by answering a request that names a node's subject as its reply.

const CLUSTER = "demo";
let server: NatsServer | null = null;

beforeAll(async () => {
  server = await NatsServer.start({
    cluster: CLUSTER,
    nodeIds: [1, 2],
    guests: { [harnessIdentity(1)]: harnessPermissions(CLUSTER, 1), [harnessIdentity(2)]: harnessPermissions(CLUSTER, 2) },
  });
});

afterAll(async () => {
  await server?.stop();
});

function connectAsNode(id: number): Promise<NatsConnection> {
  return connectAsNodeOf(server!.url, server!.identityFile(id), CLUSTER, id);
}

describe("the two-machine demo's harnesses on NATS", () => {
  test("machine 1 asks, machine 2 answers on machine 1's inbox for it", async () => {
    const h1 = await server!.connectAs(harnessIdentity(1));
    const h2 = await server!.connectAs(harnessIdentity(2));
    try {
      h2.subscribe(busSubject(CLUSTER, "step"), { callback: (_error, m) => void answerDriver(m, CLUSTER, `done: ${m.string()}`) });
      const typed = h1.subscribe(busSubject(CLUSTER, "typed"), { max: 1 });
      await h2.flush();
      const reply = await new DriverRequests(h1, CLUSTER).request("step", "kill 3", 5000);
      expect(reply.string()).toBe("done: kill 3");
      expect(reply.subject).toStartWith(`_INBOX_${CLUSTER}.harness-1.harness-2.`);
      h2.publish(busSubject(CLUSTER, "typed"), "status");
      for await (const m of typed) expect(m.string()).toBe("status");
    } finally {
      await h1.close();
      await h2.close();
    }
  });

  test("a harness answering a request that names a node's raft subject as its reply is refused, and the node gets nothing", async () => {
    const h1 = await server!.connectAs(harnessIdentity(1));
    const h2 = await server!.connectAs(harnessIdentity(2));
    const node2 = await connectAsNode(2);
    try {
      const got: string[] = [];
      node2.subscribe(`concord.${CLUSTER}.raft.2.*`, { callback: (_error, m) => void got.push(m.subject) });
      await node2.flush();
      const v1 = permissionViolations(h1);
      const v2 = permissionViolations(h2);
      // Machine 2 would not answer this (answerDriver); a stolen seed answers anything.
      h2.subscribe(busSubject(CLUSTER, "step"), { callback: (_error, m) => void m.respond("forged raft batch") });
      await h2.flush();
      h1.publish(busSubject(CLUSTER, "step"), "x", { reply: raftSubject(CLUSTER, 2, 1) });
      // Nor may either publish there, or into a node's inbox, outright.
      h1.publish(raftSubject(CLUSTER, 2, 1), "forged");
      h2.publish(raftSubject(CLUSTER, 2, 3), "forged");
      h2.publish(replySubject(CLUSTER, 2, 1, "abc"), "forged reply");
      h2.subscribe(`${inboxPrefix(CLUSTER, harnessIdentity(1))}.>`);
      await h1.flush();
      await h2.flush();
      await v2.signal.until("machine 2's violations", () => v2.seen.length >= 4);
      await v1.signal.until("machine 1's violation", () => v1.seen.length >= 1);
      expect(v1.seen).toEqual([["publish", raftSubject(CLUSTER, 2, 1)]]);
      // The reflected answer (raft.2.1) comes whenever h2 gets the request: sorted.
      expect(v2.seen.map((v) => v.join(" ")).sort()).toEqual(
        [
          ["publish", raftSubject(CLUSTER, 2, 1)],
          ["publish", raftSubject(CLUSTER, 2, 3)],
          ["publish", replySubject(CLUSTER, 2, 1, "abc")],
          ["subscription", `${inboxPrefix(CLUSTER, harnessIdentity(1))}.>`],
        ]
          .map((v) => v.join(" "))
          .sort(),
      );
      await node2.flush();
      expect(got).toEqual([]);
    } finally {
      await h1.close();
      await h2.close();
      await node2.close();
    }
  });
});
