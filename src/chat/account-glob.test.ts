import { afterAll, describe, expect, test } from "bun:test";
import { createClient } from "@libsql/client";
import fc from "fast-check";
import { accountGlob } from "./account-glob.ts";

// Reference semantics: `*` any run, `?` one character, everything else itself.
function referenceMatch(pattern: string, text: string): boolean {
  const source = [...pattern].map((c) => (c === "*" ? ".*" : c === "?" ? "." : c.replace(/[\\^$.*+?()[\]{}|]/g, "\\$&"))).join("");
  return new RegExp(`^${source}$`, "su").test(text);
}

describe("accountGlob", () => {
  const db = createClient({ url: ":memory:" });
  afterAll(() => db.close());

  async function sqliteGlob(glob: string, text: string): Promise<boolean> {
    const rows = await db.execute({ sql: "SELECT ? GLOB ?", args: [text, glob] });
    return Number(rows.rows[0]?.[0]) === 1;
  }

  test("escapes the brackets and collapses runs of stars", () => {
    expect(accountGlob("a[b]c")).toBe("a[[]b[]]c");
    expect(accountGlob("a***b*")).toBe("a*b*");
    expect(accountGlob("%_?")).toBe("%_?");
  });

  test("a pattern needing more characters than a username has matches nothing", () => {
    expect(accountGlob("?".repeat(32))).not.toBeNull();
    expect(accountGlob(`*${"x".repeat(33)}*`)).toBeNull();
  });

  test("SQLite GLOB of the translation agrees with the reference on any text", async () => {
    const chars = fc.constantFrom("a", "b", "*", "?", "[", "]", "%", "_", "^", "-", "\\", ".");
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: chars, maxLength: 8 }), fc.string({ unit: chars, maxLength: 8 }), async (pattern, text) => {
        const glob = accountGlob(pattern);
        expect(glob === null ? false : await sqliteGlob(glob, text)).toBe(referenceMatch(pattern, text));
      }),
      { numRuns: 500 },
    );
  });
});
