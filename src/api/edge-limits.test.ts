import { describe, expect, test } from "bun:test";
import http from "node:http";
import { createApp } from "./app.ts";
import { MemoryBackend } from "./testing/memory-backend.ts";
import { pbkdf2Hasher } from "./testing/test-password-hasher.ts";
import { addressKey, runtimeAddress } from "./client-address.ts";
import { HashingGate } from "./hashing-gate.ts";
import { RateLimiter } from "./rate-limit.ts";
import { StreamPool } from "./stream-pool.ts";

// The edge's bounded pieces on their own: token buckets, the hashing gate, stream pools
// and client addresses. api.conformance.ts and api.test.ts show them through HTTP.

describe("RateLimiter", () => {
  test("a full bucket allows the burst, then refills at its rate and says when", () => {
    let now = 0;
    const limiter = new RateLimiter({ burst: 3, perSecond: 0.5 }, () => now);
    for (let i = 0; i < 3; i++) expect(limiter.take("a")).toEqual({ ok: true });
    expect(limiter.take("a")).toEqual({ ok: false, retryAfterS: 2 });
    now += 1000;
    expect(limiter.take("a")).toEqual({ ok: false, retryAfterS: 1 });
    now += 1000;
    expect(limiter.take("a")).toEqual({ ok: true });
    expect(limiter.take("b")).toEqual({ ok: true });
  });

  test("refunds give a token back, never past the burst; a clock that goes back refills nothing", () => {
    let now = 10_000;
    const limiter = new RateLimiter({ burst: 2, perSecond: 1 }, () => now);
    limiter.take("a");
    limiter.take("a");
    limiter.refund("a");
    expect(limiter.take("a").ok).toBe(true);
    expect(limiter.take("a").ok).toBe(false);
    now -= 5000;
    expect(limiter.take("a").ok).toBe(false);
    limiter.refund("a");
    limiter.refund("a");
    limiter.refund("a");
    expect([limiter.take("a").ok, limiter.take("a").ok, limiter.take("a").ok]).toEqual([true, true, false]);
  });

  test("a bucket full again is dropped: refunded keys and refilled keys take no memory", () => {
    let now = 0;
    const limiter = new RateLimiter({ burst: 2, perSecond: 1 }, () => now, 3);
    expect(limiter.take("a", 2)).toEqual({ ok: true });
    expect(limiter.take("a")).toEqual({ ok: false, retryAfterS: 1 });
    limiter.refund("a", 2);
    expect(limiter.size).toBe(0);
    for (const key of ["b", "c", "d"]) limiter.take(key);
    expect(limiter.size).toBe(3);
    now += 1000; // all three have refilled: a new key sweeps them away
    expect(limiter.take("e")).toEqual({ ok: true });
    expect(limiter.size).toBe(1);
  });

  test("at most maxKeys buckets: a depleted one is never forgotten; a new key waits for one to refill", () => {
    let now = 0;
    const limiter = new RateLimiter({ burst: 1, perSecond: 0.5 }, () => now, 3);
    for (const key of ["a", "b"]) limiter.take(key);
    now += 1000;
    limiter.take("c"); // a and b are full at 2000, c at 3000
    expect(limiter.take("d")).toEqual({ ok: false, retryAfterS: 1, full: true });
    for (let i = 0; i < 10_000; i++) {
      expect(limiter.take(`k${i}`).ok).toBe(false);
      limiter.refund(`k${i}`);
    }
    expect(limiter.size).toBe(3);
    expect(limiter.take("a")).toEqual({ ok: false, retryAfterS: 1 }); // not forgotten, so not full again
    now += 1000; // a and b have refilled and are swept away; c has not
    expect(limiter.take("d")).toEqual({ ok: true });
    expect(limiter.size).toBe(2);
    expect(limiter.take("c")).toEqual({ ok: false, retryAfterS: 1 });
  });

  test("refuses nonsense rules", () => {
    expect(() => new RateLimiter({ burst: 0, perSecond: 1 }, Date.now)).toThrow(RangeError);
    expect(() => new RateLimiter({ burst: 1, perSecond: 0 }, Date.now)).toThrow(RangeError);
    expect(() => new RateLimiter({ burst: 1, perSecond: 1 }, Date.now, 0)).toThrow(RangeError);
  });
});

