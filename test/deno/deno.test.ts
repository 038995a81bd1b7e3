import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { SseReader } from "../../src/api/testing/sse-reader.ts";

// The same API, served by Deno over real HTTP: signup, login, send, read, and an event
// stream. The child runs with only the permissions it needs and is killed by its PID.

const root = join(import.meta.dir, "..", "..");
const deno = join(root, "node_modules", ".bin", "deno");
let child: Subprocess | null = null;
let base = "";
let stderr = "";

function freePort(): number {
  const probe = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
  const port = probe.port;
  void probe.stop(true);
  if (port === undefined) throw new Error("no free port");
  return port;
}

beforeAll(async () => {
  const port = freePort();
  base = `http://127.0.0.1:${port}`;
  child = Bun.spawn([deno, "run", "--allow-net", "--allow-read", "--allow-env", "test/deno/serve.ts", String(port)], {
    cwd: root,
    env: { ...process.env, DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
    stdout: "ignore",
    stderr: "pipe",
  });
  void new Response(child.stderr as ReadableStream).text().then((text) => (stderr = text));
  // First start compiles the TypeScript: allow it a while, but not forever.
  const deadline = Date.now() + 45_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`deno exited with ${child.exitCode}: ${stderr}`);
    const ok = await fetch(`${base}/healthz`).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`deno did not answer on ${base} within 45 s: ${stderr}`);
    await Bun.sleep(100);
  }
}, 60_000);

afterAll(async () => {
  if (child === null) return;
  const pid = child.pid;
  process.kill(pid, "SIGTERM");
  const exited = await Promise.race([child.exited.then(() => true), Bun.sleep(3000).then(() => false)]);
  if (!exited) process.kill(pid, "SIGKILL");
});

async function call(method: string, path: string, init: { token?: string; body?: unknown } = {}) {
  const headers: Record<string, string> = {};
  if (init.token !== undefined) headers.authorization = `Bearer ${init.token}`;
  if (init.body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(`${base}${path}`, { method, headers, ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}) });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text === "" ? null : JSON.parse(text) };
}

test("signup, login, send and read over real HTTP on Deno", async () => {
  for (const username of ["alice", "bob"]) {
    const signup = await call("POST", "/v1/accounts", { body: { username, password: "password-123" } });
    expect(signup.status).toBe(201);
  }
  expect((await call("POST", "/v1/accounts", { body: { username: "alice", password: "password-123" } })).body.error.code).toBe("username_taken");
  const login = await call("POST", "/v1/sessions", { body: { username: "alice", password: "password-123" } });
  expect(login.status).toBe(201);
  expect(login.headers.get("set-cookie")).toContain("HttpOnly");
  const bob = (await call("POST", "/v1/sessions", { body: { username: "bob", password: "password-123" } })).body.token as string;

  const events = await fetch(`${base}/v1/events`, { headers: { authorization: `Bearer ${bob}` } });
  expect(events.status).toBe(200);
  const stream = new SseReader(events);
  try {
    expect((await stream.nextEvent(5000))?.event).toBe("ready");
    const sent = await call("POST", "/v1/messages", { token: login.body.token, body: { to: "bob", content: "hello from Deno" } });
    expect(sent.status).toBe(201);
    const live = await stream.nextEvent(5000);
    expect(live?.event).toBe("message");
    expect(Number(live?.id)).toBe(sent.body.id);

    const inbox = await call("GET", "/v1/messages?unread=true", { token: bob });
    expect(inbox.status).toBe(200);
    expect(inbox.body.messages.map((m: { content: string }) => m.content)).toEqual(["hello from Deno"]);
    const local = await call("GET", "/v1/conversations?consistency=local", { token: bob });
    expect(local.headers.get("x-concord-applied-index")).not.toBeNull();
  } finally {
    await stream.close();
  }
  const metrics = await fetch(`${base}/metrics`).then((r) => r.text());
  expect(metrics).toContain('route="/v1/messages",status="201"');
}, 30_000);
