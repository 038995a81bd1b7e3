import { describe, expect, test } from "bun:test";
import { describeApi } from "./api.conformance.ts";
import { createApp, type ApiOptions } from "./app.ts";
import type { ChatBackend } from "../node/chat-backend.ts";
import { MemoryBackend } from "./testing/memory-backend.ts";
import { SseReader } from "./testing/sse-reader.ts";
import { pbkdf2Hasher } from "./testing/test-password-hasher.ts";

describeApi("in-memory backend", () => ({ backend: new MemoryBackend() }));

// What only a fake can show: the node failing, lagging or overloaded, and what the API
// does about it.

const PASSWORD = "correct horse battery";
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A released stream slot frees when the stream's body finishes, a turn after the client cancels: retry briefly. */
async function waitForStatus(request: () => Response | Promise<Response>, status: number, timeoutMs = 2000): Promise<Response> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const response = await request();
    if (response.status === status || Date.now() > until) return response;
    await response.body?.cancel();
    await sleep(5);
  }
}
const passwords = pbkdf2Hasher();

function setup(options: Partial<ApiOptions> & { backend?: ChatBackend } = {}) {
  const memory = new MemoryBackend();
  const app = createApp({ backend: memory, passwords, adminToken: "admin", ...options });
  const call = async (method: string, path: string, init: { token?: string; body?: unknown; headers?: Record<string, string> } = {}) => {
    const headers: Record<string, string> = { ...init.headers };
    if (init.token !== undefined) headers.authorization = `Bearer ${init.token}`;
    if (init.body !== undefined) headers["content-type"] = "application/json";
    const response = await app.request(path, { method, headers, ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}) });
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: text === "" ? null : (JSON.parse(text) as any) };
  };
  const user = async (name: string) => {
    expect((await call("POST", "/v1/accounts", { body: { username: name, password: PASSWORD } })).status).toBe(201);
    const login = await call("POST", "/v1/sessions", { body: { username: name, password: PASSWORD } });
    return { name, token: login.body.token as string };
  };
  return { memory, app, call, user };
}

