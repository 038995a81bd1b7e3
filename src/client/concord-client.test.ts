import { afterEach, describe, expect, test } from "bun:test";
import { ConcordClient } from "./concord-client.ts";
import { ConcordError } from "./concord-error.ts";
import { FakeNodes, apiError, jsonResponse, sampleMessage } from "./testing/fake-nodes.ts";

const nodes = new FakeNodes();
afterEach(() => nodes.stopAll());

const created = (request: Request) =>
  request.json().then((body) => {
    const { to, content } = body as { to: string; content: string };
    return jsonResponse(201, { ...sampleMessage(42, "alice", to, content) });
  });

async function caught(promise: Promise<unknown>): Promise<ConcordError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ConcordError) return error;
    throw error;
  }
  throw new Error("expected a ConcordError");
}

describe("failover", () => {
  test("a node refusing connections: the write goes to the next node, which becomes current", async () => {
    const dead = await nodes.dead();
    const live = nodes.start(created);
    const client = new ConcordClient({ nodes: [dead, live.url], token: "t" });
    const changes: string[] = [];
    client.onNodeChange((node) => changes.push(node));

    const message = await client.send("bob", "hi");

    expect(message).toMatchObject({ id: 42, from: "alice", to: "bob", content: "hi", fromDeleted: false, readAt: null });
    expect(client.currentNode).toBe(live.url);
    expect(changes).toEqual([live.url]);
    expect(live.requests[0]?.headers.get("authorization")).toBe("Bearer t");
  });

  test("a 503: the retry on the next node carries the same Idempotency-Key", async () => {
    const keys: (string | null)[] = [];
    const sick = nodes.start((request) => {
      keys.push(request.headers.get("idempotency-key"));
      return apiError(503, "unavailable", "no leader", { "retry-after": "0" });
    });
    const live = nodes.start((request) => {
      keys.push(request.headers.get("idempotency-key"));
      return created(request);
    });
    const client = new ConcordClient({ nodes: [sick.url, live.url], token: "t" });

    await client.send("bob", "once");

    expect(keys).toHaveLength(2);
    expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(keys[1]).toBe(keys[0]!);
    // The next logical write gets a key of its own.
    await client.send("bob", "twice");
    expect(live.requests.at(-1)?.headers.get("idempotency-key")).not.toBe(keys[0]!);
  });

  test("a node that takes the write and never answers: timeout, then the same key elsewhere", async () => {
    const keys: (string | null)[] = [];
    const hung = nodes.start((request) => {
      keys.push(request.headers.get("idempotency-key"));
      return new Promise<Response>(() => {}); // committed, then died before answering
    });
    const live = nodes.start((request) => {
      keys.push(request.headers.get("idempotency-key"));
      return created(request);
    });
    const client = new ConcordClient({ nodes: [hung.url, live.url], token: "t", requestTimeoutMs: 150 });

    await client.send("bob", "hi", { idempotencyKey: "my-key" });

    expect(keys).toEqual(["my-key", "my-key"]);
  });

  test("sticky: after a failover the next call goes straight to the node that worked", async () => {
    const sick = nodes.start(() => apiError(503, "unavailable", "no quorum"));
    const live = nodes.start(() => jsonResponse(200, { conversations: [] }));
    const client = new ConcordClient({ nodes: [sick.url, live.url], token: "t" });

    await client.conversations();
    await client.conversations();
    await client.conversations();

    expect(sick.requests).toHaveLength(1);
    expect(live.requests).toHaveLength(3);
  });

  test("every node unavailable: code 'unavailable' after bounded attempts, message names the nodes", async () => {
    const a = nodes.start(() => apiError(503, "unavailable", "no leader", { "retry-after": "0" }));
    const b = nodes.start(() => apiError(503, "unavailable", "no leader", { "retry-after": "0" }));
    const client = new ConcordClient({ nodes: [a.url, b.url], token: "t", maxAttempts: 5 });

    const error = await caught(client.send("bob", "hi"));

    expect(error.code).toBe("unavailable");
    expect(error.status).toBe(503);
    expect(error.transient).toBe(true);
    expect(error.idempotencyKey).toMatch(/^[0-9a-f-]{36}$/);
    expect(error.message).toContain(a.url);
    expect(a.requests.length + b.requests.length).toBe(5);
  });

  test("some nodes down, the rest answering 503: the error is 'unavailable', not 'network'", async () => {
    const down = await nodes.dead();
    const sick = nodes.start(() => apiError(503, "unavailable", "no quorum", { "retry-after": "0" }));
    // The last attempt lands on the dead node; the answer that matters is the 503.
    const client = new ConcordClient({ nodes: [sick.url, down], token: "t", maxAttempts: 4 });

    const error = await caught(client.send("bob", "hi"));

    expect(error.code).toBe("unavailable");
    expect(error.status).toBe(503);
    expect(sick.requests.length).toBe(2);
  });

  test("Retry-After is honoured between passes, within the total deadline", async () => {
    let calls = 0;
    const node = nodes.start(() => (++calls === 1 ? apiError(503, "unavailable", "electing", { "retry-after": "1" }) : jsonResponse(200, { conversations: [] })));
    const client = new ConcordClient({ nodes: [node.url], token: "t" });

    const started = Date.now();
    await client.conversations();
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);

    // A Retry-After beyond the deadline: give up at once rather than sleep past it.
    calls = 0;
    const hurried = new ConcordClient({ nodes: [node.url], token: "t", deadlineMs: 300 });
    const before = Date.now();
    const error = await caught(hurried.conversations());
    expect(error.code).toBe("unavailable");
    expect(Date.now() - before).toBeLessThan(300);
  });

  test("every node down: code 'network', no status", async () => {
    const client = new ConcordClient({ nodes: [await nodes.dead(), await nodes.dead()], deadlineMs: 2000 });
    const error = await caught(client.getAccount("bob"));
    expect(error.code).toBe("network");
    expect(error.status).toBeNull();
  });

  test("a node asked by name is asked once, without failing over", async () => {
    const sick = nodes.start(() => apiError(503, "unavailable", "no leader"));
    const live = nodes.start(() => jsonResponse(200, {}));
    const client = new ConcordClient({ nodes: [sick.url, live.url] });
    expect((await caught(client.cluster({ node: sick.url }))).code).toBe("unavailable");
    expect(live.requests).toHaveLength(0);
    expect(await client.ready(sick.url)).toBe(false);
    expect(await client.health(await nodes.dead())).toBe(false);
  });
});

