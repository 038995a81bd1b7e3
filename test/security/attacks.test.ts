import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { lstatSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type NatsConnection, connect, nkeyAuthenticator } from "@nats-io/transport-node";
import { LocalCluster } from "../../harness/cluster/local-cluster.ts";
import { PAGE_LIMIT_MAX } from "../../src/chat/chat-limits.ts";
import { encodeCommand } from "../../src/chat/command-codec.ts";
import { encodeForwardedRequest, decodeForwardedReply } from "../../src/node/forwarding.ts";
import { decodeRpcReply, encodeBatch, encodeRpcRequest } from "../../src/transport/codec.ts";
import { createNatsIdentity, readNatsIdentity } from "../../src/transport/nats-identity.ts";
import { inboxPrefix, replySubject } from "../../src/transport/subjects.ts";
import { message } from "../../src/transport/transport.conformance.ts";
import { intruderPermissions } from "../nats/intruder.ts";
import { descendants, secretsIn, walk } from "./processes.ts";
import { permissionViolations } from "../nats/permission-violations.ts";

// The attacker's view of a `cluster up`-style cluster on one machine (LocalCluster: the
// same nats-server configuration and node processes, on free ports): NATS with no
// identity, with an identity the server does not know, with a test-only intruder
// identity (another tenant of the bus), and with a member's stolen identity; and a
// local user reading argv, environments, logs and files. After every attack the cluster
// is healthy: every node ready, one leader, a write succeeds, nothing acknowledged lost.

const CLUSTER = "concord";
const PASSWORD = "correct horse battery staple 7";
const HUGE_TERM = 2 ** 48 - 1;

let cluster: LocalCluster;
let alice = "";
/** Message ids acknowledged to alice so far, in order. */
const acked: number[] = [];

async function call(url: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: { "content-type": "application/json", ...headers },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  return { status: response.status, body: text === "" ? null : JSON.parse(text) };
}

const anyUrl = () => cluster.urls.get(cluster.running()[0]!)!;

async function signupAndLogin(username: string): Promise<string> {
  const created = await call(anyUrl(), "POST", "/v1/accounts", { username, password: PASSWORD });
  expect(created.status).toBe(201);
  const session = await call(anyUrl(), "POST", "/v1/sessions", { username, password: PASSWORD });
  expect(session.status).toBe(201);
  return session.body.token as string;
}

/** All nodes ready, one leader, a write through every node succeeds, nothing acknowledged lost. */
async function expectHealthy(after: string): Promise<void> {
  const leader = await cluster.leader();
  for (const id of cluster.running()) {
    await cluster.waitFor(`node ${id} ready after ${after}`, async () => ((await fetch(`${cluster.urls.get(id)}/readyz`).catch(() => null))?.ok ? true : undefined));
  }
  for (const id of cluster.running()) {
    const sent = await call(cluster.urls.get(id)!, "POST", "/v1/messages", { to: "bob", content: `after ${after} via ${id}` }, { authorization: `Bearer ${alice}` });
    expect(sent.status).toBe(201);
    acked.push(sent.body.id as number);
  }
  const views = await cluster.converged((await cluster.view(leader))!.commitIndex);
  expect(new Set(views.map((v) => v.leader))).toEqual(new Set([leader]));
  // No forged term reached any node.
  for (const v of views) expect(v.term).toBeLessThan(1_000);
  for (const id of cluster.running()) {
    const read = await call(cluster.urls.get(id)!, "GET", `/v1/messages?with=bob&limit=${PAGE_LIMIT_MAX}`, undefined, { authorization: `Bearer ${alice}` });
    expect(read.status).toBe(200);
    const ids = new Set((read.body.messages as { id: number }[]).map((m) => m.id));
    for (const id_ of acked) expect(ids.has(id_)).toBe(true);
  }
}

