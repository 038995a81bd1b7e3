import { beforeEach, describe, expect, test } from "bun:test";
import { msg, read, resetIds } from "./fixtures.ts";
import { checkOrdering } from "./ordering.ts";

beforeEach(resetIds);

const m1 = msg(1, "ann", "bob", "a");
const m2 = msg(2, "bob", "ann", "b");
const m3 = msg(3, "ann", "bob", "c");
const x = msg(4, "cat", "bob", "x");

describe("checkOrdering", () => {
  test("accepts reads that agree, including prefixes, subsets and interleaved conversations", () => {
    const h = [
      read("bob", [0, 1], [m1, x, m3]),
      read("ann", [0, 1], [m1, m2, m3], "bob"),
      read("bob", [0, 1], [x, m1]), // other conversation's order relative to m1 is free
      read("ann", [0, 1], [m2]),
    ];
    expect(checkOrdering(h)).toEqual({ ok: true });
  });

  test("rejects two reads showing a pair in opposite orders", () => {
    const r1 = read("ann", [0, 1], [m1, m2, m3], "bob");
    const r2 = read("bob", [0, 1], [x]);
    const r3 = read("bob", [2, 3], [m3, x, m1]);
    const r = checkOrdering([r1, r2, r3]);
    expect(r.ok ? null : [r.rule, r.excerpt]).toEqual(["ordering.inconsistent", [r1, r3]]);
    if (!r.ok) expect(r.message).toContain("message 1 before 3");
  });
});
