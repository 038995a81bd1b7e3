import { describe, expect, test } from "bun:test";
import { createApp } from "./app.ts";
import type { PasswordHasher } from "./password-hasher.ts";
import type { AuthRateLimits } from "./rate-limit.ts";
import { MemoryBackend } from "./testing/memory-backend.ts";

// The security review's two attacks on the login limits, replayed in-process the way the
// review ran them: a node's app with the hashing gate of a 2-core machine (1 hash at a
// time, 4 waiting), a hasher that finishes a hash only when the test says (one per 22 ms
// of the injected rate-limit clock), and no sleeps: the test yields to the event loop
// until every request in flight is waiting on the gate, then moves time on.

const HASH_MS = 22;
const MALLORY = "203.0.113.66";
const ALICE = "198.51.100.7";
const PASSWORDS = { alice: "alice's password", mallory: "mallory's password", victim: "victim's password", bystander: "bystander's password" };

interface Answer {
  readonly status: number;
  readonly code: string | null;
  readonly retryAfter: string | null;
}

/** A node's app on a held hasher: hash(p) is "h:p", and no hash finishes before `release`. */
async function node(rateLimits: Partial<AuthRateLimits> = {}) {
  let now = 0;
  const held: (() => void)[] = [];
  let hashes = 0;
  const hold = async <T>(value: T): Promise<T> => {
    hashes++;
    await new Promise<void>((resolve) => held.push(resolve));
    return value;
  };
  const hasher: PasswordHasher = { hash: (p) => hold(`h:${p}`), verify: (p, h) => hold(h === `h:${p}`) };
  const memory = new MemoryBackend();
  for (const [username, password] of Object.entries(PASSWORDS)) await memory.execute({ type: "createAccount", username, passwordHash: `h:${password}` }, 1000);
  const app = createApp({
    backend: memory,
    passwords: hasher,
    adminToken: null,
    requestTimeoutMs: 600_000,
    hashing: { concurrency: 1, queue: 4, maxWaitMs: 600_000 },
    rateLimits,
    rateLimitClock: () => now,
    clientAddress: (request) => request.headers.get("x-test-address"),
  });

  let inflight = 0;
  const login = async (address: string, username: string, password: string): Promise<Answer> => {
    inflight++;
    try {
      const response = await app.request("/v1/sessions", {
        method: "POST",
        headers: { "content-type": "application/json", "x-test-address": address },
        body: JSON.stringify({ username, password }),
      });
      const body = (await response.json()) as { error?: { code: string } };
      return { status: response.status, code: body.error?.code ?? null, retryAfter: response.headers.get("retry-after") };
    } finally {
      inflight--;
    }
  };

  /** The gate's running and waiting calls, as /metrics reports them. */
  const gate = async () => {
    const text = await (await app.request("/metrics")).text();
    const read = (name: string) => Number(new RegExp(`^${name} (\\d+)$`, "m").exec(text)?.[1]);
    return { running: read("concord_password_hashes_running"), queued: read("concord_password_hashes_queued") };
  };

  /** Yield to the event loop until every request in flight waits on the gate (and a running one has reached the hasher). */
  const settled = async () => {
    for (let turns = 0; ; turns++) {
      const { running, queued } = await gate();
      if (inflight === running + queued && held.length === running) return;
      if (turns > 10_000) throw new Error(`requests never settled: ${inflight} in flight, ${running} running, ${queued} queued, ${held.length} held`);
      await new Promise((resolve) => setImmediate(resolve));
    }
  };

  // Steps of the clock: actors that were answered 429 come back at the next one.
  let waking: (() => void)[] = [];
  const nextStep = () => new Promise<void>((resolve) => waking.push(resolve));
  /** One hash's time: the running hash (if any) finishes, the clock moves on, waiting actors wake. */
  const step = async () => {
    await settled();
    held.shift()?.();
    now += HASH_MS;
    const woken = waking;
    waking = [];
    for (const wake of woken) wake();
  };

  // The decoy hash for unknown names, made at start-up, is the first thing through the gate.
  for (let turns = 0; held.length === 0; turns++) {
    if (turns > 1000) throw new Error("no decoy hash");
    await new Promise((resolve) => setImmediate(resolve));
  }
  held.shift()!();
  hashes = 0;

  return {
    login,
    settled,
    step,
    nextStep,
    now: () => now,
    hashes: () => hashes,
    held: () => held.length,
    release: () => held.shift()?.(),
    idle: () => inflight === 0 && waking.length === 0,
  };
}

type Node = Awaited<ReturnType<typeof node>>;

/** One request's answer, a step of the clock later: time for its hash, had it been let through to one. */
async function answered(n: Node, request: Promise<Answer>): Promise<Answer> {
  await n.step();
  return request;
}

/**
 * Attack A: 8 workers log in CORRECTLY as mallory from one address, each again as soon as
 * it is answered (after a 429, at the next step); meanwhile alice logs in 40 times from
 * another address, 50 ms apart. Returns what each got.
 */
async function mallorysFlood(n: Node) {
  const mallory = new Map<string, number>();
  let stop = false;
  const worker = async () => {
    while (!stop) {
      const answer = await n.login(MALLORY, "mallory", PASSWORDS.mallory);
      const key = answer.code ?? String(answer.status);
      mallory.set(key, (mallory.get(key) ?? 0) + 1);
      if (answer.status === 429) await n.nextStep();
    }
  };
  const alice: Answer[] = [];
  let aliceDone = false;
  const alicesLogins = async () => {
    for (let i = 0; i < 40; i++) {
      const started = n.now();
      alice.push(await n.login(ALICE, "alice", PASSWORDS.alice));
      while (n.now() < started + 50) await n.nextStep();
    }
    aliceDone = true;
  };
  const actors = [...Array.from({ length: 8 }, worker), alicesLogins()];
  while (!aliceDone) await n.step();
  stop = true;
  while (!n.idle()) await n.step();
  await Promise.all(actors);
  return { mallory, alice };
}