describe("error mapping", () => {
  test("an API error is thrown as is and not retried elsewhere", async () => {
    const first = nodes.start(() => apiError(409, "username_taken", "the username 'alice' is taken"));
    const second = nodes.start(() => jsonResponse(201, {}));
    const client = new ConcordClient({ nodes: [first.url, second.url] });

    const error = await caught(client.signup("alice", "password1"));

    expect({ code: error.code, status: error.status, message: error.message }).toEqual({
      code: "username_taken",
      status: 409,
      message: "the username 'alice' is taken",
    });
    expect(error.transient).toBe(false);
    expect(second.requests).toHaveLength(0);
  });

  test("an error without the documented body gets a code from its status", async () => {
    const node = nodes.start(() => new Response("<html>nope</html>", { status: 401 }));
    const error = await caught(new ConcordClient({ nodes: [node.url] }).conversations());
    expect([error.code, error.status, error.authentication]).toEqual(["unauthorized", 401, true]);
  });

  test("a 2xx that is not JSON is a bad_response", async () => {
    const node = nodes.start(() => new Response("not json", { status: 200 }));
    expect((await caught(new ConcordClient({ nodes: [node.url] }).conversations())).code).toBe("bad_response");
  });

  test("bad arguments are refused before anything is sent", async () => {
    expect(() => new ConcordClient({ nodes: [] })).toThrow(ConcordError);
    expect(() => new ConcordClient({ nodes: ["ftp://x"] })).toThrow("http or https");
    expect(() => new ConcordClient({ nodes: ["http://a:1", "http://a:1/"] })).toThrow("duplicate");
    const client = new ConcordClient({ nodes: ["http://127.0.0.1:1"] });
    expect((await caught(client.send("bob", "x", { idempotencyKey: "k".repeat(65) }))).code).toBe("invalid_argument");
    expect((await caught(client.deleteMessages([1.5]))).code).toBe("invalid_argument");
    expect((await caught(client.addMember(6, false))).code).toBe("invalid_argument");
  });
});