/** A backend whose every call can be intercepted; the rest goes to `inner`. */
function wrap(inner: MemoryBackend, overrides: Partial<ChatBackend>): ChatBackend {
  return new Proxy(inner, {
    get(target, key, receiver) {
      if (key in overrides) return overrides[key as keyof ChatBackend];
      const value = Reflect.get(target, key, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

describe("when the cluster cannot serve", () => {
  test("a write gets 503 unavailable with Retry-After within the request deadline", async () => {
    const { memory, call, user } = setup({ requestTimeoutMs: 300 });
    const alice = await user("alice");
    memory.setUnavailable(10_000);
    const started = Date.now();
    const reply = await call("POST", "/v1/messages", { token: alice.token, body: { to: "alice", content: "hello" } });
    const elapsed = Date.now() - started;
    expect(reply.status).toBe(503);
    expect(reply.body.error.code).toBe("unavailable");
    expect(reply.headers.get("retry-after")).toBe("1");
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(1500);
  });

  test("the node's own refusal passes through as 503 before the deadline", async () => {
    const { memory, call, user } = setup();
    const alice = await user("alice");
    memory.setUnavailable(20);
    const started = Date.now();
    const write = await call("POST", "/v1/messages", { token: alice.token, body: { to: "alice", content: "hello" } });
    const read = await call("GET", "/v1/conversations", { token: alice.token });
    expect([write.status, read.status]).toEqual([503, 503]);
    expect(read.headers.get("retry-after")).toBe("1");
    expect(Date.now() - started).toBeLessThan(1000);
    // Local reads do not need the cluster.
    const local = await call("GET", "/v1/conversations?consistency=local", { token: alice.token });
    expect(local.status).toBe(200);
    // Nor does a login need more than a read barrier and a write: both refuse.
    expect((await call("POST", "/v1/sessions", { body: { username: "alice", password: PASSWORD } })).status).toBe(503);
  });

  test("a node that never answers still gives 503 at the deadline", async () => {
    const memory = new MemoryBackend();
    const hang = () => new Promise<never>(() => {});
    const { call } = setup({ backend: wrap(memory, { execute: hang, readBarrier: hang }), requestTimeoutMs: 200 });
    const started = Date.now();
    const reply = await call("POST", "/v1/accounts", { body: { username: "alice", password: PASSWORD } });
    expect(reply.status).toBe(503);
    expect(reply.headers.get("retry-after")).toBe("1");
    expect(Date.now() - started).toBeLessThan(1000);
    expect((await call("GET", "/v1/accounts/alice")).status).toBe(503);
    expect((await call("GET", "/v1/accounts/alice?consistency=local")).status).toBe(404);
  });

  test("an overloaded node answers 429 overloaded", async () => {
    const { memory, call, user } = setup();
    const alice = await user("alice");
    memory.setOverloaded(true);
    const reply = await call("POST", "/v1/messages", { token: alice.token, body: { to: "alice", content: "hello" } });
    expect(reply.status).toBe(429);
    expect(reply.body.error.code).toBe("overloaded");
    expect(reply.headers.get("retry-after")).not.toBeNull();
  });

  test("unexpected failures are 500 internal without details", async () => {
    const memory = new MemoryBackend();
    const logged: { level: string; event: string; fields: Record<string, unknown> }[] = [];
    const logger = { log: (level: string, event: string, fields: Record<string, unknown> = {}) => void logged.push({ level, event, fields }) };
    const { call } = setup({ backend: wrap(memory, { execute: () => Promise.reject(new Error("secret detail")) }), logger });
    const reply = await call("POST", "/v1/accounts", { body: { username: "alice", password: PASSWORD } });
    expect(reply.status).toBe(500);
    expect(reply.body).toEqual({ error: { code: "internal", message: "internal error" } });
    // The detail goes to the operator's log, never to the client.
    expect(logged).toEqual([{ level: "error", event: "api_internal_error", fields: { message: "secret detail", stack: expect.any(String) } }]);
  });

  test("a retry after a timed-out write that committed returns the first result", async () => {
    const { memory, call, user } = setup({ requestTimeoutMs: 200 });
    const alice = await user("alice");
    const bob = await user("bob");
    memory.pauseApply(); // it commits, but the answer never comes back in time
    const headers = { "idempotency-key": "k1" };
    const first = await call("POST", "/v1/messages", { token: alice.token, headers, body: { to: "bob", content: "once" } });
    expect(first.status).toBe(503);
    memory.resumeApply();
    const retry = await call("POST", "/v1/messages", { token: alice.token, headers, body: { to: "bob", content: "once" } });
    expect(retry.status).toBe(201);
    const inbox = await call("GET", "/v1/messages?unread=true", { token: bob.token });
    expect(inbox.body.messages.map((m: { id: number }) => m.id)).toEqual([retry.body.id]);
  });

  test("a key reused for another kind of write is 422 idempotency_key_mismatch", async () => {
    const { call, user } = setup();
    const alice = await user("alice");
    const headers = { "idempotency-key": "k1" };
    expect((await call("POST", "/v1/messages", { token: alice.token, headers, body: { to: "alice", content: "x" } })).status).toBe(201);
    const reply = await call("DELETE", "/v1/messages", { token: alice.token, headers, body: { ids: [1] } });
    expect(reply.status).toBe(422);
    expect(reply.body.error.code).toBe("idempotency_key_mismatch");
  });

  test("a record from before request digests, reused for another kind of write, is still 409 idempotency_key_reused", async () => {
    const memory = new MemoryBackend();
    // What an older node proposed: no digest in the key, so apply matches by key alone.
    const undigested = wrap(memory, {
      execute: (command, timeoutMs) =>
        memory.execute(command.idempotency === undefined ? command : { ...command, idempotency: { account: command.idempotency.account, key: command.idempotency.key } }, timeoutMs),
    });
    const { call, user } = setup({ backend: undigested });
    const alice = await user("alice");
    const headers = { "idempotency-key": "k1" };
    expect((await call("POST", "/v1/messages", { token: alice.token, headers, body: { to: "alice", content: "x" } })).status).toBe(201);
    const reply = await call("DELETE", "/v1/messages", { token: alice.token, headers, body: { ids: [1] } });
    expect(reply.status).toBe(409);
    expect(reply.body.error.code).toBe("idempotency_key_reused");
  });
});

describe("a lagging node", () => {
  test("?consistency=local shows how far behind it is; the default read waits for the barrier", async () => {
    const { memory, call, user } = setup({ requestTimeoutMs: 300 });
    const alice = await user("alice");
    memory.pauseApply();
    void call("POST", "/v1/messages", { token: alice.token, body: { to: "alice", content: "in flight" } });
    await sleep(10);
    const local = await call("GET", "/v1/messages?with=alice&consistency=local", { token: alice.token });
    expect(local.status).toBe(200);
    expect(local.body.messages).toEqual([]);
    expect(Number(local.headers.get("x-concord-commit-index"))).toBe(Number(local.headers.get("x-concord-applied-index")) + 1);
    // A linearizable read cannot answer before the node applies what was committed.
    expect((await call("GET", "/v1/messages?with=alice", { token: alice.token })).status).toBe(503);
    setTimeout(() => memory.resumeApply(), 50);
    const fresh = await call("GET", "/v1/messages?with=alice", { token: alice.token });
    expect(fresh.body.messages.map((m: { content: string }) => m.content)).toEqual(["in flight"]);
  });

  test("a token from a login committed elsewhere works at once: a miss runs a read barrier first", async () => {
    const memory = new MemoryBackend();
    let barriers = 0;
    // Until a barrier runs, this node has not applied any session yet.
    const lagging = wrap(memory, {
      readBarrier: async (timeoutMs) => {
        barriers++;
        await memory.readBarrier(timeoutMs);
      },
      queries: { ...memory.queries, session: async (hash) => (barriers === 0 ? null : memory.queries.session(hash)) },
    });
    const writer = setup({ backend: memory });
    const alice = await writer.user("alice");
    const { call } = setup({ backend: lagging });
    const reply = await call("POST", "/v1/messages", { token: alice.token, body: { to: "alice", content: "hi" } });
    expect(reply.status).toBe(201);
    expect(barriers).toBe(1);
    // A token that is not even well-formed never costs a barrier.
    barriers = 0;
    expect((await call("POST", "/v1/messages", { token: "junk", body: { to: "alice", content: "hi" } })).status).toBe(401);
    expect(barriers).toBe(0);
  });

  test("a login verifies unknown users against a decoy hash, so both cost the same work", async () => {
    let verifies = 0;
    const counting = { hash: passwords.hash, verify: async (p: string, h: string) => (verifies++, passwords.verify(p, h)) };
    const { call, user } = setup({ passwords: counting });
    await user("alice");
    verifies = 0;
    await call("POST", "/v1/sessions", { body: { username: "nobody", password: PASSWORD } });
    await call("POST", "/v1/sessions", { body: { username: "alice", password: "wrong password" } });
    await call("POST", "/v1/sessions", { body: { username: "bad name!", password: PASSWORD } });
    expect(verifies).toBe(3);
  });
});

describe("event streams", () => {
  const open = async (app: ReturnType<typeof setup>["app"], token: string, lastEventId?: number) => {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (lastEventId !== undefined) headers["last-event-id"] = String(lastEventId);
    const response = await app.request("/v1/events", { headers });
    expect(response.status).toBe(200);
    return new SseReader(response);
  };

  test("replay after pruned history starts with reset, then continues live", async () => {
    const { memory, app, call, user } = setup();
    const alice = await user("alice");
    const first = (await call("POST", "/v1/messages", { token: alice.token, body: { to: "alice", content: "old" } })).body.id as number;
    await call("POST", "/v1/messages", { token: alice.token, body: { to: "alice", content: "older" } });
    memory.pruneEvents(first + 1);
    const stream = await open(app, alice.token, first - 1);
    try {
      const [ready, reset] = await stream.events(2);
      expect(ready?.event).toBe("ready");
      expect(reset?.event).toBe("reset");
      expect(JSON.parse(reset!.data).reason).toBe("history_pruned");
      expect(Number(reset?.id)).toBe(memory.status().applied);
      const live = (await call("POST", "/v1/messages", { token: alice.token, body: { to: "alice", content: "new" } })).body.id;
      expect(Number((await stream.nextEvent())?.id)).toBe(live);
    } finally {
      await stream.close();
    }
  });

  test("replays longer than a page arrive complete and in order, then live without duplicates", async () => {
    const { app, call, user } = setup();
    const alice = await user("alice");
    const ids: number[] = [];
    for (let i = 0; i < 450; i++) ids.push((await call("POST", "/v1/messages", { token: alice.token, body: { to: "alice", content: `m${i}` } })).body.id);
    const stream = await open(app, alice.token, 0);
    try {
      const events = await stream.events(451, 5000);
      expect(events.slice(1).map((e) => Number(e.id))).toEqual(ids);
      const live = (await call("POST", "/v1/messages", { token: alice.token, body: { to: "alice", content: "live" } })).body.id;
      expect(Number((await stream.nextEvent())?.id)).toBe(live);
      expect(await stream.nextEvent(100)).toBeNull();
    } finally {
      await stream.close();
    }
  });

  test("events applied during the replay are delivered once", async () => {
    const memory = new MemoryBackend();
    const { call, user } = setup({ backend: memory });
    const alice = await user("alice");
    for (let i = 0; i < 3; i++) await call("POST", "/v1/messages", { token: alice.token, body: { to: "alice", content: `m${i}` } });
    // Slow history: while the replay query runs, a new message is applied and published.
    const slow = wrap(memory, {
      queries: {
        ...memory.queries,
        eventsAfter: async (account, after, limit) => {
          const page = await memory.queries.eventsAfter(account, after, limit);
          await call("POST", "/v1/messages", { token: alice.token, body: { to: "alice", content: "during replay" } });
          return page;
        },
      },
    });
    const { app } = setup({ backend: slow });
    const stream = await open(app, alice.token, 0);
    try {
      const events = await stream.events(5, 1000);
      const ids = events.slice(1).map((e) => Number(e.id));
      expect(ids.length).toBe(4);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids).toEqual([...ids].sort((a, b) => a - b));
    } finally {
      await stream.close();
    }
  });

  test("a client too slow to keep up is dropped with a final reset", async () => {
    const { app, call, user } = setup({ eventBufferLimit: 3 });
    const alice = await user("alice");
    const stream = await open(app, alice.token);
    expect((await stream.nextEvent())?.event).toBe("ready");
    // Nobody reads while these arrive: the stream's buffer fills, then overflows.
    for (let i = 0; i < 40; i++) await call("POST", "/v1/messages", { token: alice.token, body: { to: "alice", content: "x".repeat(2000) } });
    const rest: string[] = [];
    for (;;) {
      const event = await stream.nextEvent(1000);
      if (event === null) break;
      rest.push(event.event);
    }
    expect(rest.at(-1)).toBe("reset");
    expect(rest.length).toBeLessThan(40);
    expect(stream.ended).toBe(true);
  });

  test("heartbeats are comments; a revoked session ends its streams", async () => {
    const { app, call, user } = setup({ heartbeatMs: 30 });
    const alice = await user("alice");
    const stream = await open(app, alice.token);
    try {
      expect((await stream.nextEvent())?.event).toBe("ready");
      const beat = await stream.next(500);
      expect(beat?.comment).toBe("keep-alive");
      await call("DELETE", "/v1/sessions/current", { token: alice.token });
      for (let i = 0; i < 20 && !stream.ended; i++) await stream.next(100);
      expect(stream.ended).toBe(true);
    } finally {
      await stream.close();
    }
  });

  test("event streams are bounded per account (429) and released when clients leave; the dashboard pool is separate", async () => {
    const { app, call, user } = setup({ streams: { account: { perAccount: 1 } } });
    const alice = await user("alice");
    const bob = await user("bob");
    const stream = await open(app, alice.token);
    expect((await stream.nextEvent())?.event).toBe("ready");
    const refused = await call("GET", "/v1/events", { token: alice.token });
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe("overloaded");
    expect(refused.headers.get("retry-after")).toBe("5");
    // Another account and the dashboard still get theirs.
    const other = await open(app, bob.token);
    const dashboard = new SseReader(await app.request("/v1/cluster/events"));
    expect((await dashboard.nextEvent())?.event).toBe("status");
    await stream.close();
    await other.close();
    await dashboard.close();
    const again = await waitForStatus(() => app.request("/v1/events", { headers: { authorization: `Bearer ${alice.token}` } }), 200);
    await again.body?.cancel();
  });

  test("a thousand anonymous dashboard streams cannot take a signed-in user's stream", async () => {
    const addresses = new Map<Request, string>();
    const { app, user } = setup({ streams: { dashboard: { max: 5, perAddress: 2 } }, clientAddress: (request) => addresses.get(request) ?? null });
    const alice = await user("alice");
    const from = (address: string, path: string, headers: Record<string, string> = {}) => {
      const request = new Request(`http://node${path}`, { headers });
      addresses.set(request, address);
      return app.request(request);
    };
    const dashboards: SseReader[] = [];
    const statuses: number[] = [];
    for (let i = 0; i < 1000; i++) {
      const response = await from(`10.0.${i >> 8}.${i & 255}`, "/v1/cluster/events");
      statuses.push(response.status);
      if (response.status === 200) dashboards.push(new SseReader(response));
      else await response.body?.cancel();
    }
    expect(dashboards.length).toBe(5);
    expect(statuses.filter((s) => s === 429).length).toBe(995);
    // Per address: a third stream from one address is refused while the pool has room.
    for (const d of dashboards.splice(0)) await d.close();
    const one = await waitForStatus(() => from("10.9.9.9", "/v1/cluster/events"), 200);
    const two = await from("10.9.9.9", "/v1/cluster/events");
    const three = await from("10.9.9.9", "/v1/cluster/events");
    expect([one.status, two.status, three.status]).toEqual([200, 200, 429]);
    const mine = await from("10.9.9.9", "/v1/events", { authorization: `Bearer ${alice.token}` });
    expect(mine.status).toBe(200);
    for (const response of [one, two, mine]) await response.body?.cancel();
  });

  test("the dashboard status is built once per change for all its streams", async () => {
    const memory = new MemoryBackend();
    let reads = 0;
    const counting = wrap(memory, {
      appliedState: async () => {
        reads++;
        return memory.appliedState();
      },
    });
    const { app } = setup({ backend: counting, streams: { dashboard: { perAddress: 50 } } });
    const writer = setup({ backend: memory });
    const alice = await writer.user("alice");
    const streams = await Promise.all(Array.from({ length: 20 }, async () => new SseReader(await app.request("/v1/cluster/events"))));
    try {
      for (const stream of streams) expect((await stream.nextEvent())?.event).toBe("status");
      const before = reads;
      await writer.call("POST", "/v1/messages", { token: alice.token, body: { to: "alice", content: "move the status" } });
      for (const stream of streams) expect((await stream.nextEvent(2000))?.event).toBe("status");
      // One build (or two, if the change came in two notifications) for 20 streams, not 20.
      expect(reads - before).toBeLessThanOrEqual(2);
    } finally {
      for (const stream of streams) await stream.close();
    }
  });

  test("cluster status pushes are coalesced to at most ~10 a second", async () => {
    const { app, call, user } = setup();
    const alice = await user("alice");
    const response = await app.request("/v1/cluster/events");
    const stream = new SseReader(response);
    try {
      expect((await stream.nextEvent())?.event).toBe("status");
      const started = Date.now();
      for (let i = 0; i < 30; i++) await call("POST", "/v1/messages", { token: alice.token, body: { to: "alice", content: "x" } });
      let pushes = 0;
      while (Date.now() - started < 500) if ((await stream.nextEvent(50)) !== null) pushes++;
      expect(pushes).toBeGreaterThan(0);
      expect(pushes).toBeLessThanOrEqual(Math.ceil((Date.now() - started) / 100) + 1);
    } finally {
      await stream.close();
    }
  });
});

describe("admin", () => {
  const admin = { authorization: "Bearer admin" };

  test("membership and leadership changes reach the node and answer 202", async () => {
    const { memory, call } = setup();
    expect((await call("POST", "/v1/cluster/members", { headers: admin, body: { id: 4, voter: false } })).status).toBe(202);
    expect((await call("POST", "/v1/cluster/members", { headers: admin, body: { id: 5, voter: true } })).status).toBe(202);
    expect((await call("POST", "/v1/cluster/leader", { headers: admin, body: { to: 5 } })).status).toBe(202);
    expect((await call("DELETE", "/v1/cluster/members/4", { headers: admin })).status).toBe(202);
    expect(memory.adminCalls).toEqual(["add 4 learner", "add 5 voter", "transfer 5", "remove 4"]);
    const cluster = await call("GET", "/v1/cluster");
    expect(cluster.body.leader).toBe(5);
    expect(cluster.body.members.map((m: { id: number; voter: boolean }) => [m.id, m.voter])).toEqual([
      [1, true],
      [5, true],
    ]);
  });

  test("a change the node refuses is 400; an unavailable cluster 503", async () => {
    const { memory, call } = setup({ requestTimeoutMs: 200 });
    const refused = await call("DELETE", "/v1/cluster/members/7", { headers: admin });
    expect(refused.status).toBe(400);
    expect(refused.body.error.code).toBe("invalid_request");
    memory.setUnavailable(5000);
    const unavailable = await call("POST", "/v1/cluster/leader", { headers: admin, body: { to: 1 } });
    expect(unavailable.status).toBe(503);
    expect(unavailable.headers.get("retry-after")).toBe("1");
  });

  test("without an admin token configured, admin routes are 403 admin_disabled", async () => {
    const { call } = setup({ adminToken: null });
    const reply = await call("POST", "/v1/cluster/leader", { headers: admin, body: { to: 1 } });
    expect(reply.status).toBe(403);
    expect(reply.body.error.code).toBe("admin_disabled");
  });
});

describe("limits", () => {
  test("maxBodyBytes is configurable", async () => {
    const { call } = setup({ maxBodyBytes: 100 });
    const reply = await call("POST", "/v1/accounts", { body: { username: "alice", password: "x".repeat(200) } });
    expect(reply.status).toBe(413);
    expect(reply.body.error.code).toBe("payload_too_large");
  });

  test("passwords longer than 1024 characters are refused before hashing", async () => {
    const { call } = setup();
    const reply = await call("POST", "/v1/accounts", { body: { username: "alice", password: "x".repeat(1025) } });
    expect(reply.status).toBe(400);
  });
});

describe("session lifetimes", () => {
  const DAY = 86_400_000;
  /** The API and the fake node share one clock, as a node's API and its leader's stamp do (give or take skew). */
  function clocked() {
    let now = Date.UTC(2026, 0, 1);
    const memory = new MemoryBackend({ now: () => now });
    const env = setup({ backend: memory, now: () => now, heartbeatMs: 20 });
    return { ...env, memory, advance: (ms: number) => (now += ms) };
  }

  test("a session used at least every few days lives until the absolute lifetime, then is 401 session_expired", async () => {
    const { call, user, advance } = clocked();
    const alice = await user("alice");
    for (let day = 0; day < 29; day += 3) {
      advance(3 * DAY);
      if (day + 3 >= 30) break;
      expect((await call("GET", "/v1/conversations", { token: alice.token })).status).toBe(200);
    }
    const expired = await call("GET", "/v1/conversations", { token: alice.token });
    expect(expired.status).toBe(401);
    expect(expired.body.error.code).toBe("session_expired");
    expect(expired.headers.get("www-authenticate")).toContain("invalid_token");
    // Writes too, and signing in again gives a fresh session.
    expect((await call("POST", "/v1/messages", { token: alice.token, body: { to: "alice", content: "x" } })).body.error.code).toBe("session_expired");
    expect((await call("POST", "/v1/sessions", { body: { username: "alice", password: PASSWORD } })).status).toBe(201);
  });

  test("an unused session expires after the idle lifetime; a request touches it at most once an hour", async () => {
    const { memory, call, user, advance } = clocked();
    const alice = await user("alice");
    const touches = () => memory.status().lastIndex;
    const before = touches();
    advance(30 * 60_000);
    await call("GET", "/v1/conversations", { token: alice.token });
    expect(touches()).toBe(before); // seen at login, half an hour ago: no touch yet
    advance(31 * 60_000);
    await call("GET", "/v1/conversations", { token: alice.token });
    expect(touches()).toBe(before + 1);
    await call("GET", "/v1/conversations", { token: alice.token });
    expect(touches()).toBe(before + 1);
    // Seven days minus a minute after the touch: alive. Seven days and a minute: gone.
    advance(7 * DAY - 60_000);
    expect((await call("GET", "/v1/conversations", { token: alice.token })).status).toBe(200);
    advance(7 * DAY + 60_000);
    expect((await call("GET", "/v1/conversations", { token: alice.token })).body.error.code).toBe("session_expired");
  });

  test("an open event stream keeps its session seen, and ends when it expires", async () => {
    const { app, user, advance } = clocked();
    const alice = await user("alice");
    const response = await app.request("/v1/events", { headers: { authorization: `Bearer ${alice.token}` } });
    const stream = new SseReader(response);
    try {
      expect((await stream.nextEvent())?.event).toBe("ready");
      advance(31 * 24 * 3_600_000);
      for (let i = 0; i < 50 && !stream.ended; i++) await stream.next(50);
      expect(stream.ended).toBe(true);
    } finally {
      await stream.close();
    }
  });

  test("lifetimes may be shortened, never made longer than the state machine sweeps by", () => {
    expect(() => setup({ sessions: { idleMs: 8 * DAY } })).toThrow(RangeError);
    expect(() => setup({ sessions: { idleMs: DAY, absoluteMs: 2 * DAY } })).not.toThrow();
  });
});

describe("password hashing under a flood", () => {
  test("logins past the hashing gate's queue get 429 overloaded at once instead of waiting behind the flood", async () => {
    let running = 0;
    let peak = 0;
    const slow = {
      hash: passwords.hash,
      verify: async (p: string, h: string) => {
        running++;
        peak = Math.max(peak, running);
        await sleep(30);
        running--;
        return passwords.verify(p, h);
      },
    };
    // Budgets out of the way (40 attempts at once would find alice's successful-login budget
    // reserved by the others): only the gate answers here.
    const generous = { burst: 1e6, perSecond: 1 };
    const rateLimits = { successfulLoginsPerAddress: generous, successfulLoginsPerAccount: generous, failedLoginsPerAddress: generous, failedLoginsPerAccount: generous };
    const { app, call, user } = setup({ passwords: slow, hashing: { concurrency: 2, queue: 4 }, rateLimits });
    await user("alice");
    const started = Date.now();
    const replies = await Promise.all(Array.from({ length: 40 }, () => call("POST", "/v1/sessions", { body: { username: "alice", password: "wrong password" } })));
    const statuses = replies.map((r) => r.status);
    // 2 running + 2 queued: one address (here the unknown one) may hold only half the queue.
    expect(statuses.filter((s) => s === 401).length).toBe(4);
    expect(statuses.filter((s) => s === 429).length).toBe(36);
    for (const reply of replies.filter((r) => r.status === 429)) {
      expect(reply.body.error.code).toBe("overloaded");
      expect(reply.headers.get("retry-after")).toBe("1");
    }
    expect(peak).toBe(2);
    expect(Date.now() - started).toBeLessThan(1000);
    // A refused attempt does not count as a failed one: the right password still gets in.
    expect((await call("POST", "/v1/sessions", { body: { username: "alice", password: PASSWORD } })).status).toBe(201);
    expect(await (await app.request("/metrics")).text()).toContain("concord_password_hashes_refused_total 36");
  });

  test("rate-limit refusals are counted in /metrics by limit", async () => {
    const { app, call, user } = setup({ rateLimits: { failedLoginsPerAddress: { burst: 1, perSecond: 0.001 } } });
    await user("alice");
    await call("POST", "/v1/sessions", { body: { username: "alice", password: "wrong password" } });
    expect((await call("POST", "/v1/sessions", { body: { username: "alice", password: "wrong password" } })).status).toBe(429);
    const response = await (await app.request("/metrics")).text();
    expect(response).toContain('concord_rate_limited_total{limit="failedLoginsPerAddress"} 1');
    expect(response).toContain('concord_http_open_streams_by_pool{pool="dashboard"} 0');
  });
});

describe("account listing", () => {
  test("total counts up to 1000, then says 1000+ (totalCapped)", async () => {
    const { memory, call, user } = setup();
    const me = await user("me");
    for (let i = 0; i < 1001; i++) await memory.execute({ type: "createAccount", username: `p${String(i).padStart(4, "0")}`, passwordHash: "h" }, 1000);
    const capped = await call("GET", "/v1/accounts?pattern=p*&limit=2", { token: me.token });
    expect(capped.body).toMatchObject({ total: 1000, totalCapped: true, nextCursor: "p0001" });
    const exact = await call("GET", "/v1/accounts?pattern=p000?", { token: me.token });
    expect(exact.body).toMatchObject({ total: 10, totalCapped: false });
  });
});