describe("attack A: one address logging in correctly as fast as it is answered", () => {
  test("alice's logins all succeed while mallory floods; mallory's successes stop at his address's budget (429 rate_limited)", async () => {
    // Budgets of 60, then 1 per 10 s (the defaults are larger: the mechanism is the point).
    const sixty = { burst: 60, perSecond: 0.1 };
    const n = await node({ successfulLoginsPerAddress: sixty, successfulLoginsPerAccount: sixty });
    const { mallory, alice } = await mallorysFlood(n);
    expect(alice.map((a) => a.status)).toEqual(Array(40).fill(201));
    // 60 at once, then 1 per 10 s: the flood lasted a few seconds of the clock.
    expect(mallory.get("201")).toBe(60);
    expect(mallory.get("rate_limited")).toBeGreaterThan(0);
    expect(n.now()).toBeLessThan(10_000);
    // Every hash was alice's or one of mallory's 60: after his budget, his logins cost nothing.
    expect(n.hashes()).toBe(40 + 60);
  });

  test("the refusal says when to come back", async () => {
    const n = await node({ successfulLoginsPerAddress: { burst: 2, perSecond: 0.1 } });
    for (let i = 0; i < 2; i++) expect((await answered(n, n.login(MALLORY, "mallory", PASSWORDS.mallory))).status).toBe(201);
    expect(await answered(n, n.login(MALLORY, "mallory", PASSWORDS.mallory))).toEqual({ status: 429, code: "rate_limited", retryAfter: "10" });
    expect(n.hashes()).toBe(2);
  });

  test("even with budgets out of the way, the gate's queue is shared: mallory cannot keep alice out", async () => {
    const generous = { burst: 1e9, perSecond: 1e9 };
    const n = await node({ successfulLoginsPerAddress: generous, successfulLoginsPerAccount: generous });
    const { mallory, alice } = await mallorysFlood(n);
    expect(alice.map((a) => a.status)).toEqual(Array(40).fill(201));
    expect(mallory.get("201")).toBeGreaterThan(40); // he got the rest of the gate's time
    expect(mallory.get("overloaded")).toBeGreaterThan(0);
    expect(mallory.get("rate_limited")).toBeUndefined();
  });
});

describe("attack B: junk usernames cannot reset an account's failed-login limit", () => {
  /** Ten wrong guesses at the victim, each hashed: the account's 10 failures. */
  async function lockVictim(n: Node) {
    for (let i = 0; i < 10; i++) expect((await answered(n, n.login("192.0.2.1", "victim", `guess ${i}`))).status).toBe(401);
    expect((await answered(n, n.login("192.0.2.2", "victim", "guess 10"))).code).toBe("rate_limited");
  }

  /** The victim is still locked: from any address, even with the right password. */
  async function expectLocked(n: Node) {
    for (let i = 0; i < 10; i++) {
      const answer = await answered(n, n.login(`198.51.100.${100 + i}`, "victim", i === 9 ? PASSWORDS.victim : `guess ${11 + i}`));
      expect([answer.status, answer.code]).toEqual([429, "rate_limited"]);
    }
  }

  test("10,000 junk-name logins refused by a full gate (they cost nothing) leave the victim's lock in place", async () => {
    const n = await node();
    await lockVictim(n);
    // Two other addresses hold the gate: 1 running and 2 waiting, and the other 2 waiting places.
    const holders = [
      ...Array.from({ length: 3 }, () => n.login("203.0.113.1", "bystander", PASSWORDS.bystander)),
      ...Array.from({ length: 2 }, () => n.login("203.0.113.2", "bystander", PASSWORDS.bystander)),
    ];
    await n.settled();
    const hashesBefore = n.hashes();
    // Ten at a time (more at once would find the address's failed-login budget reserved by the others).
    const codes = new Set<string | null>();
    for (let batch = 0; batch < 1000; batch++) {
      const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => n.login("203.0.113.99", `junk${batch * 10 + i}`, "whatever")));
      for (const answer of answers) codes.add(`${answer.status} ${answer.code}`);
    }
    expect([...codes]).toEqual(["429 overloaded"]);
    expect(n.hashes()).toBe(hashesBefore);
    while (!n.idle()) await n.step();
    expect((await Promise.all(holders)).map((a) => a.status)).toEqual([201, 201, 201, 201, 201]);
    await expectLocked(n);
  });

  test("junk names that really fail fill the key cap: new names then wait (429 rate_limited), the victim stays locked", async () => {
    const generous = { burst: 1e9, perSecond: 1e-3 };
    const n = await node({ failedLoginsPerAddress: generous, maxKeys: 50 });
    await lockVictim(n);
    for (let i = 0; i < 49; i++) expect((await answered(n, n.login("203.0.113.99", `junk${i}`, "whatever"))).status).toBe(401);
    // 50 account buckets, none refilled (each junk name's in 30 s): a new name is refused before any hash.
    const hashesBefore = n.hashes();
    const refused = await answered(n, n.login("203.0.113.99", "junk49", "whatever"));
    expect([refused.status, refused.code]).toEqual([429, "rate_limited"]);
    expect(Number(refused.retryAfter)).toBeGreaterThan(0);
    expect(n.hashes()).toBe(hashesBefore);
    await expectLocked(n);
  });
});