describe("HashingGate", () => {
  /** A hasher whose every call waits until the test lets it finish. */
  function heldHasher() {
    const held: (() => void)[] = [];
    let running = 0;
    let peak = 0;
    const hold = async <T>(value: T) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise<void>((resolve) => held.push(resolve));
      running--;
      return value;
    };
    return {
      hasher: { hash: (p: string) => hold(`h(${p})`), verify: (p: string, h: string) => hold(h === `h(${p})`) },
      releaseOne: () => held.shift()?.(),
      get peak() {
        return peak;
      },
      get held() {
        return held.length;
      },
    };
  }
  const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

  test("runs at most `concurrency` at once, queues up to `queue`, refuses the rest with 429 overloaded at once", async () => {
    const inner = heldHasher();
    const gate = new HashingGate(inner.hasher, { concurrency: 2, queue: 1, maxWaitMs: 10_000 });
    const calls = [gate.verify("a", "h(a)"), gate.verify("b", "x"), gate.hash("c")];
    const refused = gate.hash("d");
    await expect(refused).rejects.toMatchObject({ status: 429, code: "overloaded", headers: { "retry-after": "1" } });
    expect([gate.active, gate.queued, gate.refused]).toEqual([2, 1, 1]);
    await settle();
    expect(inner.held).toBe(2);
    inner.releaseOne();
    await settle();
    expect(inner.held).toBe(2); // the queued one started when a slot freed
    inner.releaseOne();
    inner.releaseOne();
    expect(await Promise.all(calls)).toEqual([true, false, "h(c)"]);
    expect(inner.peak).toBe(2);
    expect([gate.active, gate.queued]).toEqual([0, 0]);
  });

  test("one client holds at most half the waiting places (rounded up), so others still get a turn", async () => {
    const inner = heldHasher();
    const gate = new HashingGate(inner.hasher, { concurrency: 1, queue: 4, maxWaitMs: 10_000 });
    const mallory = gate.for("203.0.113.66");
    const alice = gate.for("198.51.100.7");
    const hers = [mallory.verify("m", "h(m)"), mallory.verify("m", "h(m)"), mallory.verify("m", "h(m)")]; // 1 running, 2 waiting
    await expect(mallory.verify("m", "h(m)")).rejects.toMatchObject({ status: 429, code: "overloaded", message: expect.stringContaining("your address") });
    expect([gate.active, gate.queued, gate.perClientQueue, gate.refused]).toEqual([1, 2, 2, 1]);
    const alices = alice.verify("a", "h(a)");
    const unkeyed = gate.hash("d"); // a call without a client (the decoy hash) counts against the whole queue only
    expect(gate.queued).toBe(4);
    await expect(alice.verify("a", "h(a)")).rejects.toMatchObject({ status: 429, code: "overloaded" });
    inner.releaseOne();
    await settle();
    expect(gate.queued).toBe(3); // mallory's first waiting call started: her place is free again
    const again = mallory.verify("m", "h(m)");
    expect(gate.queued).toBe(4);
    for (let i = 0; i < 5; i++) {
      inner.releaseOne();
      await settle();
    }
    expect(await Promise.all([...hers, alices, unkeyed, again])).toEqual([true, true, true, true, "h(d)", true]);
    expect([gate.active, gate.queued]).toEqual([0, 0]);
  });

  test("a call that waited too long for its turn is refused and leaves the queue", async () => {
    const inner = heldHasher();
    const gate = new HashingGate(inner.hasher, { concurrency: 1, queue: 5, maxWaitMs: 20 });
    const first = gate.hash("a");
    await expect(gate.hash("b")).rejects.toMatchObject({ status: 429, code: "overloaded" });
    expect(gate.queued).toBe(0);
    inner.releaseOne();
    expect(await first).toBe("h(a)");
    expect(gate.active).toBe(0);
  });

  test("a failing hash frees its slot", async () => {
    const gate = new HashingGate({ hash: () => Promise.reject(new Error("boom")), verify: async () => true }, { concurrency: 1, queue: 0, maxWaitMs: 10 });
    await expect(gate.hash("a")).rejects.toThrow("boom");
    expect(await gate.verify("a", "b")).toBe(true);
  });
});

