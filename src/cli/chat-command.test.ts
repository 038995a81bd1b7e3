import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FakeNodes, apiError, jsonResponse, sseResponse } from "../client/testing/fake-nodes.ts";
import { type ChatIo, runChatCommand } from "./chat-command.ts";
import { CHAT_COMMANDS, CHAT_USAGE } from "./chat-options.ts";
import { EXIT } from "./exit-codes.ts";

interface Message {
  id: number;
  from: string;
  to: string;
  content: string;
  sentAt: string;
  readAt: string | null;
}

/** Just enough of API.md, in memory: accounts alice and bob (password "password1"). */
function fakeChat() {
  const passwords = new Map([["alice", "password1"], ["bob", "password1"], ["carol", "password1"]]);
  const sessions = new Map<string, string>();
  const messages: Message[] = [];
  const streams: { write(text: string): void }[] = [];
  let nextId = 10;
  const me = (request: Request) => sessions.get((request.headers.get("authorization") ?? "").replace(/^Bearer /, ""));
  const handler = async (request: Request): Promise<Response> => {
    const url = new URL(request.url);
    const route = `${request.method} ${url.pathname}`;
    if (route === "POST /v1/sessions") {
      const { username, password } = (await request.json()) as { username: string; password: string };
      if (passwords.get(username) !== password) return apiError(401, "bad_credentials", "wrong username or password");
      const token = `token-${username}-${sessions.size}`;
      sessions.set(token, username);
      return jsonResponse(201, { token, username, unread: messages.filter((m) => m.to === username && m.readAt === null).length });
    }
    const user = me(request);
    if (user === undefined) return apiError(401, "unauthorized", "sign in first");
    switch (route) {
      case "DELETE /v1/sessions/current":
        sessions.delete((request.headers.get("authorization") ?? "").slice(7));
        return new Response(null, { status: 204 });
      case "GET /v1/accounts": {
        const accounts = [...passwords.keys()].sort().map((username) => ({ username, createdAt: "2025-01-01T10:00:00.000Z" }));
        return jsonResponse(200, { accounts, total: accounts.length, nextCursor: null });
      }
      case "POST /v1/messages": {
        const { to, content } = (await request.json()) as { to: string; content: string };
        if (!passwords.has(to)) return apiError(404, "no_such_recipient", `no account '${to}'`);
        const message = { id: nextId++, from: user, to, content, sentAt: new Date().toISOString(), readAt: null };
        messages.push(message);
        for (const stream of streams) stream.write(`id: ${message.id}\nevent: message\ndata: ${JSON.stringify(message)}\n\n`);
        return jsonResponse(201, message);
      }
      case "GET /v1/messages": {
        const other = url.searchParams.get("with");
        const list = messages
          .filter((m) => (other !== null ? (m.from === user && m.to === other) || (m.from === other && m.to === user) : m.to === user && m.readAt === null))
          .sort((a, b) => b.id - a.id);
        return jsonResponse(200, { messages: list, unread: messages.filter((m) => m.to === user && m.readAt === null).length, nextBefore: null });
      }
      case "POST /v1/messages/read": {
        const body = (await request.json()) as { ids?: number[]; with?: string; upTo?: number };
        let marked = 0;
        for (const m of messages) {
          const hit = body.ids !== undefined ? body.ids.includes(m.id) : m.from === body.with && m.id <= (body.upTo ?? 0);
          if (hit && m.to === user && m.readAt === null) {
            m.readAt = new Date().toISOString();
            marked++;
          }
        }
        return jsonResponse(200, { marked });
      }
      case "DELETE /v1/messages": {
        const { ids } = (await request.json()) as { ids: number[] };
        const mine = (id: number) => messages.findIndex((m) => m.id === id && (m.from === user || m.to === user));
        const deleted = ids.filter((id) => mine(id) !== -1);
        for (const id of deleted) messages.splice(mine(id), 1);
        return jsonResponse(200, { deleted, notFound: ids.filter((id) => !deleted.includes(id)) });
      }
      case "GET /v1/conversations": {
        const partners = [...new Set(messages.filter((m) => m.from === user || m.to === user).map((m) => (m.from === user ? m.to : m.from)))];
        const conversations = partners.map((other) => {
          const between = messages.filter((m) => m.from === other || m.to === other);
          return { with: other, lastMessage: between.at(-1), unread: between.filter((m) => m.to === user && m.readAt === null).length };
        });
        return jsonResponse(200, { conversations });
      }
      case "GET /v1/events": {
        const stream = sseResponse();
        streams.push(stream);
        stream.write(": live\n\n");
        return stream.response;
      }
      default:
        return apiError(404, "not_found", `no route ${route}`);
    }
  };
  return { handler, messages, sessions, streamCount: () => streams.length };
}

