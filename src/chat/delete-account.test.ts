import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { createAccount, deleteAccount, deleteIds, login, markIds, send } from "./testing/commands.ts";
import { ReplicaDir, type ChatReplica } from "./testing/chat-replica.ts";

describe("deleteAccount", () => {
  let dir: ReplicaDir;
  let r: ChatReplica;
  beforeEach(async () => {
    dir = new ReplicaDir();
    r = await dir.open();
    // 1-4: accounts; 5-9: messages; 10: alice logs in.
    await r.run(createAccount("alice"), createAccount("bob"), createAccount("carol"), createAccount("dave"));
    await r.run(send("alice", "bob", "a→b"), send("bob", "alice", "b→a"), send("carol", "alice", "c→a"), send("alice", "alice", "memo"), send("bob", "dave", "b→d"));
    await r.one(login("alice", "t-alice"));
    r.chat.drainEvents();
  });
  afterEach(() => dir.cleanup());

  test("takes the account, its sessions and what it received; what it sent stays, marked", async () => {
    expect(await r.one(deleteAccount("alice"))).toEqual({ ok: true, type: "accountDeleted", username: "alice" });
    expect(await r.queries.account("alice")).toBeNull();
    expect(await r.queries.sessionAccount("t-alice")).toBeNull();
    const rows = await r.database.client.execute("SELECT id, sender, recipient, sender_deleted FROM messages ORDER BY id");
    expect(rows.rows.map((row) => Array.from(row))).toEqual([
      [5, "alice", "bob", 1],
      [9, "bob", "dave", 0],
    ]);
    const [fromAlice] = (await r.queries.conversation("bob", "alice", 10, null)).messages;
    expect(fromAlice).toEqual(expect.objectContaining({ id: 5, from: "alice", fromDeleted: true }));
    expect(await r.queries.conversations("bob")).toEqual([
      expect.objectContaining({ with: "dave" }),
      expect.objectContaining({ with: "alice", unread: 1 }),
    ]);
  });

  test("tells each live partner once; its own stream and the events of what it received go", async () => {
    await r.one(deleteAccount("alice"));
    expect(r.chat.drainEvents()).toEqual([
      { index: 11, account: "bob", type: "account_deleted", data: { username: "alice" } },
      { index: 11, account: "carol", type: "account_deleted", data: { username: "alice" } },
    ]);
    expect(await r.count("events", "account = 'alice'")).toBe(0);
    // bob's copy of the message he sent alice (6) is gone with it; alice's message to him (5) stays.
    expect((await r.queries.eventsAfter("bob", 0, 100)).events.map((e) => [e.index, e.type])).toEqual([
      [5, "message"],
      [9, "message"],
      [11, "account_deleted"],
    ]);
  });

  test("a new account of the same name inherits nothing", async () => {
    await r.run(deleteAccount("alice"), createAccount("alice"));
    r.chat.drainEvents();
    expect(await r.queries.conversation("alice", "bob", 10, null)).toEqual({ messages: [], nextBefore: null });
    expect(await r.queries.conversations("alice")).toEqual([]);
    expect(await r.queries.eventsAfter("alice", 0, 100)).toEqual({ events: [], complete: true });
    // The old alice's message to bob is not the new alice's to delete...
    expect(await r.one(deleteIds("alice", [5]))).toEqual({ ok: true, type: "messagesDeleted", deleted: [], notFound: [5] });
    // ...and bob reading it tells the new alice nothing.
    await r.one(markIds("bob", [5]));
    expect(r.chat.drainEvents().map((e) => e.account)).toEqual(["bob"]);
    // Deleting bob does not notify the new alice about the old one's conversation.
    await r.one(deleteAccount("bob"));
    expect(r.chat.drainEvents().map((e) => e.account)).toEqual(["dave"]);
  });

  test("refuses an unknown account; a keyed retry gets the first answer", async () => {
    expect(await r.one(deleteAccount("nobody"))).toEqual(expect.objectContaining({ ok: false, code: "no_such_account" }));
    const first = await r.one(deleteAccount("alice", { account: "alice", key: "bye" }));
    expect(await r.one(deleteAccount("alice", { account: "alice", key: "bye" }))).toEqual(first);
    expect(await r.one(deleteAccount("alice"))).toEqual(expect.objectContaining({ ok: false, code: "no_such_account" }));
  });
});