/** Connect with node `id`'s identity, as a local attacker holding a copy of its seed file. */
async function stolenIdentity(id: number): Promise<NatsConnection> {
  return connect({
    servers: cluster.nats.url,
    authenticator: nkeyAuthenticator(readNatsIdentity(cluster.nats.identityFile(id)).seed),
    inboxPrefix: inboxPrefix(CLUSTER, id),
    reconnect: false,
  });
}

beforeAll(async () => {
  // Debug logging: no secret may appear in a log at any level.
  cluster = await LocalCluster.start({ nodes: 5, logLevel: "debug", guests: { intruder: intruderPermissions(CLUSTER) } });
  await cluster.leader();
  alice = await signupAndLogin("alice");
  await signupAndLogin("bob");
  await expectHealthy("start");
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
});

describe("an attacker on NATS", () => {
  test("a connection with no identity is refused", async () => {
    await expect(connect({ servers: cluster.nats.url, reconnect: false })).rejects.toThrow(/Authorization Violation/);
    await expectHealthy("an anonymous connection");
  }, 60_000);

  test("an identity the server does not know (a fresh nkey) is refused", async () => {
    const stranger = createNatsIdentity();
    await expect(connect({ servers: cluster.nats.url, reconnect: false, authenticator: nkeyAuthenticator(new TextEncoder().encode(stranger.seed)) })).rejects.toThrow(
      /Authorization Violation/,
    );
    await expectHealthy("a non-member identity");
  }, 60_000);

  test("an intruder's forged raft frames with huge terms, forged proposals and reads never reach a node", async () => {
    // Another tenant of the bus, with its inboxes where other tenants have theirs.
    const intruder = await cluster.nats.connectAs("intruder", { inboxPrefix: "_INBOX" });
    try {
      const v = permissionViolations(intruder);
      const leader = await cluster.leader();
      const takeover = encodeForwardedRequest({ kind: "propose", data: encodeCommand({ type: "createSession", username: "bob", tokenHash: "0".repeat(64) }) });
      for (const to of [1, 2, 3, 4, 5]) {
        const from = to === 1 ? 2 : 1;
        // A heartbeat and a vote request from the far future, under every sender subject it could try.
        intruder.publish(`concord.${CLUSTER}.raft.${to}.${from}`, encodeBatch([message({ from, to, term: HUGE_TERM }), message({ type: "preVote", from, to, term: HUGE_TERM, index: HUGE_TERM, logTerm: HUGE_TERM })]));
        intruder.publish(`concord.${CLUSTER}.rpc.${to}.0`, encodeRpcRequest({ from: 0, payload: takeover }), { reply: "_INBOX.takeover" });
      }
      intruder.publish(`concord.${CLUSTER}.rpc.${leader}.${leader === 1 ? 2 : 1}`, encodeRpcRequest({ from: 1, payload: encodeForwardedRequest({ kind: "transfer", to: leader === 1 ? 2 : 1 }) }));
      intruder.subscribe(`concord.${CLUSTER}.>`);
      intruder.subscribe(`${inboxPrefix(CLUSTER, leader)}.>`);
      // A request on the rpc subject is refused too: nothing answers, nothing is proposed.
      await expect(intruder.request(`concord.${CLUSTER}.rpc.${leader}.0`, encodeRpcRequest({ from: 0, payload: takeover }), { timeout: 1000 })).rejects.toThrow();
      await intruder.flush();
      await v.signal.until("every publish and subscription refused", () => v.seen.length >= 14);
      expect(v.seen.filter(([op]) => op === "publish").length).toBe(12);
      expect(v.seen.filter(([op]) => op === "subscription").map(([, s]) => s)).toEqual([`concord.${CLUSTER}.>`, `${inboxPrefix(CLUSTER, leader)}.>`]);
      expect(await cluster.leader()).toBe(leader);
    } finally {
      await intruder.close();
    }
    // bob's sessions are his own: the forged createSession's token logs nobody in.
    const stolen = await call(anyUrl(), "GET", "/v1/messages?with=alice", undefined, { authorization: `Bearer ${"0".repeat(43)}` });
    expect(stolen.status).toBe(401);
    await expectHealthy("an intruder's forged frames");
  }, 60_000);

  test("a member's stolen identity can speak only as that member: other senders' subjects are refused, forged payloads dropped", async () => {
    const leader = await cluster.leader();
    const thief = leader === 2 ? 3 : 2;
    const victim = [1, 2, 3, 4, 5].find((id) => id !== leader && id !== thief)!;
    const nc = await stolenIdentity(thief);
    try {
      const v = permissionViolations(nc);
      // As another member (the subject says who sends): refused by the server.
      nc.publish(`concord.${CLUSTER}.raft.${leader}.${victim}`, encodeBatch([message({ from: victim, to: leader, term: HUGE_TERM })]));
      nc.publish(`concord.${CLUSTER}.rpc.${leader}.0`, encodeRpcRequest({ from: 0, payload: new Uint8Array([1]) }));
      nc.subscribe(`concord.${CLUSTER}.raft.${leader}.*`);
      nc.subscribe(`${inboxPrefix(CLUSTER, leader)}.>`);
      await nc.flush();
      await v.signal.until("the refused publishes and subscriptions", () => v.seen.length >= 4);
      expect(v.seen).toEqual([
        ["publish", `concord.${CLUSTER}.raft.${leader}.${victim}`],
        ["publish", `concord.${CLUSTER}.rpc.${leader}.0`],
        ["subscription", `concord.${CLUSTER}.raft.${leader}.*`],
        ["subscription", `${inboxPrefix(CLUSTER, leader)}.>`],
      ]);
      // Reflection: a request to itself whose reply subject is the victim's raft subject from
      // the leader, answered with the leader's heartbeat at a huge term. Refused: no identity
      // answers anywhere but the requester's inbox (allow_responses would have let it through).
      const reflected = `concord.${CLUSTER}.raft.${victim}.${leader}`;
      nc.subscribe(`concord.${CLUSTER}.rpc.${thief}.${thief}`, {
        max: 1,
        callback: (_error, m) => void m.respond(encodeBatch([message({ from: leader, to: victim, term: HUGE_TERM })])),
      });
      nc.publish(`concord.${CLUSTER}.rpc.${thief}.${thief}`, encodeRpcRequest({ from: thief, payload: new Uint8Array([1, 0]) }), { reply: reflected });
      await v.signal.until("the reflected response refused", () => v.seen.length >= 5);
      expect(v.seen[4]).toEqual(["publish", reflected]);
      // On its own subject, but the payload claims the victim: the receiver drops it.
      nc.publish(`concord.${CLUSTER}.raft.${leader}.${thief}`, encodeBatch([message({ from: victim, to: leader, term: HUGE_TERM })]));
      // Requests as the thief, with the reply subject an honest node uses (the leader answers on no other).
      let replies = 0;
      const asThief = () => ({ timeout: 2000, noMux: true, reply: replySubject(CLUSTER, thief, leader, `r${replies++}`) });
      const rpc = await nc.request(`concord.${CLUSTER}.rpc.${leader}.${thief}`, encodeRpcRequest({ from: victim, payload: new Uint8Array([1, 0]) }), asThief());
      const reply = decodeRpcReply(rpc.data);
      expect(reply.ok === false && reply.code).toBe("bad_frame");
      await nc.flush();
      await cluster.waitFor("the leader's log to show the dropped frames", async () =>
        readFileSync(join(cluster.dir, `node-${leader}.log`), "utf8").includes('"event":"sender_mismatch"') ? true : undefined,
      );
      // A member may ask the leader for an admin operation only with the admin token's seal.
      const transfer = await nc.request(
        `concord.${CLUSTER}.rpc.${leader}.${thief}`,
        encodeRpcRequest({ from: thief, payload: encodeForwardedRequest({ kind: "transfer", to: thief }) }),
        asThief(),
      );
      const refused = decodeRpcReply(transfer.data);
      expect(refused.ok).toBe(true);
      const forwarded = decodeForwardedReply(refused.ok ? refused.payload : new Uint8Array());
      expect(forwarded).toEqual({ ok: false, code: "invalid", message: expect.stringContaining("admin_proof_missing") });
      expect(await cluster.leader()).toBe(leader);
    } finally {
      await nc.close();
    }
    await expectHealthy("a member's stolen identity");
  }, 60_000);

  test("admin operations need the admin token, also through a follower that forwards them", async () => {
    const leader = await cluster.leader();
    const follower = cluster.running().find((id) => id !== leader)!;
    const target = cluster.running().find((id) => id !== leader && id !== follower)!;
    const url = cluster.urls.get(follower)!;
    for (const headers of [{}, { authorization: "Bearer wrong" }]) {
      const transfer = await call(url, "POST", "/v1/cluster/leader", { to: target }, headers);
      expect([401, 403]).toContain(transfer.status);
      const remove = await call(url, "DELETE", `/v1/cluster/members/${target}`, undefined, headers);
      expect([401, 403]).toContain(remove.status);
    }
    expect(await cluster.leader()).toBe(leader);
    // With the token, the follower's forwarded (sealed) transfer goes through.
    const moved = await cluster.admin(follower, "POST", "/v1/cluster/leader", { to: target });
    expect(moved.status).toBe(202);
    await cluster.waitFor(`node ${target} to lead`, async () => ((await cluster.view(target))?.role === "leader" ? true : undefined));
    await expectHealthy("admin calls without the token");
  }, 60_000);
});

