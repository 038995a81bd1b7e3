import { beforeEach, describe, expect, test } from "bun:test";
import { account, msg, read, resetIds, send } from "./fixtures.ts";
import { checkWellFormed } from "./history.ts";
import { checkHistory } from "./index.ts";

beforeEach(resetIds);

describe("history", () => {
  test("well-formedness", () => {
    const s = send("ann", "bob", "hi", [0, 10], { messageId: 1 });
    expect(checkWellFormed([s])).toEqual({ ok: true });
    const r = checkWellFormed([s, { ...s }]);
    expect(r.ok ? null : r.rule).toBe("history.well-formed");
    const backwards = checkWellFormed([{ ...s, completedAtMs: -1 }]);
    expect(backwards.ok ? null : backwards.rule).toBe("history.well-formed");
  });

  test("checkHistory runs them all", () => {
    const good = [
      account("createAccount", "ann", [0, 1], "ok"),
      send("ann", "bob", "hi", [2, 10], { messageId: 1 }),
      read("bob", [11, 12], [msg(1, "ann", "bob", "hi")]),
    ];
    expect(checkHistory(good)).toEqual({ ok: true });
    const bad = [...good, account("checkAccount", "ann", [20, 21], "missing")];
    const r = checkHistory(bad);
    expect(r.ok ? null : r.rule).toBe("linearizability.register");
  });
});