describe("StreamPool", () => {
  test("caps the total, per address and per account; release frees every count once", () => {
    const pool = new StreamPool("event", { max: 4, perAddress: 2, perAccount: 1 });
    const a = pool.acquire("1.1.1.1", "alice");
    expect(a.ok).toBe(true);
    expect(pool.acquire("2.2.2.2", "alice")).toEqual({ ok: false, reason: expect.stringContaining("this account") });
    const b = pool.acquire("1.1.1.1", "bob");
    expect(pool.acquire("1.1.1.1", "carol")).toEqual({ ok: false, reason: expect.stringContaining("your address") });
    const c = pool.acquire("3.3.3.3", "carol");
    const d = pool.acquire("4.4.4.4", "dave");
    expect(pool.acquire("5.5.5.5", "erin")).toEqual({ ok: false, reason: expect.stringContaining("4 event streams") });
    for (const slot of [a, b, c, d]) if (slot.ok) slot.release();
    if (a.ok) a.release(); // twice is once
    expect(pool.count).toBe(0);
    expect(pool.acquire("1.1.1.1", "alice").ok).toBe(true);
  });
});

describe("client addresses", () => {
  test("IPv4 as is, IPv4-mapped IPv6 as IPv4, IPv6 by its /64; unknown as one shared key", () => {
    expect(addressKey("203.0.113.9")).toBe("203.0.113.9");
    expect(addressKey("::ffff:203.0.113.9")).toBe("203.0.113.9");
    expect(addressKey("2001:db8:1:2:3:4:5:6")).toBe("2001:db8:1:2::/64");
    expect(addressKey("2001:db8:1:2::99")).toBe("2001:db8:1:2::/64");
    expect(addressKey("[2001:DB8:0001:0002::1]")).toBe("2001:db8:1:2::/64");
    expect(addressKey("fe80::1%eth0")).toBe("fe80:0:0:0::/64");
    expect(addressKey("::1")).toBe("0:0:0:0::/64");
    expect(addressKey(null)).toBe("unknown");
    expect(addressKey("")).toBe("unknown");
  });

  test("read from Bun's server (requestIP) or Deno's handler info (remoteAddr)", () => {
    const request = new Request("http://x/");
    expect(runtimeAddress(request, { requestIP: (r: Request) => (r === request ? { address: "10.0.0.1", port: 1 } : null) })).toBe("10.0.0.1");
    expect(runtimeAddress(request, { remoteAddr: { hostname: "10.0.0.2", port: 2, transport: "tcp" } })).toBe("10.0.0.2");
    expect(runtimeAddress(request, { requestIP: () => null })).toBeNull();
    expect(runtimeAddress(request, undefined)).toBeNull();
  });
});

describe("over real HTTP on Bun.serve", () => {
  /** A POST from a chosen loopback source address (127.0.0.0/8 is all ours). */
  const post = (port: number, localAddress: string, path: string, body: unknown) =>
    new Promise<{ status: number; retryAfter: string | undefined; code: string | undefined }>((resolve, reject) => {
      const request = http.request({ host: "127.0.0.1", port, path, method: "POST", localAddress, headers: { "content-type": "application/json" } }, (response) => {
        let text = "";
        response.on("data", (chunk) => (text += chunk));
        response.on("end", () => {
          const parsed = text === "" ? {} : (JSON.parse(text) as { error?: { code?: string } });
          resolve({ status: response.statusCode ?? 0, retryAfter: response.headers["retry-after"] as string | undefined, code: parsed.error?.code });
        });
      });
      request.on("error", reject);
      request.end(JSON.stringify(body));
    });

  test("the peer address comes from the server: each source address has its own failed-login budget", async () => {
    const app = createApp({ backend: new MemoryBackend(), passwords: pbkdf2Hasher(), adminToken: null, rateLimits: { failedLoginsPerAddress: { burst: 2, perSecond: 0.001 } } });
    const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: app.fetch });
    try {
      const port = server.port!;
      const wrong = { username: "nobody", password: "wrong password" };
      expect((await post(port, "127.0.0.2", "/v1/sessions", wrong)).status).toBe(401);
      expect((await post(port, "127.0.0.2", "/v1/sessions", wrong)).status).toBe(401);
      const refused = await post(port, "127.0.0.2", "/v1/sessions", wrong);
      expect([refused.status, refused.code]).toEqual([429, "rate_limited"]);
      expect(Number(refused.retryAfter)).toBeGreaterThan(0);
      expect((await post(port, "127.0.0.3", "/v1/sessions", wrong)).status).toBe(401);
    } finally {
      await server.stop(true);
    }
  });
});
