import { beforeEach, describe, expect, test } from "bun:test";
import { account, resetIds } from "./fixtures.ts";
import { checkLinearizability } from "./linearizability.ts";
import type { Operation } from "./history.ts";

beforeEach(resetIds);

function verdict(history: readonly Operation[]): [string, Operation[]] | "ok" {
  const r = checkLinearizability(history);
  return r.ok ? "ok" : [r.rule, [...r.excerpt]];
}

describe("checkLinearizability", () => {
  test("concurrent creates: one ok, one taken is linearizable", () => {
    expect(verdict([account("createAccount", "u", [0, 10], "ok", "a"), account("createAccount", "u", [1, 9], "taken", "b")])).toBe("ok");
  });

  test("concurrent creates: both ok is a violation", () => {
    const a = account("createAccount", "u", [0, 10], "ok", "a");
    const b = account("createAccount", "u", [1, 9], "ok", "b");
    expect(verdict([a, b])).toEqual(["linearizability.register", [a, b]]);
  });

  test("concurrent creates: both taken is a violation (either alone could follow the other)", () => {
    const a = account("createAccount", "u", [0, 10], "taken", "a");
    const b = account("createAccount", "u", [1, 9], "taken", "b");
    expect(verdict([a, b])).toEqual(["linearizability.register", [a, b]]);
  });

  test("a check returning missing after a completed create is a violation", () => {
    const noise = account("checkAccount", "u", [0, 2], "missing", "c");
    const create = account("createAccount", "u", [1, 5], "ok", "a");
    const other = account("createAccount", "v", [1, 5], "ok", "a");
    const check = account("checkAccount", "u", [6, 8], "missing", "b");
    expect(verdict([noise, create, other, check])).toEqual(["linearizability.register", [create, check]]);
  });

  test("a check concurrent with a create may see either", () => {
    const create = account("createAccount", "u", [1, 5], "ok", "a");
    expect(verdict([create, account("checkAccount", "u", [2, 8], "missing", "b"), account("checkAccount", "u", [3, 9], "exists", "c")])).toBe("ok");
  });

  test("but two checks cannot see the create and then not see it", () => {
    const create = account("createAccount", "u", [1, 20], "ok", "a");
    const sees = account("checkAccount", "u", [2, 5], "exists", "b");
    const misses = account("checkAccount", "u", [6, 8], "missing", "c");
    expect(verdict([create, sees, misses])).toEqual(["linearizability.register", [sees, misses]]);
  });

  test("create, delete, re-create cycles", () => {
    const h = [
      account("createAccount", "u", [0, 1], "ok"),
      account("deleteAccount", "u", [2, 3], "ok"),
      account("deleteAccount", "u", [4, 5], "missing"),
      account("checkAccount", "u", [6, 7], "missing"),
      account("createAccount", "u", [8, 9], "ok"),
      account("checkAccount", "u", [10, 11], "exists"),
    ];
    expect(verdict(h)).toBe("ok");
    const deleteTwice = account("deleteAccount", "u", [4, 5], "ok");
    expect(verdict([h[0]!, h[1]!, deleteTwice])).toEqual(["linearizability.register", [h[1]!, deleteTwice]]);
  });

  test("an unknown create may have happened (later, too) or not at all; a failed one did not", () => {
    const lost = account("createAccount", "u", [0, null], "unknown", "a");
    expect(verdict([lost, account("checkAccount", "u", [10, 11], "missing", "b")])).toBe("ok");
    expect(verdict([lost, account("checkAccount", "u", [10, 11], "exists", "b")])).toBe("ok");
    expect(verdict([lost, account("checkAccount", "u", [10, 11], "missing", "b"), account("checkAccount", "u", [12, 13], "exists", "b")])).toBe("ok");
    const failed = account("createAccount", "u", [0, 1], "fail", "a");
    const check = account("checkAccount", "u", [10, 11], "exists", "b");
    expect(verdict([failed, check])).toEqual(["linearizability.register", [check]]);
    // ...but not before it was invoked.
    const early = account("checkAccount", "u", [0, 1], "exists", "b");
    const late = account("createAccount", "u", [5, null], "unknown", "a");
    expect(verdict([early, late])).toEqual(["linearizability.register", [early]]);
  });

  test("initially existing usernames", () => {
    const r = checkLinearizability([account("createAccount", "root", [0, 1], "taken")], { initiallyExisting: new Set(["root"]) });
    expect(r).toEqual({ ok: true });
  });

  test("many concurrent clients: linearizable history passes quickly; a budget of 1 is inconclusive", () => {
    const h: Operation[] = [];
    // 12 clients race to create; exactly one wins, the rest are taken, plus unknowns.
    for (let c = 0; c < 12; c++) h.push(account("createAccount", "u", [c, 100 + c], c === 7 ? "ok" : "taken", `c${c}`));
    for (let c = 0; c < 4; c++) h.push(account("checkAccount", "u", [c, null], "unknown", `d${c}`));
    h.push(account("checkAccount", "u", [200, 201], "exists", "z"));
    expect(checkLinearizability(h)).toEqual({ ok: true });
    const r = checkLinearizability(h, { stepBudget: 1 });
    expect(r.ok ? null : [r.rule, r.inconclusive]).toEqual(["linearizability.inconclusive", true]);
    // Two winners among 12 is caught, with just the two.
    const bad = h.map((op, i) => (i === 3 ? account("createAccount", "u", [3, 103], "ok", "c3") : op));
    const v = checkLinearizability(bad);
    expect(v.ok ? null : [v.rule, v.excerpt.map((op) => op.client)]).toEqual(["linearizability.register", ["c3", "c7"]]);
  });
});
