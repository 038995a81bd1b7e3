import { describe, expect, test } from "bun:test";
import { contentChars, contentProblem, trimContent } from "./message-content.ts";
import { isWellFormedText } from "./well-formed-text.ts";

describe("message content", () => {
  test("trims the fixed ECMAScript whitespace set, and only at the edges", () => {
    expect(trimContent("\u3000\t a  b \n\ufeff")).toBe("a  b");
    // U+180E was whitespace before Unicode 6.3; a fixed set keeps every node agreeing.
    expect(trimContent("\u180ex")).toBe("\u180ex");
    expect(trimContent("   ")).toBe("");
  });

  test("trimming a long inner run of spaces is linear", () => {
    const content = `a${" ".repeat(200_000)}b`;
    const started = performance.now();
    expect(trimContent(content)).toBe(content);
    expect(performance.now() - started).toBeLessThan(200);
  });

  test("counts code points, refuses empty, over-long and ill-formed content", () => {
    expect(contentChars("😀😀")).toBe(2);
    expect(contentProblem(" x ")).toBeNull();
    expect(contentProblem(" \n ")).not.toBeNull();
    expect(contentProblem("😀".repeat(4000))).toBeNull();
    expect(contentProblem("x".repeat(4001))).not.toBeNull();
    expect(contentProblem(`  ${"x".repeat(4000)}  `)).toBeNull();
    expect(contentProblem("a\udc00")).not.toBeNull();
  });

  test("well-formed means no unpaired surrogate", () => {
    expect(isWellFormedText("a😀b")).toBe(true);
    expect(isWellFormedText("\ud83d")).toBe(false);
    expect(isWellFormedText("\ude00\ud83d")).toBe(false);
    expect(isWellFormedText("\ud83d\ud83d\ude00")).toBe(false);
  });
});
