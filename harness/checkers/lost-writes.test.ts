import { beforeEach, describe, expect, test } from "bun:test";
import { deleteMessages, msg, read, resetIds, send } from "./fixtures.ts";
import { checkLostWrites } from "./lost-writes.ts";

beforeEach(resetIds);

describe("checkLostWrites", () => {
  test("accepts: every acknowledged send in the final read once; an unknown send may or may not land", () => {
    const s1 = send("ann", "bob", "hi", [0, 10], { messageId: 1 });
    const s2 = send("ann", "bob", "hi", [5, null], "unknown", "k-retry");
    const s3 = send("ann", "bob", "hi again", [20, 30], { messageId: 3 });
    const early = read("bob", [12, 15], [msg(1, "ann", "bob", "hi")]);
    const final = read("bob", [40, 50], [msg(1, "ann", "bob", "hi"), msg(2, "ann", "bob", "hi"), msg(3, "ann", "bob", "hi again")]);
    expect(checkLostWrites([s1, s2, s3, early, final])).toEqual({ ok: true });
  });

  test("accepts: retries with one idempotency key answered with the same id", () => {
    const a = send("ann", "bob", "hi", [0, null], "unknown", "k1");
    const b = send("ann", "bob", "hi", [20, 30], { messageId: 7 }, "k1");
    const r = read("bob", [40, 50], [msg(7, "ann", "bob", "hi")]);
    expect(checkLostWrites([a, b, r])).toEqual({ ok: true });
  });

  test("rejects a lost acknowledged send with [send, final read]", () => {
    const s1 = send("ann", "bob", "hi", [0, 10], { messageId: 1 });
    const s2 = send("cat", "bob", "yo", [0, 10], { messageId: 2 });
    const early = read("bob", [11, 12], [msg(1, "ann", "bob", "hi"), msg(2, "cat", "bob", "yo")]);
    const final = read("bob", [40, 50], [msg(2, "cat", "bob", "yo")]);
    const r = checkLostWrites([s1, s2, early, final]);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.rule).toBe("lost-writes.lost");
    expect(r.excerpt).toEqual([s1, final]);
  });

  test("rejects a message shown twice", () => {
    const s1 = send("ann", "bob", "hi", [0, 10], { messageId: 1 });
    const final = read("bob", [40, 50], [msg(1, "ann", "bob", "hi"), msg(1, "ann", "bob", "hi")]);
    const r = checkLostWrites([s1, final]);
    expect(r.ok ? null : [r.rule, r.excerpt]).toEqual(["lost-writes.duplicate", [s1, final]]);
  });

  test("rejects a retried send applied twice (two copies, one logical send)", () => {
    const a = send("ann", "bob", "hi", [0, null], "unknown", "k1");
    const b = send("ann", "bob", "hi", [20, 30], { messageId: 8 }, "k1");
    const final = read("bob", [40, 50], [msg(7, "ann", "bob", "hi"), msg(8, "ann", "bob", "hi")]);
    const r = checkLostWrites([a, b, final]);
    expect(r.ok ? null : [r.rule, r.excerpt]).toEqual(["lost-writes.duplicate", [a, b, final]]);
  });

  test("rejects retries acknowledged with two different ids", () => {
    const a = send("ann", "bob", "hi", [0, 10], { messageId: 7 }, "k1");
    const b = send("ann", "bob", "hi", [20, 30], { messageId: 8 }, "k1");
    const r = checkLostWrites([a, b, read("bob", [40, 50], [msg(7, "ann", "bob", "hi")])]);
    expect(r.ok ? null : [r.rule, r.excerpt]).toEqual(["lost-writes.duplicate", [a, b]]);
  });

  test("rejects altered content", () => {
    const s = send("ann", "bob", "hi", [0, 10], { messageId: 1 });
    const final = read("bob", [40, 50], [msg(1, "ann", "bob", "HI")]);
    const r = checkLostWrites([s, final]);
    expect(r.ok ? null : r.rule).toBe("lost-writes.corrupted");
  });

  test("cannot verify a send no read started after", () => {
    const s = send("ann", "bob", "hi", [0, 10], { messageId: 1 });
    const r = checkLostWrites([s, read("bob", [5, 50], [])]);
    expect(r.ok ? null : [r.rule, r.excerpt]).toEqual(["lost-writes.unverifiable", [s]]);
  });

  test("a deleted message may be missing from the final read; one never deleted may not", () => {
    const kept = send("ann", "bob", "keep", [0, 10], { messageId: 1 });
    const gone = send("ann", "bob", "drop", [0, 10], { messageId: 2 });
    const del = deleteMessages("ann", [2], [11, 12], "ok");
    const final = read("bob", [20, 30], [msg(1, "ann", "bob", "keep")]);
    expect(checkLostWrites([kept, gone, del, final])).toEqual({ ok: true });

    const failedDelete = deleteMessages("ann", [2], [11, 12], "fail");
    const r = checkLostWrites([kept, gone, failedDelete, final]);
    expect(r.ok ? null : r.rule).toBe("lost-writes.lost");
  });
});
