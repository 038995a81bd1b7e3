import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import {
  EVENT_RETENTION_INDEXES,
  IDEMPOTENCY_RETENTION_INDEXES,
  PRUNE_EVERY_INDEXES,
  MARK_READ_RANGE_MAX,
  SESSIONS_PER_ACCOUNT_MAX,
} from "./chat-limits.ts";
import { createAccount, login, logout, markUpTo, send } from "./testing/commands.ts";
import { ReplicaDir, type ChatReplica } from "./testing/chat-replica.ts";

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

  test("idempotency records expire at the pruning index past the window; a later retry runs again", async () => {
    const key = { account: "alice", key: "k" };
    const p = pruningIndex(IDEMPOTENCY_RETENTION_INDEXES, 3);
    await r.one(send("alice", "bob", "first", key)); // index 3
    await r.runAt(p - 1, send("alice", "bob", "second", key));
    expect(await r.count("messages")).toBe(1);
    await r.runAt(p, send("alice", "bob", "third", key));
    expect(await r.count("messages")).toBe(2);
    expect(await r.count("idempotency")).toBe(1);
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
});
