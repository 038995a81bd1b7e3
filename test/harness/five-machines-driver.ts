// A chat client for test/harness/five-machines.test.ts, run inside one of its network
// namespaces (the test's own process cannot reach them). It reads one JSON command a line
// on stdin and answers one JSON line on stdout; it exits when stdin ends. Its argument is
// the cluster's CA (PEM file): the nodes serve HTTPS with certificates it signed, and
// every request trusts that CA alone.
//
//   {"op":"status","urls":[…]}                      each node's GET /v1/cluster (or an error), and its HSTS header
//   {"op":"accounts","urls":[…]}                    sign up alice and bob, log alice in
//   {"op":"session","token"?:"…"}                  the session token (set it, with "token")
//   {"op":"send","urls":[…],"prefix":"p","count":n} n messages alice → bob, one at a time
//   {"op":"sendOnce","url":"…","content":"…"}       one attempt at one node, no failover
//   {"op":"loopStart","urls":[…],"prefix":"p"}      send one message after another until loopStop
//   {"op":"loopCount"}                              acknowledged and failed so far
//   {"op":"loopStop"}                               the loop's acknowledged and failed messages
//   {"op":"read","url":"…"}                         every message of alice ↔ bob, as that node sees it
//
// Every send carries an idempotency key (the client's own, kept over its retries across
// nodes): a message is acknowledged once, or the call fails.
import { readFileSync } from "node:fs";
import { ConcordClient } from "../../src/client/concord-client.ts";
import { ConcordError } from "../../src/client/concord-error.ts";

const caFile = process.argv[2];
if (caFile === undefined) throw new Error("usage: five-machines-driver.ts CA.pem");
const ca = readFileSync(caFile, "utf8");
/** fetch that trusts the cluster's CA (Bun's tls option), for the client and the status probes. */
const trustingFetch = (url: string, init: RequestInit = {}): Promise<Response> => fetch(url, { ...init, tls: { ca } });

const PASSWORD = "five machines, one cluster";
let token: string | null = null;

interface Loop {
  stop: boolean;
  acked: string[];
  failed: { content: string; code: string }[];
  maxGapMs: number;
  done: Promise<void>;
}
let loop: Loop | null = null;

function client(urls: readonly string[], extra: { requestTimeoutMs?: number; deadlineMs?: number; maxAttempts?: number } = {}): ConcordClient {
  return new ConcordClient({ nodes: urls, fetch: trustingFetch, ...(token !== null ? { token } : {}), ...extra });
}

function codeOf(error: unknown): string {
  return error instanceof ConcordError ? `${error.code}${error.status !== null ? ` ${error.status}` : ""}` : String(error);
}

async function status(urls: readonly string[]): Promise<unknown[]> {
  return Promise.all(
    urls.map(async (url) => {
      try {
        const answer = await trustingFetch(`${url}/v1/cluster`, { signal: AbortSignal.timeout(2000) });
        const hsts = answer.headers.get("strict-transport-security");
        return answer.ok ? { url, hsts, ...(await answer.json()) } : { url, hsts, error: `HTTP ${answer.status}` };
      } catch (error) {
        return { url, error: String(error) };
      }
    }),
  );
}

async function send(urls: readonly string[], prefix: string, count: number): Promise<{ acked: string[]; failed: { content: string; code: string }[] }> {
  // Long enough to ride out an election (a leader cut off, or stopped): the client retries other nodes.
  const c = client(urls, { requestTimeoutMs: 4000, deadlineMs: 30_000, maxAttempts: 40 });
  const acked: string[] = [];
  const failed: { content: string; code: string }[] = [];
  for (let i = 0; i < count; i++) {
    const content = `${prefix}-${i}`;
    try {
      await c.send("bob", content);
      acked.push(content);
    } catch (error) {
      failed.push({ content, code: codeOf(error) });
    }
  }
  return { acked, failed };
}

function startLoop(urls: readonly string[], prefix: string): void {
  const c = client(urls, { requestTimeoutMs: 4000, deadlineMs: 30_000, maxAttempts: 40 });
  const state: Loop = { stop: false, acked: [], failed: [], maxGapMs: 0, done: Promise.resolve() };
  state.done = (async () => {
    let last = performance.now();
    for (let i = 0; !state.stop; i++) {
      const content = `${prefix}-${i}`;
      try {
        await c.send("bob", content);
        state.acked.push(content);
        const now = performance.now();
        state.maxGapMs = Math.max(state.maxGapMs, now - last);
        last = now;
      } catch (error) {
        state.failed.push({ content, code: codeOf(error) });
      }
    }
  })();
  loop = state;
}

async function read(url: string): Promise<string[]> {
  const c = client([url], { requestTimeoutMs: 8000, deadlineMs: 20_000, maxAttempts: 3 });
  const contents: string[] = [];
  let before: number | undefined;
  for (;;) {
    const page = await c.conversation("bob", { limit: 200, ...(before !== undefined ? { before } : {}) });
    for (const message of page.messages) contents.push(message.content);
    if (page.nextBefore === null || page.messages.length === 0) return contents;
    before = page.nextBefore;
  }
}

async function handle(command: Record<string, unknown>): Promise<unknown> {
  const urls = (command["urls"] as string[] | undefined) ?? [];
  switch (command["op"]) {
    case "status":
      return { nodes: await status(urls) };
    case "accounts": {
      const c = client(urls, { deadlineMs: 30_000, maxAttempts: 40 });
      for (const name of ["alice", "bob"]) await c.signup(name, PASSWORD);
      token = (await c.login("alice", PASSWORD)).token;
      return {};
    }
    case "session":
      // Another driver (on another machine) writes as the same person.
      if (typeof command["token"] === "string") token = command["token"];
      return { token };
    case "send":
      return send(urls, String(command["prefix"]), Number(command["count"]));
    case "sendOnce": {
      const c = client([String(command["url"])], { requestTimeoutMs: Number(command["timeoutMs"] ?? 10_000), maxAttempts: 1 });
      try {
        await c.send("bob", String(command["content"]));
        return { acked: true };
      } catch (error) {
        return { acked: false, code: codeOf(error) };
      }
    }
    case "loopStart":
      startLoop(urls, String(command["prefix"]));
      return {};
    case "loopCount":
      return { acked: loop?.acked.length ?? 0, failed: loop?.failed.length ?? 0 };
    case "loopStop": {
      if (loop === null) throw new Error("no loop");
      loop.stop = true;
      await loop.done;
      const { acked, failed, maxGapMs } = loop;
      loop = null;
      return { acked, failed, maxGapMs: Math.round(maxGapMs) };
    }
    case "read":
      return { contents: await read(String(command["url"])) };
    default:
      throw new Error(`unknown op ${String(command["op"])}`);
  }
}

const decoder = new TextDecoder();
let buffered = "";
for await (const chunk of Bun.stdin.stream()) {
  buffered += decoder.decode(chunk, { stream: true });
  for (let at = buffered.indexOf("\n"); at >= 0; at = buffered.indexOf("\n")) {
    const line = buffered.slice(0, at).trim();
    buffered = buffered.slice(at + 1);
    if (line === "") continue;
    // One command at a time, in order: the test waits for each answer.
    const answer = await handle(JSON.parse(line) as Record<string, unknown>).then(
      (result) => ({ ok: true, ...(result as object) }),
      (error: unknown) => ({ ok: false, error: codeOf(error) }),
    );
    process.stdout.write(`${JSON.stringify(answer)}\n`);
  }
}