describe("routes", () => {
  test("login keeps the token; logout drops it even when the server already forgot it", async () => {
    const seen: string[] = [];
    const node = nodes.start(async (request) => {
      const url = new URL(request.url);
      seen.push(`${request.method} ${url.pathname}${url.search} ${request.headers.get("authorization") ?? "-"}`);
      if (url.pathname === "/v1/sessions") {
        expect(await request.json()).toEqual({ username: "alice", password: "password1" });
        return jsonResponse(201, { token: "tok", username: "alice", unread: 2 });
      }
      if (url.pathname === "/v1/messages") return jsonResponse(200, { messages: [sampleMessage(9, "bob", "alice")], unread: 1, nextBefore: null });
      return apiError(401, "unauthorized", "no such session");
    });
    const client = new ConcordClient({ nodes: [node.url] });

    expect(await client.login("alice", "password1")).toEqual({ token: "tok", username: "alice", unread: 2 });
    const page = await client.conversation("bob & co", { limit: 10, before: 50 });
    expect(page.messages.map((m) => m.id)).toEqual([9]);
    await client.logout();

    expect(client.token).toBeNull();
    expect(seen).toEqual([
      "POST /v1/sessions -",
      "GET /v1/messages?with=bob+%26+co&limit=10&before=50 Bearer tok",
      "DELETE /v1/sessions/current Bearer tok",
    ]);
  });

  test("logoutEverywhere and changePassword send their routes; signing out everywhere drops the token", async () => {
    const seen: unknown[] = [];
    const node = nodes.start(async (request) => {
      const url = new URL(request.url);
      seen.push([request.method, url.pathname, request.headers.get("authorization"), request.body === null ? null : await request.json(), request.headers.get("idempotency-key") !== null]);
      if (url.pathname === "/v1/accounts/me/password") return jsonResponse(200, { revoked: 3 });
      if (url.pathname === "/v1/sessions") return jsonResponse(200, { revoked: 4 });
      return apiError(404, "not_found", "no");
    });
    const client = new ConcordClient({ nodes: [node.url], token: "t" });
    expect(await client.changePassword("old password", "new password")).toBe(3);
    expect(client.token).toBe("t");
    expect(await client.logoutEverywhere()).toBe(4);
    expect(client.token).toBeNull();
    expect(seen).toEqual([
      ["PUT", "/v1/accounts/me/password", "Bearer t", { currentPassword: "old password", newPassword: "new password" }, true],
      ["DELETE", "/v1/sessions", "Bearer t", null, true],
    ]);
  });

  test("a 429 is not retried on another node: the caller sees rate_limited and when to come back", async () => {
    const limited = nodes.start(() => apiError(429, "rate_limited", "too many failed password attempts", { "retry-after": "30" }));
    const other = nodes.start(() => jsonResponse(201, { token: "tok", username: "alice", unread: 0 }));
    const client = new ConcordClient({ nodes: [limited.url, other.url] });
    const error = await caught(client.login("alice", "guess"));
    expect([error.code, error.status, error.transient]).toEqual(["rate_limited", 429, false]);
    expect(other.requests).toHaveLength(0);
  });

  test("a 429 overloaded (a full queue: nothing was done) is tried on another node", async () => {
    const full = nodes.start(() => apiError(429, "overloaded", "password checks are queued to the limit", { "retry-after": "1" }));
    const other = nodes.start(() => jsonResponse(201, { token: "tok", username: "alice", unread: 0 }));
    const client = new ConcordClient({ nodes: [full.url, other.url] });
    await client.login("alice", "right password");
    expect(client.token).toBe("tok");
    expect(full.requests.length + other.requests.length).toBeGreaterThanOrEqual(2);
    expect(other.requests.length).toBeGreaterThanOrEqual(1);
  });

  test("markRead, deleteMessages, listAccounts and admin calls send API.md's shapes", async () => {
    const bodies: unknown[] = [];
    const node = nodes.start(async (request) => {
      const url = new URL(request.url);
      bodies.push([request.method, `${url.pathname}${url.search}`, request.headers.get("authorization"), request.body === null ? null : await request.json()]);
      if (url.pathname === "/v1/messages/read") return jsonResponse(200, { marked: 2 });
      if (url.pathname === "/v1/messages") return jsonResponse(200, { deleted: [3], notFound: [4] });
      if (url.pathname === "/v1/accounts") return jsonResponse(200, { accounts: [{ username: "bob", createdAt: "2025-01-01T00:00:00.000Z" }], total: 1000, totalCapped: true, nextCursor: null });
      return new Response(null, { status: 202 });
    });
    const client = new ConcordClient({ nodes: [node.url], token: "t", adminToken: "adm" });

    expect(await client.markRead([1, 2])).toEqual({ marked: 2 });
    expect(await client.markRead({ with: "bob", upTo: 9 })).toEqual({ marked: 2 });
    expect(await client.deleteMessages([3, 4])).toEqual({ deleted: [3], notFound: [4] });
    expect(await client.listAccounts({ pattern: "b*", limit: 5 })).toEqual({ accounts: [{ username: "bob", createdAt: "2025-01-01T00:00:00.000Z" }], total: 1000, totalCapped: true, nextCursor: null });
    await client.transferLeadership(3);

    expect(bodies).toEqual([
      ["POST", "/v1/messages/read", "Bearer t", { ids: [1, 2] }],
      ["POST", "/v1/messages/read", "Bearer t", { with: "bob", upTo: 9 }],
      ["DELETE", "/v1/messages", "Bearer t", { ids: [3, 4] }],
      ["GET", "/v1/accounts?pattern=b*&limit=5", "Bearer t", null],
      ["POST", "/v1/cluster/leader", "Bearer adm", { to: 3 }],
    ]);
  });
});
