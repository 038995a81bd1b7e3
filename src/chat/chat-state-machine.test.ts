import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { encodeCommand, encodeProposal } from "./command-codec.ts";
import type { ApplyResult, ChatEvent } from "./commands.ts";
import { createAccount, deleteIds, login, logout, markIds, markUpTo, send } from "./testing/commands.ts";
import { isoAt, ReplicaDir, timeAt, type ChatReplica } from "./testing/chat-replica.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const proposalOf = (json: string) => encodeProposal(timeAt(1), bytes(json));
const refusedAs = (code: string) => expect.objectContaining({ ok: false, code });

describe("ChatStateMachine", () => {
  let dir: ReplicaDir;
  let r: ChatReplica;
  beforeEach(async () => {
    dir = new ReplicaDir();
    r = await dir.open();
  });
  afterEach(() => dir.cleanup());

  /** alice, bob and carol exist (indexes 1-3); events so far are drained. */
  async function threeAccounts(): Promise<void> {
    await r.run(createAccount("alice"), createAccount("bob"), createAccount("carol"));
    r.chat.drainEvents();
  }

  describe("createAccount", () => {
    test("creates the account at the leader's time", async () => {
      const result = await r.one(createAccount("alice"));
      expect(result).toEqual({ ok: true, type: "accountCreated", account: { username: "alice", createdAt: isoAt(1) } });
      expect(await r.queries.account("alice")).toEqual({ username: "alice", createdAt: isoAt(1) });
      expect(await r.queries.passwordHash("alice")).toBe("hash-of-alice");
      expect(r.chat.drainEvents()).toEqual([]);
    });

    test("refuses a taken username, case-sensitively", async () => {
      const [, taken, other] = await r.run(createAccount("alice"), createAccount("alice"), createAccount("Alice"));
      expect(taken).toEqual(refusedAs("username_taken"));
      expect(other).toEqual(expect.objectContaining({ ok: true }));
    });

    test("refuses usernames outside 1-32 of A-Za-z0-9_.- and malformed hashes", async () => {
      const results = await r.run(
        createAccount(""),
        createAccount("a".repeat(33)),
        createAccount("bad name"),
        createAccount("é"),
        { type: "createAccount", username: "ok", passwordHash: "" },
        { type: "createAccount", username: "ok", passwordHash: "x".repeat(513) },
      );
      for (const result of results) expect(result).toEqual(refusedAs("invalid_command"));
      expect(await r.one(createAccount("A.b-c_9".padEnd(32, "z")))).toEqual(expect.objectContaining({ ok: true }));
      expect(await r.count("accounts")).toBe(1);
    });
  });

  describe("sessions", () => {
    test("createSession answers with the unread count; the token then maps to its account", async () => {
      await threeAccounts();
      await r.run(send("alice", "bob", "one"), send("carol", "bob", "two"), send("bob", "alice", "three"));
      expect(await r.one(login("bob", "t-bob"))).toEqual({ ok: true, type: "sessionCreated", username: "bob", unread: 2 });
      expect(await r.queries.sessionAccount("t-bob")).toBe("bob");
      expect(await r.queries.sessionAccount("t-none")).toBeNull();
    });

    test("createSession refuses an unknown account and a token hash that is another's", async () => {
      await threeAccounts();
      expect(await r.one(login("nobody", "t1"))).toEqual(refusedAs("no_such_account"));
      await r.one(login("alice", "t1"));
      expect(await r.one(login("bob", "t1"))).toEqual(refusedAs("invalid_command"));
      expect(await r.one(login("alice", "t1"))).toEqual(expect.objectContaining({ ok: true }));
      expect(await r.queries.sessionAccount("t1")).toBe("alice");
    });

    test("revokeSessions ends one token, or every session of the account", async () => {
      await threeAccounts();
      await r.run(login("alice", "a1"), login("alice", "a2"), login("alice", "a3"), login("bob", "b1"));
      expect(await r.one(logout("alice", "a1"))).toEqual({ ok: true, type: "sessionsRevoked", count: 1 });
      expect(await r.one(logout("alice", "a1"))).toEqual(refusedAs("no_such_session"));
      expect(await r.one(logout("alice", "b1"))).toEqual(refusedAs("no_such_session"));
      expect(await r.one(logout("alice", null))).toEqual({ ok: true, type: "sessionsRevoked", count: 2 });
      expect(await r.one(logout("nobody", null))).toEqual(refusedAs("no_such_account"));
      expect(await r.queries.sessionAccount("a2")).toBeNull();
      expect(await r.queries.sessionAccount("b1")).toBe("bob");
    });
  });

  describe("sendMessage", () => {
    test("the id is the log index, sentAt the leader's time; content is stored trimmed; both sides hear it", async () => {
      await threeAccounts();
      const result = await r.one(send("alice", "bob", "  hello \n"));
      const message = { id: 4, from: "alice", fromDeleted: false, to: "bob", content: "hello", sentAt: isoAt(4), readAt: null };
      expect(result).toEqual({ ok: true, type: "messageSent", message });
      expect(r.chat.drainEvents()).toEqual([
        { index: 4, account: "alice", type: "message", data: message },
        { index: 4, account: "bob", type: "message", data: message },
      ]);
      expect((await r.queries.conversation("bob", "alice", 10, null)).messages).toEqual([message]);
    });

    test("a note to oneself is one message and one event", async () => {
      await threeAccounts();
      await r.one(send("alice", "alice", "memo"));
      expect(r.chat.drainEvents().map((e) => e.account)).toEqual(["alice"]);
    });

    test("refuses unknown recipients and senders, and content outside 1-4000 characters", async () => {
      await threeAccounts();
      const results = await r.run(
        send("alice", "nobody", "hi"),
        send("nobody", "alice", "hi"),
        send("alice", "bob", " \t\n "),
        send("alice", "bob", "x".repeat(4001)),
        send("alice", "bob", "ok\ud800"),
        send("alice", "bad name", "hi"),
      );
      expect(results.map((x) => (x.ok ? "ok" : x.code))).toEqual([
        "no_such_recipient",
        "no_such_account",
        "invalid_command",
        "invalid_command",
        "invalid_command",
        "invalid_command",
      ]);
      // 4000 characters outside the BMP are 8000 UTF-16 units, still 4000 characters.
      expect(await r.one(send("alice", "bob", "😀".repeat(4000)))).toEqual(expect.objectContaining({ ok: true }));
      expect(await r.count("messages")).toBe(1);
      expect(r.chat.drainEvents()).toHaveLength(2);
    });
  });

  describe("markRead", () => {
    test("listed ids: marks only unread messages the reader received, at the leader's time", async () => {
      await threeAccounts();
      await r.run(send("alice", "bob", "a1"), send("carol", "bob", "c1"), send("bob", "alice", "b1"), send("alice", "carol", "x"));
      r.chat.drainEvents();
      // 4 and 5 are bob's; 6 is bob's own sent message; 7 is carol's; 99 does not exist.
      const result = await r.one(markIds("bob", [5, 4, 6, 7, 99, 4]));
      expect(result).toEqual({ ok: true, type: "messagesMarked", marked: 2, ids: [4, 5] });
      const page = await r.queries.conversation("bob", "alice", 10, null);
      expect(page.messages.find((m) => m.id === 4)?.readAt).toBe(isoAt(8));
      expect(page.messages.find((m) => m.id === 6)?.readAt).toBeNull();
      expect(r.chat.drainEvents()).toEqual([
        { index: 8, account: "bob", type: "messages_read", data: { ids: [4, 5], by: "bob" } },
        { index: 8, account: "alice", type: "messages_read", data: { ids: [4], by: "bob" } },
        { index: 8, account: "carol", type: "messages_read", data: { ids: [5], by: "bob" } },
      ]);
      // Marking again changes nothing and tells no one.
      expect(await r.one(markIds("bob", [4, 5]))).toEqual({ ok: true, type: "messagesMarked", marked: 0, ids: [] });
      expect(r.chat.drainEvents()).toEqual([]);
    });

    test("with and upTo: every unread message from that partner up to upTo", async () => {
      await threeAccounts();
      await r.run(send("alice", "bob", "1"), send("alice", "bob", "2"), send("carol", "bob", "3"), send("alice", "bob", "4"));
      expect(await r.one(markUpTo("bob", "alice", 6))).toEqual({ ok: true, type: "messagesMarked", marked: 2, ids: [4, 5] });
      expect(await r.queries.unreadCount("bob")).toBe(2);
      expect((await r.queries.unread("bob", 10, null)).messages.map((m) => m.id)).toEqual([7, 6]);
    });

    test("refuses malformed requests", async () => {
      await threeAccounts();
      const results = await r.run(
        { type: "markRead", username: "bob", ids: [1], with: "alice", upTo: null },
        { type: "markRead", username: "bob", ids: null, with: "alice", upTo: null },
        { type: "markRead", username: "bob", ids: null, with: null, upTo: 3 },
        markIds("bob", []),
        markIds("bob", [1.5]),
        markIds("bob", [0]),
        markIds("bob", Array.from({ length: 1001 }, (_, i) => i + 1)),
        markUpTo("bob", "alice", -1),
      );
      for (const result of results) expect(result).toEqual(refusedAs("invalid_command"));
      expect(await r.one(markIds("nobody", [1]))).toEqual(refusedAs("no_such_account"));
    });
  });

  describe("deleteMessages", () => {
    test("deletes what the user sent or received, for both sides; reports the rest as notFound", async () => {
      await threeAccounts();
      await r.run(send("alice", "bob", "a→b"), send("bob", "alice", "b→a"), send("carol", "bob", "c→b"), send("carol", "alice", "c→a"));
      r.chat.drainEvents();
      const result = await r.one(deleteIds("alice", [7, 4, 5, 6, 42, 5]));
      expect(result).toEqual({ ok: true, type: "messagesDeleted", deleted: [4, 5, 7], notFound: [6, 42] });
      expect((await r.queries.conversation("bob", "alice", 10, null)).messages).toEqual([]);
      expect((await r.queries.conversation("bob", "carol", 10, null)).messages.map((m) => m.id)).toEqual([6]);
      expect(r.chat.drainEvents()).toEqual([
        { index: 8, account: "alice", type: "messages_deleted", data: { ids: [4, 5, 7] } },
        { index: 8, account: "bob", type: "messages_deleted", data: { ids: [4, 5] } },
        { index: 8, account: "carol", type: "messages_deleted", data: { ids: [7] } },
      ]);
    });

    test("the deleted messages' content leaves the replay store too", async () => {
      await threeAccounts();
      await r.run(send("alice", "bob", "secret"), send("alice", "bob", "kept"));
      await r.one(deleteIds("bob", [4]));
      const replay = await r.queries.eventsAfter("bob", 0, 100);
      expect(replay.events.map((e) => [e.index, e.type])).toEqual([
        [5, "message"],
        [6, "messages_deleted"],
      ]);
    });

    test("refuses malformed requests and unknown users", async () => {
      await threeAccounts();
      expect(await r.one(deleteIds("bob", []))).toEqual(refusedAs("invalid_command"));
      expect(await r.one(deleteIds("bob", [-3]))).toEqual(refusedAs("invalid_command"));
      expect(await r.one(deleteIds("nobody", [1]))).toEqual(refusedAs("no_such_account"));
    });
  });

  describe("unreadable entries", () => {
    test("become invalid_command results and change nothing", async () => {
      await threeAccounts();
      const before = await r.tableContents();
      const good = JSON.parse(new TextDecoder().decode(encodeCommand(send("alice", "bob", "hi")))) as { command: Record<string, unknown> };
      const results = await r.run(
        new Uint8Array([1, 2, 3]),
        new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, ...bytes("{}")]),
        proposalOf("not json"),
        encodeProposal(timeAt(1), new Uint8Array([0xc3, 0x28])),
        encodeProposal(timeAt(1), new Uint8Array([...bytes('{"v":1,"command":{"type":"deleteAccount","username":"'), 0xff, ...bytes('"}}')])),
        proposalOf(JSON.stringify({ v: 2, command: good.command })),
        proposalOf(JSON.stringify({ v: 1, command: { ...good.command, extra: 1 } })),
        proposalOf(JSON.stringify({ v: 1, command: { ...good.command, content: 7 } })),
        proposalOf(JSON.stringify({ v: 1, command: { ...good.command, type: "launchMissiles" } })),
        proposalOf(JSON.stringify({ v: 1, command: { ...good.command, idempotency: { account: "alice" } } })),
        proposalOf(JSON.stringify({ v: 1, command: null })),
        proposalOf(JSON.stringify([1, 2])),
        encodeProposal(timeAt(1), new Uint8Array(256 * 1024 + 1)),
      );
      for (const result of results) expect(result).toEqual(refusedAs("invalid_command"));
      expect(await r.tableContents()).toEqual(before);
      expect(r.chat.drainEvents()).toEqual([]);
    });
  });

  describe("de-duplication", () => {
    const key = (account: string, k: string) => ({ account, key: k });

    test("a retry returns the first result, even after other commands, and changes nothing", async () => {
      await threeAccounts();
      const first = await r.one(send("alice", "bob", "once", key("alice", "k1")));
      r.chat.drainEvents();
      await r.run(send("bob", "alice", "reply"), markIds("bob", [4]));
      const messagesBefore = await r.tableContents();
      r.chat.drainEvents();
      const retry = await r.one(send("alice", "bob", "once", key("alice", "k1")));
      expect(retry).toEqual(first);
      // The stored result is the one of the first apply: the message as it was then, unread.
      expect(retry).toEqual(expect.objectContaining({ message: expect.objectContaining({ id: 4, readAt: null }) }));
      const after = await r.tableContents();
      expect(after["messages"]).toEqual(messagesBefore["messages"]);
      expect(after["events"]).toEqual(messagesBefore["events"]);
      expect(r.chat.drainEvents()).toEqual([]);
    });

    test("refusals are remembered too: the retry gets the first answer", async () => {
      await threeAccounts();
      expect(await r.one(send("alice", "dave", "hi", key("alice", "k")))).toEqual(refusedAs("no_such_recipient"));
      await r.one(createAccount("dave"));
      expect(await r.one(send("alice", "dave", "hi", key("alice", "k")))).toEqual(refusedAs("no_such_recipient"));
      expect(await r.count("messages")).toBe(0);
    });

    test("keys are scoped per account, and must be scoped to the acting account", async () => {
      await threeAccounts();
      const a = await r.one(send("alice", "bob", "from alice", key("alice", "same")));
      const b = await r.one(send("bob", "alice", "from bob", key("bob", "same")));
      expect(a).not.toEqual(b);
      expect(await r.count("messages")).toBe(2);
      expect(await r.one(send("alice", "bob", "x", key("bob", "other")))).toEqual(refusedAs("invalid_command"));
      expect(await r.one(send("alice", "bob", "x", key("alice", "")))).toEqual(refusedAs("invalid_command"));
      expect(await r.one(send("alice", "bob", "x", key("alice", "k".repeat(65))))).toEqual(refusedAs("invalid_command"));
    });

    test("a key reused with another request digest is refused and changes nothing; without digests the key alone matches", async () => {
      await threeAccounts();
      const digestA = "a".repeat(64);
      const first = await r.one(send("alice", "bob", "once", { account: "alice", key: "k", digest: digestA }));
      expect(await r.one(send("alice", "bob", "once", { account: "alice", key: "k", digest: digestA }))).toEqual(first);
      expect(await r.one(send("alice", "bob", "other", { account: "alice", key: "k", digest: "b".repeat(64) }))).toEqual(refusedAs("idempotency_key_mismatch"));
      // An entry from before digests existed matches by key alone.
      expect(await r.one(send("alice", "bob", "once", key("alice", "k")))).toEqual(first);
      expect(await r.count("messages")).toBe(1);
      expect(await r.one(send("alice", "bob", "x", { account: "alice", key: "k2", digest: "not hex" }))).toEqual(refusedAs("invalid_command"));
    });

    test("createAccount is keyed by the new username", async () => {
      const first = await r.one(createAccount("erin", key("erin", "signup")));
      expect(await r.one(createAccount("erin", key("erin", "signup")))).toEqual(first);
      expect(await r.one(createAccount("erin", key("erin", "again")))).toEqual(refusedAs("username_taken"));
    });
  });

  describe("changePassword", () => {
    test("replaces the hash and ends every other session of the account, keeping the asking one", async () => {
      await threeAccounts();
      await r.run(login("alice", "a1"), login("alice", "a2"), login("alice", "a3"), login("bob", "b1"));
      const result = await r.one({ type: "changePassword", username: "alice", passwordHash: "new-hash", keepTokenHash: "a2" });
      expect(result).toEqual({ ok: true, type: "passwordChanged", revoked: 2 });
      expect(await r.queries.passwordHash("alice")).toBe("new-hash");
      expect(await r.queries.sessionAccount("a1")).toBeNull();
      expect(await r.queries.sessionAccount("a2")).toBe("alice");
      expect(await r.queries.sessionAccount("a3")).toBeNull();
      expect(await r.queries.sessionAccount("b1")).toBe("bob");
      expect(await r.one({ type: "changePassword", username: "alice", passwordHash: "newer", keepTokenHash: null })).toEqual({ ok: true, type: "passwordChanged", revoked: 1 });
      expect(await r.one({ type: "changePassword", username: "nobody", passwordHash: "h", keepTokenHash: null })).toEqual(refusedAs("no_such_account"));
      expect(await r.one({ type: "changePassword", username: "bob", passwordHash: "", keepTokenHash: null })).toEqual(refusedAs("invalid_command"));
    });
  });

  describe("events", () => {
    test("drainEvents hands over each applied event once, in log order", async () => {
      await threeAccounts();
      await r.run(send("alice", "bob", "1"), send("bob", "carol", "2"));
      const drained = r.chat.drainEvents();
      expect(drained.map((e: ChatEvent) => `${e.index}:${e.account}`)).toEqual(["4:alice", "4:bob", "5:bob", "5:carol"]);
      expect(r.chat.drainEvents()).toEqual([]);
    });

    test("events of a rolled-back apply are forgotten when the index is applied again", async () => {
      await threeAccounts();
      const data = encodeProposal(timeAt(4), encodeCommand(send("alice", "bob", "hi")));
      const writer = r.database.writer;
      writer.run("BEGIN IMMEDIATE");
      r.chat.applyCommand(writer, 4, data);
      r.chat.finishBatch(writer);
      writer.run("ROLLBACK");
      await r.run(send("alice", "bob", "hi"));
      expect(r.chat.drainEvents().map((e) => e.account)).toEqual(["alice", "bob"]);
    });

    test("each account gets at most one event per entry", async () => {
      await threeAccounts();
      const results: ApplyResult[] = await r.run(
        send("alice", "alice", "self"),
        send("bob", "alice", "x"),
        send("alice", "bob", "y"),
        markIds("alice", [4, 5]),
        deleteIds("alice", [4, 5, 6]),
      );
      expect(results.every((x) => x.ok)).toBe(true);
      const keys = r.chat.drainEvents().map((e) => `${e.index}:${e.account}`);
      expect(new Set(keys).size).toBe(keys.length);
    });
  });
});
