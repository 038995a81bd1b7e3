import { describe, expect, test } from "bun:test";
import { checkConvergence } from "./convergence.ts";

describe("checkConvergence", () => {
  test("accepts equal digests at one index, and no nodes", () => {
    const nodes = ["n1", "n2", "n3"].map((nodeId) => ({ nodeId, appliedIndex: 42, digest: "abc" }));
    expect(checkConvergence(nodes)).toEqual({ ok: true });
    expect(checkConvergence([])).toEqual({ ok: true });
  });

  test("rejects a divergent node, blaming it against the majority", () => {
    const n1 = { nodeId: "n1", appliedIndex: 42, digest: "bad" };
    const n2 = { nodeId: "n2", appliedIndex: 42, digest: "abc" };
    const n3 = { nodeId: "n3", appliedIndex: 42, digest: "abc" };
    const r = checkConvergence([n1, n2, n3]);
    expect(r.ok ? null : [r.rule, r.excerpt]).toEqual(["convergence.divergent", [n2, n1]]);
  });

  test("refuses digests taken at different indexes", () => {
    const r = checkConvergence([
      { nodeId: "n1", appliedIndex: 42, digest: "abc" },
      { nodeId: "n2", appliedIndex: 41, digest: "abc" },
    ]);
    expect(r.ok ? null : r.rule).toBe("convergence.index-mismatch");
  });
});