describe("a local user reading processes and files", () => {
  test("no secret in any process's command line, environment or log", () => {
    const identities = join(cluster.nats.dir, "identities");
    const secrets = [...readdirSync(identities).map((f) => readFileSync(join(identities, f), "utf8").trim()), cluster.adminToken];
    expect(secrets.every((s) => s.length >= 20)).toBe(true);
    const pids = [cluster.nats.pid!, ...cluster.running().map((id) => cluster.node(id).pid!)];
    for (const pid of pids) {
      expect(secretsIn(readFileSync(`/proc/${pid}/cmdline`), secrets)).toEqual([]);
      expect(secretsIn(readFileSync(`/proc/${pid}/environ`), secrets)).toEqual([]);
    }
    const logs = [...walk(cluster.dir)].filter((p) => p.endsWith(".log") || p.endsWith(".txt"));
    expect(logs.length).toBeGreaterThanOrEqual(6); // five nodes and the server
    for (const log of logs) expect(secretsIn(readFileSync(log), secrets)).toEqual([]);
    // The server's configuration holds public keys only, and no user with a password.
    const config = readFileSync(join(cluster.nats.dir, "nats.conf"), "utf8");
    expect(secretsIn(Buffer.from(config), secrets)).toEqual([]);
    expect(config).not.toMatch(/password|user:/);
  });

  test("data directories are 0700 and every file in them 0600, keys and admin token included", () => {
    const paths = [cluster.dir, ...walk(cluster.dir)];
    expect(paths.some((p) => p.endsWith("node.db"))).toBe(true);
    expect(paths.some((p) => p.endsWith(".nk"))).toBe(true);
    expect(paths.some((p) => p.endsWith("admin-token"))).toBe(true);
    const open = paths.filter((p) => (lstatSync(p).mode & 0o077) !== 0).map((p) => `${p} ${(lstatSync(p).mode & 0o777).toString(8)}`);
    expect(open).toEqual([]);
    for (const p of paths) {
      const stat = lstatSync(p);
      if (stat.isDirectory()) expect(stat.mode & 0o777).toBe(0o700);
    }
  });

  test("the processes we inspected are every process the cluster runs", () => {
    const inspected = [cluster.nats.pid!, ...cluster.running().map((id) => cluster.node(id).pid!)];
    expect(descendants(process.pid).sort((a, b) => a - b)).toEqual(inspected.sort((a, b) => a - b));
  });
});