function memoryIo(secrets: string[] = []) {
  const out = { stdout: "", stderr: "", interrupt: null as (() => void) | null };
  const io: ChatIo = {
    stdout: (text) => (out.stdout += text),
    stderr: (text) => (out.stderr += text),
    env: {},
    interactive: false,
    readSecret: async () => secrets.shift() ?? "",
    readAll: async () => "from stdin\n",
    onInterrupt: (handler) => (out.interrupt = handler),
  };
  return { io, out };
}

const nodes = new FakeNodes();
let dir = "";
let sessionPath = "";
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "concord-chat-"));
  sessionPath = join(dir, "config", "session.json");
});
afterEach(async () => {
  await nodes.stopAll();
  await rm(dir, { recursive: true, force: true });
});

async function run(nodeUrls: string[], args: string[], secrets: string[] = []) {
  const { io, out } = memoryIo(secrets);
  const status = await runChatCommand(["--nodes", nodeUrls.join(","), "--session", sessionPath, ...args], io);
  return { status, ...out };
}

describe("concord chat", () => {
  test("login (password from stdin) keeps a 0600 session; send and read use it, --json shapes", async () => {
    const chat = fakeChat();
    const node = nodes.start(chat.handler);

    const login = await run([node.url], ["login", "alice", "--json"], ["password1"]);
    expect(login).toMatchObject({ status: 0, stderr: "" });
    expect(JSON.parse(login.stdout)).toEqual({ username: "alice", unread: 0 });
    expect((await stat(sessionPath)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(sessionPath, "utf8"))).toMatchObject({ username: "alice", token: "token-alice-0", node: node.url });

    const sent = await run([node.url], ["--json", "send", "bob", "hello", "there"]);
    expect(sent.status).toBe(0);
    expect(JSON.parse(sent.stdout)).toMatchObject({ id: 10, from: "alice", to: "bob", content: "hello there", fromDeleted: false });
    expect(sent.stdout.trim().split("\n")).toHaveLength(1);

    await run([node.url], ["login", "bob", "--password", "password1"]);
    const read = await run([node.url], ["read", "--with", "alice", "--json"]);
    const doc = JSON.parse(read.stdout);
    expect(Object.keys(doc).sort()).toEqual(["marked", "messages", "nextBefore", "unread"]);
    expect(doc.messages.map((m: Message) => m.content)).toEqual(["hello there"]);
    expect(doc.marked).toBe(1);
    expect(chat.messages[0]?.readAt).not.toBeNull();
  });

  test("human output is plain and aligned", async () => {
    const node = nodes.start(fakeChat().handler);
    await run([node.url], ["login", "carol", "--password", "password1"]);
    const ls = await run([node.url], ["ls"]);
    const lines = ls.stdout.split("\n");
    expect(lines[0]).toMatch(/^USERNAME {2}CREATED$/);
    expect(lines.slice(1, 4).map((l) => l.split(/ {2,}/)[0])).toEqual(["alice", "bob", "carol"]);
    expect(new Set(lines.slice(0, 4).map((l) => l.indexOf(l.split(/ {2,}/)[1]!)))).toEqual(new Set([10]));
    expect(lines[4]).toBe("3 of 3 accounts");

    await run([node.url], ["send", "alice", "one"]);
    await run([node.url], ["send", "bob", "two\nlines"]);
    const unread = await run([node.url], ["login", "alice", "--password", "password1"]);
    expect(unread.stdout).toBe("logged in as alice (1 unread message)\n");
    const read = await run([node.url], ["read"]);
    expect(read.stdout).toMatch(/^#10 {2}\* {2}\S+ \S+ {2}carol {2}→ {2}alice {2}one\nmarked 1 message read\n$/);
  });

  test("send without words reads the message from stdin", async () => {
    const chat = fakeChat();
    const node = nodes.start(chat.handler);
    await run([node.url], ["login", "alice", "--password", "password1"]);
    expect((await run([node.url], ["send", "bob"])).stdout).toBe("sent #10 to bob\n");
    expect(chat.messages[0]?.content).toBe("from stdin");
  });

  test("-h and --help: each command's own usage, exit 0, no request and no session file, even next to a mistake", async () => {
    const node = nodes.start(fakeChat().handler);
    for (const command of CHAT_COMMANDS) {
      for (const flag of ["--help", "-h"]) {
        const help = await run([node.url], [command, flag]);
        expect([help.status, help.stderr]).toEqual([EXIT.ok, ""]);
        expect(help.stdout).toStartWith(`usage: concord chat ${command}`);
        expect(help.stdout).not.toContain("commands:");
      }
    }
    expect((await run([node.url], ["send", "bob", "--bogus", "--help"])).stdout).toStartWith("usage: concord chat send <to> <message…>");
    expect((await run([node.url], ["read", "-h"])).stdout).toContain("--with USER");
    expect((await run([node.url], ["help", "rm"])).stdout).toStartWith("usage: concord chat rm <id…>");
    for (const args of [["--help"], ["-h"], ["help"], ["nonsense", "--help"]]) expect((await run([node.url], args)).stdout).toBe(CHAT_USAGE);
    expect(node.requests).toEqual([]);
    await expect(stat(sessionPath)).rejects.toThrow();
    // After `--` a "-h" is a message, not a help request.
    await run([node.url], ["login", "alice", "--password", "password1"]);
    expect((await run([node.url], ["send", "bob", "--", "-h"])).stdout).toBe("sent #10 to bob\n");
    expect(node.requests.map((r) => new URL(r.url).pathname)).toEqual(["/v1/sessions", "/v1/messages"]);
  });

  test("exit statuses: usage 2, auth 5, unavailable 6, other 1; errors say (code)", async () => {
    const node = nodes.start(fakeChat().handler);

    const usage = await run([node.url], ["send"]);
    expect([usage.status, usage.stdout]).toEqual([EXIT.usage, ""]);
    expect(usage.stderr).toStartWith("concord chat: usage: concord chat send <to> <message…> (usage)\n");
    expect((await run([node.url], ["read", "--limit", "500"])).status).toBe(EXIT.usage);
    expect((await run([node.url], ["ls", "--since", "3"])).status).toBe(EXIT.usage);
    expect((await run(["ftp://nope"], ["logout"])).status).toBe(EXIT.usage);

    const notLoggedIn = await run([node.url], ["read"]);
    expect(notLoggedIn.status).toBe(EXIT.auth);
    expect(notLoggedIn.stderr).toContain("(not_signed_in)");

    const wrong = await run([node.url], ["login", "alice", "--json", "--password", "nope"]);
    expect(wrong.status).toBe(EXIT.auth);
    expect(JSON.parse(wrong.stdout)).toEqual({ error: { code: "bad_credentials", message: "wrong username or password", status: 401 } });
    expect(wrong.stderr).toBe("concord chat: wrong username or password (bad_credentials)\n");

    await run([node.url], ["login", "alice", "--password", "password1"]);
    const noOne = await run([node.url], ["send", "zed", "hi"]);
    expect([noOne.status, noOne.stderr]).toEqual([EXIT.failed, "concord chat: no account 'zed' (no_such_recipient)\n"]);

    const sick = nodes.start(() => apiError(503, "unavailable", "no leader", { "retry-after": "0" }));
    const down = await run([sick.url, await nodes.dead()], ["--json", "unread"]);
    expect(down.status).toBe(EXIT.unavailable);
    expect(JSON.parse(down.stdout).error.code).toMatch(/^(unavailable|network)$/);
  }, 20_000);

  test("rm reports what it could not delete and exits 1", async () => {
    const node = nodes.start(fakeChat().handler);
    await run([node.url], ["login", "alice", "--password", "password1"]);
    await run([node.url], ["send", "bob", "x"]);
    const removed = await run([node.url], ["rm", "10", "#99"]);
    expect(removed.status).toBe(EXIT.failed);
    expect(removed.stdout).toBe("deleted #10\n");
    expect(removed.stderr).toBe("concord chat: no message #99 that you sent or received (not_found)\n");
  });

  test("watch --json prints one line per event until interrupted", async () => {
    const chat = fakeChat();
    const node = nodes.start(chat.handler);
    await run([node.url], ["login", "bob", "--password", "password1"]);
    const { io, out } = memoryIo();
    const watching = runChatCommand(["--nodes", node.url, "--session", sessionPath, "watch", "--json"], io);
    while (chat.streamCount() === 0) await Bun.sleep(5);

    await fetch(`${node.url}/v1/messages`, {
      method: "POST",
      headers: { authorization: `Bearer ${[...chat.sessions.keys()][0]}`, "content-type": "application/json" },
      body: JSON.stringify({ to: "alice", content: "live" }),
    });
    while (!out.stdout.includes("\n")) await Bun.sleep(5);
    out.interrupt?.();

    expect(await watching).toBe(0);
    const lines = out.stdout.trim().split("\n").map((line) => JSON.parse(line));
    expect(lines).toEqual([{ id: 10, type: "message", data: expect.objectContaining({ from: "bob", to: "alice", content: "live" }) }]);
    expect(out.stderr).toBe(`watching via ${node.url}\n`);
  });

  test("logout revokes the token and removes the session file", async () => {
    const chat = fakeChat();
    const node = nodes.start(chat.handler);
    await run([node.url], ["login", "alice", "--password", "password1"]);
    expect(chat.sessions.size).toBe(1);
    expect((await run([node.url], ["logout"])).stdout).toBe("logged out alice\n");
    expect(chat.sessions.size).toBe(0);
    expect(await stat(sessionPath).catch(() => null)).toBeNull();
    expect((await run([node.url], ["logout", "--json"])).stdout).toBe('{"loggedOut":false}\n');
  });
});
