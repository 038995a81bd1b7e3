import { afterEach, describe, expect, test } from "bun:test";
import { ConcordClient } from "../../src/client/concord-client.ts";
import { LocalCluster } from "../../harness/cluster/local-cluster.ts";

// The chat API on 5 real node processes: any node serves any request, writes survive
// a leader crash exactly once, and reads are linearizable.

let cluster: LocalCluster | null = null;
afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

const PASSWORD = "correct-horse-1";

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

async function signupAndLogin(url: string, username: string): Promise<string> {
  const created = await call(url, "POST", "/v1/accounts", { username, password: PASSWORD });
  expect(created.status).toBe(201);
  const session = await call(url, "POST", "/v1/sessions", { username, password: PASSWORD });
  expect(session.status).toBe(201);
  return session.body.token as string;
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe("the chat API on five node processes", () => {
  test("a message sent through a follower is readable at once on another node", async () => {
    cluster = await LocalCluster.start({ nodes: 5 });
    const leader = await cluster.leader();
    const [f1, f2, f3] = cluster.running().filter((id) => id !== leader).map((id) => cluster!.urls.get(id)!);
    const alice = await signupAndLogin(f1!, "alice");
    const bob = await signupAndLogin(f2!, "bob");
    for (let i = 0; i < 20; i++) {
      const sent = await call(f1!, "POST", "/v1/messages", { to: "bob", content: `hello ${i}` }, bearer(alice));
      expect(sent.status).toBe(201);
      // Linearizable: a read that starts after the write's acknowledgement sees it, on any node.
      const read = await call(f3!, "GET", "/v1/messages?with=alice&limit=1", undefined, bearer(bob));
      expect(read.status).toBe(200);
      expect(read.body.messages[0].id).toBe(sent.body.id);
    }
  }, 60_000);

  test("a retry with the same Idempotency-Key after the leader dies mid-request creates one message", async () => {
    cluster = await LocalCluster.start({ nodes: 5 });
    for (let round = 0; round < 3; round++) {
      const leader = await cluster.leader();
      const url = cluster.urls.get(leader)!;
      const others = cluster.running().filter((id) => id !== leader);
      const sender = `sender${round}`;
      const token = await signupAndLogin(url, sender);
      await signupAndLogin(url, `receiver${round}`);
      const key = `key-${round}`;
      const content = `exactly once ${round}`;
      // Send to the leader and kill it while the request is in flight.
      const first = call(url, "POST", "/v1/messages", { to: `receiver${round}`, content }, { ...bearer(token), "idempotency-key": key }).catch(() => null);
      await cluster.node(leader).kill();
      await first;
      // Retry elsewhere with the same key until it succeeds.
      let retried: { status: number; body: any } | null = null;
      for (let attempt = 0; attempt < 50 && retried?.status !== 201; attempt++) {
        retried = await call(cluster.urls.get(others[attempt % others.length]!)!, "POST", "/v1/messages", { to: `receiver${round}`, content }, { ...bearer(token), "idempotency-key": key }).catch(() => null);
      }
      if (retried?.status !== 201) console.error("last retry answer:", JSON.stringify(retried));
      expect(retried?.status).toBe(201);
      const view = await call(cluster.urls.get(others[0]!)!, "GET", `/v1/messages?with=receiver${round}`, undefined, bearer(token));
      expect(view.body.messages.filter((m: { content: string }) => m.content === content).length).toBe(1);
      await cluster.startNode(leader);
    }
  }, 90_000);

  test("an event stream whose node is killed resumes on another node: no event missed, none twice", async () => {
    cluster = await LocalCluster.start({ nodes: 5 });
    const leader = await cluster.leader();
    const [watched, ...rest] = cluster.running().filter((id) => id !== leader);
    const url = (id: number) => cluster!.urls.get(id)!;
    const sender = new ConcordClient({ nodes: [leader, ...rest].map(url) });
    await sender.signup("alice", PASSWORD);
    await sender.login("alice", PASSWORD);
    // Bob's client talks to `watched` first and knows every other node too.
    const bob = new ConcordClient({ nodes: [watched!, leader, ...rest].map(url) });
    await bob.signup("bob", PASSWORD);
    await bob.login("bob", PASSWORD);

    const received: number[] = [];
    const nodesConnected: string[] = [];
    let wake = () => {};
    const subscription = bob.events({
      onEvent: (event) => {
        if (event.type === "message") received.push(event.data.id);
        wake();
      },
      onStatus: (status) => {
        if (status.state === "connected") nodesConnected.push(status.node);
        wake();
      },
    });
    const until = async (what: string, done: () => boolean, timeoutMs = 20_000) => {
      const deadline = Date.now() + timeoutMs;
      while (!done()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 250);
        });
      }
    };
    try {
      await until("the stream to connect", () => nodesConnected.length > 0);
      const sent: number[] = [];
      for (let i = 0; i < 40; i++) {
        if (i === 20) await cluster.node(watched!).kill();
        sent.push((await sender.send("bob", `event ${i}`)).id);
      }
      await until("every message event", () => received.length >= sent.length);
      expect(received).toEqual(sent); // in order, each once
      expect(nodesConnected[0]).toBe(url(watched!));
      expect(nodesConnected.length).toBeGreaterThan(1);
      expect(nodesConnected.at(-1)).not.toBe(url(watched!));
    } finally {
      subscription.close();
    }
  }, 60_000);

  test("clients racing to create the same username: exactly one wins, on every node", async () => {
    cluster = await LocalCluster.start({ nodes: 5 });
    await cluster.leader();
    const urls = [...cluster.urls.values()];
    const attempts = await Promise.all(
      Array.from({ length: 10 }, (_, i) => call(urls[i % urls.length]!, "POST", "/v1/accounts", { username: "racer", password: `${PASSWORD}-${i}` })),
    );
    expect(attempts.filter((a) => a.status === 201).length).toBe(1);
    expect(attempts.filter((a) => a.status === 409).every((a) => a.body.error.code === "username_taken")).toBe(true);
    expect(attempts.filter((a) => a.status === 409).length).toBe(9);
    // Every node agrees on who won: the same account, created once.
    const seen = await Promise.all(urls.map((url) => call(url, "GET", "/v1/accounts/racer")));
    expect(new Set(seen.map((s) => JSON.stringify(s.body))).size).toBe(1);
    const winner = attempts.findIndex((a) => a.status === 201);
    const login = await call(urls[0]!, "POST", "/v1/sessions", { username: "racer", password: `${PASSWORD}-${winner}` });
    expect(login.status).toBe(201);
  }, 60_000);
});
