import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import {
  EVENT_RETENTION_INDEXES,
  IDEMPOTENCY_RECORDS_PER_ACCOUNT_MAX,
  IDEMPOTENCY_RETENTION_MS,
  PRUNE_EVERY_INDEXES,
  MARK_READ_RANGE_MAX,
  SESSION_ABSOLUTE_LIFETIME_MS,
  SESSION_IDLE_LIFETIME_MS,
  SESSIONS_PER_ACCOUNT_MAX,
  SWEEP_CHUNK_ROWS,
  SWEEP_EVERY_INDEXES,
} from "./chat-limits.ts";
import type { ChatCommand } from "./commands.ts";
import { createAccount, login, logout, markUpTo, send } from "./testing/commands.ts";
import { entryOf, ReplicaDir, timeAt, type ChatReplica } from "./testing/chat-replica.ts";

// Log indexes need not be contiguous for the state machine, so these jump ahead
// instead of applying a window's worth of entries.

describe("retention keeps the tables bounded", () => {
  let dir: ReplicaDir;
  let r: ChatReplica;
  beforeEach(async () => {
    dir = new ReplicaDir();
    r = await dir.open();
    await r.run(createAccount("alice"), createAccount("bob"));
  });
  afterEach(() => dir.cleanup());

  /** The first index that runs retention and whose horizon reaches `atLeast`. */
  const pruningIndex = (window: number, atLeast: number) => Math.ceil((window + atLeast) / PRUNE_EVERY_INDEXES) * PRUNE_EVERY_INDEXES;

  test("events older than the window are pruned at the next pruning index, and replay says so", async () => {
    const p = pruningIndex(EVENT_RETENTION_INDEXES, 4);
    const horizon = p - EVENT_RETENTION_INDEXES;
    await r.one(send("alice", "bob", "old")); // index 3
    await r.runAt(horizon + 1, send("bob", "alice", "newer"));
    // Not a pruning index: the old events are still there (message events are read from
    // the messages table, which retention does not touch; replay applies the same window).
    await r.runAt(p - 1, createAccount("dave"));
    expect((await r.queries.eventsAfter("alice", 0, 100)).events.map((e) => e.index)).toEqual([3, horizon + 1]);
    expect((await r.queries.eventsAfter("bob", 0, 100)).events.map((e) => e.index)).toEqual([3, horizon + 1]);
    // The pruning index drops everything at or below its horizon and keeps the rest.
    await r.runAt(p, createAccount("carol"));
    expect((await r.queries.eventsAfter("alice", 0, 100)).events.map((e) => e.index)).toEqual([horizon + 1]);
    expect(await r.count("events", `idx <= ${horizon}`)).toBe(0);

    const fromStart = await r.queries.eventsAfter("bob", 0, 100);
    expect(fromStart.complete).toBe(false);
    expect(fromStart.events.map((e) => e.index)).toEqual([horizon + 1]);
    expect(await r.queries.eventsAfter("bob", horizon - 1, 100)).toEqual(expect.objectContaining({ complete: false }));
    expect(await r.queries.eventsAfter("bob", horizon, 100)).toEqual(expect.objectContaining({ complete: true }));
    // carol was created after the horizon: nothing of hers can have been pruned.
    expect(await r.queries.eventsAfter("carol", 0, 100)).toEqual({ events: [], complete: true });
  });

  test("even an unreadable entry advances retention (it depends on the index alone)", async () => {
    await r.one(send("alice", "bob", "old"));
    await r.runAt(pruningIndex(EVENT_RETENTION_INDEXES, 3), new Uint8Array([1]));
    expect((await r.queries.eventsAfter("bob", 0, 100)).events).toEqual([]);
  });

  /** The first sweep index after `index`. */
  const sweepAfter = (index: number) => (Math.floor(index / SWEEP_EVERY_INDEXES) + 1) * SWEEP_EVERY_INDEXES;

  test("idempotency records last 24 hours of leader time, however many indexes pass; then a retry runs again", async () => {
    const key = { account: "alice", key: "k" };
    const t0 = timeAt(3);
    await r.one(send("alice", "bob", "first", key)); // index 3, at t0
    // 200,000 indexes later (twice the old index window) but within the day: still deduplicated.
    const far = sweepAfter(200_000);
    await r.runAt(far, send("alice", "bob", "second", key), t0 + IDEMPOTENCY_RETENTION_MS - 1);
    expect(await r.count("messages")).toBe(1);
    expect(await r.count("idempotency")).toBe(1);
    // A sweep index whose leader time is past the day drops the record, before the command looks.
    await r.runAt(sweepAfter(far), send("alice", "bob", "third", key), t0 + IDEMPOTENCY_RETENTION_MS + 1);
    expect(await r.count("messages")).toBe(2);
    expect(await r.count("idempotency")).toBe(1);
  });

  test("an expired record survives until a sweep index: expiry is decided by the entry's index and leader time only", async () => {
    const key = { account: "alice", key: "k" };
    await r.one(send("alice", "bob", "first", key));
    const late = timeAt(3) + 2 * IDEMPOTENCY_RETENTION_MS;
    const notSweep = sweepAfter(1000) + 1;
    await r.runAt(notSweep, send("alice", "bob", "again", key), late);
    expect(await r.count("messages")).toBe(1);
    // Unreadable entries carry no time: even on a sweep index they sweep nothing.
    await r.runAt(sweepAfter(notSweep), new Uint8Array([1, 2, 3]));
    expect(await r.count("idempotency")).toBe(1);
    await r.runAt(sweepAfter(sweepAfter(notSweep)), createAccount("carol"), late);
    expect(await r.count("idempotency")).toBe(0);
  });

  test("a sweep deletes at most its chunk; the rest go at the next sweeps", async () => {
    const expired = SWEEP_CHUNK_ROWS * 2 + 10;
    await r.database.client.execute({
      sql: `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
            INSERT INTO idempotency (account, key, idx, result, at, seq) SELECT 'bob', 'k' || i, 2, '{}', 0, i FROM n`,
      args: [expired],
    });
    const now = timeAt(3) + IDEMPOTENCY_RETENTION_MS;
    const first = sweepAfter(3);
    await r.runAt(first, createAccount("carol"), now);
    expect(await r.count("idempotency")).toBe(expired - SWEEP_CHUNK_ROWS);
    await r.runAt(first + 1, createAccount("dave"), now); // not a sweep index
    expect(await r.count("idempotency")).toBe(expired - SWEEP_CHUNK_ROWS);
    await r.runAt(first + SWEEP_EVERY_INDEXES, createAccount("erin"), now);
    await r.runAt(first + 2 * SWEEP_EVERY_INDEXES, createAccount("fred"), now);
    expect(await r.count("idempotency")).toBe(0);
  });

  test("an account keeps at most its cap of records: its oldest key goes, and only its own", async () => {
    await r.one(send("bob", "alice", "bob's", { account: "bob", key: "b0" }));
    const sends: ChatCommand[] = Array.from({ length: IDEMPOTENCY_RECORDS_PER_ACCOUNT_MAX + 2 }, (_, i) => send("alice", "bob", `m${i}`, { account: "alice", key: `a${i}` }));
    await r.run(...sends);
    expect(await r.count("idempotency", "account = 'alice'")).toBe(IDEMPOTENCY_RECORDS_PER_ACCOUNT_MAX);
    expect(await r.count("idempotency", "account = 'bob'")).toBe(1);
    const messages = await r.count("messages");
    // a2 is still remembered; a0 and a1 were dropped, so their retries run again.
    await r.one(send("alice", "bob", "m2", { account: "alice", key: "a2" }));
    expect(await r.count("messages")).toBe(messages);
    await r.one(send("alice", "bob", "m0", { account: "alice", key: "a0" }));
    expect(await r.count("messages")).toBe(messages + 1);
    expect(await r.count("idempotency", "account = 'alice'")).toBe(IDEMPOTENCY_RECORDS_PER_ACCOUNT_MAX);
  });

  test("records waiting to be written obey the cap and the sweep as written ones do, however the log is cut into batches", async () => {
    // Past the cap within one batch, with sweeps (that expire the oldest) in the middle:
    // one batch, and one entry per batch, must leave the same records.
    const other = await dir.open();
    await other.run(createAccount("alice"), createAccount("bob"));
    const total = IDEMPOTENCY_RECORDS_PER_ACCOUNT_MAX + 2 * SWEEP_EVERY_INDEXES;
    // Leader time jumps a retention ahead halfway, so the sweeps then expire the first half.
    const timeOf = (index: number) => timeAt(index) + (index > total / 2 ? IDEMPOTENCY_RETENTION_MS : 0);
    const entries = Array.from({ length: total }, (_, i) => entryOf(3 + i, send("alice", "bob", `m${i}`, { account: "alice", key: `a${i < total - 7 ? i : i - 13}` }), timeOf(3 + i)));
    await r.machine.apply(entries);
    for (const entry of entries) await other.machine.apply([entry]);
    expect(await r.tableContents()).toEqual(await other.tableContents());
    expect(await r.count("idempotency", "account = 'alice'")).toBeLessThan(IDEMPOTENCY_RECORDS_PER_ACCOUNT_MAX);
    // The last seven reuse recent keys: answered from their first records, not sent again.
    expect(await r.count("messages")).toBe(total - 7);
  });

  test("an account keeps its newest sessions", async () => {
    const logins = Array.from({ length: SESSIONS_PER_ACCOUNT_MAX + 2 }, (_, k) => login("alice", `t${k}`));
    await r.run(...logins);
    expect(await r.count("sessions", "username = 'alice'")).toBe(SESSIONS_PER_ACCOUNT_MAX);
    expect(await r.queries.sessionAccount("t0")).toBeNull();
    expect(await r.queries.sessionAccount("t1")).toBeNull();
    expect(await r.queries.sessionAccount("t2")).toBe("alice");
  });

  test("markRead with/upTo marks at most its cap per command, oldest first", async () => {
    const total = MARK_READ_RANGE_MAX + 5;
    await r.database.client.execute({
      sql: `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
            INSERT INTO messages (id, sender, recipient, content, sent_at) SELECT 100 + i, 'alice', 'bob', 'x', '2026-01-01T00:00:00.000Z' FROM n`,
      args: [total],
    });
    r.nextIndex = 100 + total + 1;
    const first = await r.one(markUpTo("bob", "alice", 1e9));
    expect(first).toEqual(expect.objectContaining({ marked: MARK_READ_RANGE_MAX }));
    expect(await r.queries.unreadCount("bob")).toBe(5);
    expect((await r.queries.unread("bob", 10, null)).messages.map((m) => m.id)).toEqual([105 + MARK_READ_RANGE_MAX, 104 + MARK_READ_RANGE_MAX, 103 + MARK_READ_RANGE_MAX, 102 + MARK_READ_RANGE_MAX, 101 + MARK_READ_RANGE_MAX]);
    expect(await r.one(markUpTo("bob", "alice", 1e9))).toEqual(expect.objectContaining({ marked: 5 }));
  });

  test("sessions past the absolute lifetime are swept by leader time, touched or not", async () => {
    await r.run(login("alice", "old"), login("alice", "new")); // indexes 3 and 4, a second apart
    const loginAt = timeAt(3);
    const sweep = sweepAfter(10);
    await r.runAt(sweep - 2, { type: "touchSession", username: "alice", tokenHash: "old" }, loginAt + SESSION_ABSOLUTE_LIFETIME_MS - 1000);
    await r.runAt(sweep - 1, { type: "touchSession", username: "alice", tokenHash: "new" }, loginAt + SESSION_ABSOLUTE_LIFETIME_MS - 1000);
    await r.runAt(sweep, createAccount("carol"), loginAt + SESSION_ABSOLUTE_LIFETIME_MS + 1);
    expect(await r.queries.session("old")).toBeNull();
    // "new" was made a second later: it has a second left, and goes at the next sweep past it.
    expect((await r.queries.session("new"))?.account).toBe("alice");
    await r.runAt(sweep + SWEEP_EVERY_INDEXES, createAccount("dave"), loginAt + SESSION_ABSOLUTE_LIFETIME_MS + 2000);
    expect(await r.queries.session("new")).toBeNull();
  });

  test("sessions idle past the idle lifetime are swept; a touch restarts the idle clock", async () => {
    await r.run(login("alice", "idle"), login("alice", "busy")); // indexes 3 and 4
    const loginAt = timeAt(3);
    const touchAt = loginAt + SESSION_IDLE_LIFETIME_MS - 60_000;
    expect(await r.runAt(50, { type: "touchSession", username: "alice", tokenHash: "busy" }, touchAt)).toEqual({ ok: true, type: "sessionTouched", touched: true });
    expect(await r.queries.session("busy")).toEqual({ account: "alice", createdAt: new Date(timeAt(4)).toISOString(), lastSeenAt: new Date(touchAt).toISOString() });
    await r.runAt(sweepAfter(50), createAccount("carol"), loginAt + SESSION_IDLE_LIFETIME_MS + 2000);
    expect(await r.queries.session("idle")).toBeNull();
    expect((await r.queries.session("busy"))?.account).toBe("alice");
    // Touching a session that is gone changes nothing and is no error.
    expect(await r.runAt(sweepAfter(50) + 1, { type: "touchSession", username: "alice", tokenHash: "idle" })).toEqual({ ok: true, type: "sessionTouched", touched: false });
    expect(await r.count("sessions", "token_hash = 'idle'")).toBe(0);
  });
});
