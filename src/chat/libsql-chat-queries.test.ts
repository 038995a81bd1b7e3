import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { createAccount, markIds, send } from "./testing/commands.ts";
import { ReplicaDir, type ChatReplica } from "./testing/chat-replica.ts";

describe("LibsqlChatQueries", () => {
  let dir: ReplicaDir;
  let r: ChatReplica;
  beforeEach(async () => {
    dir = new ReplicaDir();
    r = await dir.open();
  });
  afterEach(() => dir.cleanup());

  describe("listAccounts", () => {
    beforeEach(async () => {
      await r.run(...["bob", "alice", "a_b", "axb", "a.b", "carol", "Alice", "ab"].map((name) => createAccount(name)));
    });
    const names = async (pattern: string, limit = 200, cursor: string | null = null) => (await r.queries.listAccounts(pattern, limit, cursor)).accounts.map((a) => a.username);

    test("pages by name with the total and a cursor", async () => {
      const first = await r.queries.listAccounts("*", 3, null);
      expect(first.accounts.map((a) => a.username)).toEqual(["Alice", "a.b", "a_b"]);
      expect(first).toEqual(expect.objectContaining({ total: 8, nextCursor: "a_b" }));
      const second = await r.queries.listAccounts("*", 3, first.nextCursor);
      expect(second.accounts.map((a) => a.username)).toEqual(["ab", "alice", "axb"]);
      const third = await r.queries.listAccounts("*", 3, second.nextCursor);
      expect(third).toEqual(expect.objectContaining({ total: 8, nextCursor: null }));
      expect(third.accounts.map((a) => a.username)).toEqual(["bob", "carol"]);
    });

    test("`*` and `?` are the only wildcards; matching is case-sensitive", async () => {
      expect(await names("a*")).toEqual(["a.b", "a_b", "ab", "alice", "axb"]);
      expect(await names("a?b")).toEqual(["a.b", "a_b", "axb"]);
      expect(await names("A*")).toEqual(["Alice"]);
      expect(await names("**b*")).toEqual(["a.b", "a_b", "ab", "axb", "bob"]);
      // LIKE would read these as wildcards, GLOB as a class; here they are plain characters.
      expect(await names("a_b")).toEqual(["a_b"]);
      expect(await names("a%")).toEqual([]);
      expect(await names("a[xy]b")).toEqual([]);
      expect(await names("[ab]*")).toEqual([]);
      expect(await names("a]*")).toEqual([]);
      expect(await names("a".repeat(33))).toEqual([]);
      expect((await r.queries.listAccounts("a_b", 10, null)).total).toBe(1);
    });

    test("clamps the page size to 1..200", async () => {
      expect(await names("*", 0)).toHaveLength(1);
      expect(await names("*", -5)).toHaveLength(1);
      expect(await names("*", Number.NaN)).toHaveLength(1);
      expect(await names("*", 10_000)).toHaveLength(8);
    });
  });

  describe("messages", () => {
    beforeEach(async () => {
      // 1-3 accounts; 4.. messages.
      await r.run(createAccount("alice"), createAccount("bob"), createAccount("carol"));
      await r.run(
        send("alice", "bob", "4"),
        send("bob", "alice", "5"),
        send("carol", "bob", "6"),
        send("alice", "bob", "7"),
        send("bob", "bob", "8"),
        send("alice", "carol", "9"),
        send("bob", "alice", "10"),
      );
    });
    const ids = (page: { messages: readonly { id: number }[] }) => page.messages.map((m) => m.id);

    test("a conversation holds both directions, newest first, paged by `before`", async () => {
      const first = await r.queries.conversation("alice", "bob", 2, null);
      expect(ids(first)).toEqual([10, 7]);
      expect(first.nextBefore).toBe(7);
      const second = await r.queries.conversation("alice", "bob", 2, first.nextBefore);
      expect(ids(second)).toEqual([5, 4]);
      expect(second.nextBefore).toBeNull();
      expect(ids(await r.queries.conversation("bob", "alice", 10, null))).toEqual([10, 7, 5, 4]);
      expect(ids(await r.queries.conversation("bob", "bob", 10, null))).toEqual([8]);
      expect(ids(await r.queries.conversation("alice", "nobody", 10, null))).toEqual([]);
    });

    test("the unread inbox and its count", async () => {
      expect(await r.queries.unreadCount("bob")).toBe(4);
      const page = await r.queries.unread("bob", 3, null);
      expect(ids(page)).toEqual([8, 7, 6]);
      expect(ids(await r.queries.unread("bob", 3, page.nextBefore))).toEqual([4]);
      await r.one(markIds("bob", [4, 8]));
      expect(await r.queries.unreadCount("bob")).toBe(2);
      expect(ids(await r.queries.unread("bob", 10, null))).toEqual([7, 6]);
    });

    test("conversations: one per partner, newest last message first, with unread counts", async () => {
      const list = await r.queries.conversations("bob");
      expect(list.map((c) => [c.with, c.lastMessage.id, c.unread])).toEqual([
        ["alice", 10, 2],
        ["bob", 8, 1],
        ["carol", 6, 1],
      ]);
      expect(list[0]?.lastMessage).toEqual(expect.objectContaining({ from: "bob", to: "alice", content: "10" }));
      expect((await r.queries.conversations("alice")).map((c) => [c.with, c.lastMessage.id, c.unread])).toEqual([
        ["bob", 10, 2],
        ["carol", 9, 0],
      ]);
      expect(await r.queries.conversations("nobody")).toEqual([]);
    });

    test("eventsAfter: the account's events after an index, oldest first, at most `limit`", async () => {
      const all = await r.queries.eventsAfter("carol", 0, 200);
      expect(all.complete).toBe(true);
      expect(all.events.map((e) => [e.index, e.type])).toEqual([
        [6, "message"],
        [9, "message"],
      ]);
      expect(all.events[0]).toEqual({ index: 6, account: "carol", type: "message", data: expect.objectContaining({ id: 6, from: "carol", to: "bob" }) });
      const page = await r.queries.eventsAfter("bob", 4, 2);
      expect(page.events.map((e) => e.index)).toEqual([5, 6]);
      expect((await r.queries.eventsAfter("bob", 6, 0)).events.map((e) => e.index)).toEqual([7]);
      expect(await r.queries.eventsAfter("bob", 100, 10)).toEqual({ events: [], complete: true });
    });

    test("account, passwordHash and sessionAccount answer null for unknowns", async () => {
      expect(await r.queries.account("nobody")).toBeNull();
      expect(await r.queries.passwordHash("nobody")).toBeNull();
      expect(await r.queries.sessionAccount("x".repeat(10_000))).toBeNull();
    });
  });
});
