import { beforeEach, describe, expect, test } from "bun:test";
import { deleteMessages, msg, read, resetIds, send } from "./fixtures.ts";
import { checkStaleReads } from "./stale-reads.ts";

beforeEach(resetIds);

describe("checkStaleReads", () => {
  test("accepts: reads concurrent with the send may miss it, later ones see it", () => {
    const s = send("ann", "bob", "hi", [0, 10], { messageId: 1 });
    const concurrent = read("bob", [5, 20], []);
    const after = read("bob", [11, 20], [msg(1, "ann", "bob", "hi")]);
    const senderConversation = read("ann", [12, 20], [msg(1, "ann", "bob", "hi")], "bob");
    const otherInbox = read("ann", [12, 20], []);
    expect(checkStaleReads([s, concurrent, after, senderConversation, otherInbox])).toEqual({ ok: true });
  });

  test("rejects a read started after the acknowledgement that misses the message", () => {
    const noise = send("cat", "bob", "yo", [0, 3], { messageId: 2 });
    const s = send("ann", "bob", "hi", [0, 10], { messageId: 1 });
    const ok = read("bob", [11, 20], [msg(1, "ann", "bob", "hi"), msg(2, "cat", "bob", "yo")]);
    const stale = read("ann", [30, 40], [msg(2, "cat", "bob", "yo")].slice(1), "bob");
    const r = checkStaleReads([noise, s, ok, stale]);
    expect(r.ok ? null : [r.rule, r.excerpt]).toEqual(["stale-reads.missing-acknowledged", [s, stale]]);
  });

  test("accepts: a message deleted (or perhaps deleted) before a later read may be missing from it", () => {
    const s = send("ann", "bob", "hi", [0, 10], { messageId: 1 });
    const del = deleteMessages("ann", [1], [12, 15], "unknown");
    const later = read("bob", [20, 30], []);
    expect(checkStaleReads([s, del, later])).toEqual({ ok: true });
  });

  test("rejects a read started after a delete was acknowledged that still shows the message", () => {
    const s = send("ann", "bob", "hi", [0, 10], { messageId: 1 });
    const del = deleteMessages("bob", [1], [12, 15], "ok");
    const concurrent = read("bob", [13, 16], [msg(1, "ann", "bob", "hi")]);
    const resurrected = read("ann", [20, 30], [msg(1, "ann", "bob", "hi")], "bob");
    const r = checkStaleReads([s, del, concurrent, resurrected]);
    expect(r.ok ? null : [r.rule, r.excerpt]).toEqual(["stale-reads.deleted-visible", [del, resurrected]]);
  });
});
