// Scripted interaction tests for the Raft core.
//
// Every test/interaction/scripts/*.txt is a script: commands, each followed by a
// "----" line and the output the command is expected to print (format: script.ts,
// commands: README.md). The runner feeds each script to a fresh InteractionEnv and
// compares every block's actual output to the expected one; a mismatch fails the
// test with a line diff ("-" expected, "+" actual) per differing block.
//
//   ./node_modules/.bin/bun test test/interaction
//
// REWRITE=1 rewrites the expected blocks from the actual output instead of failing:
//
//   REWRITE=1 ./node_modules/.bin/bun test test/interaction
//   REWRITE=1 ./node_modules/.bin/bun test test/interaction -t read-index   (one script)
//
// Use it to record a new script or an intended behaviour change, then read every
// changed block (git diff) and check it against the Raft paper before keeping it.
// Never record output that shows a core bug: report the bug instead.

import { expect, test } from "bun:test";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { InteractionEnv } from "./env.ts";
import { diffLines, parseScript, renderScript } from "./script.ts";

const SCRIPTS = join(import.meta.dir, "scripts");
const REWRITE = process.env["REWRITE"] === "1";
const MAX_REPORTED_BLOCKS = 5;

const files = readdirSync(SCRIPTS)
  .filter((f) => f.endsWith(".txt"))
  .sort();

test("there are interaction scripts", () => {
  if (files.length === 0) throw new Error(`no scripts in ${SCRIPTS}`);
});

for (const file of files) {
  test(file, () => {
    const path = join(SCRIPTS, file);
    const text = readFileSync(path, "utf8");
    const script = parseScript(text, file);
    const env = new InteractionEnv();
    const outputs: string[][] = [];
    const failures: string[] = [];
    let failed = 0;
    for (const block of script.blocks) {
      const actual = env.handle(block.command);
      outputs.push(actual);
      if (actual.join("\n") === block.expected.join("\n")) continue;
      failed++;
      if (failed > MAX_REPORTED_BLOCKS) continue;
      failures.push(`${file}:${block.line}: ${block.command}`, ...diffLines(block.expected, actual).map((l) => `  ${l}`), "");
    }
    // A "!!" line is a broken contract or safety property: never acceptable output.
    const violations = outputs.flatMap((lines, i) =>
      lines.filter((l) => l.trimStart().startsWith("!!")).map((l) => `${file}:${script.blocks[i]!.line}: ${script.blocks[i]!.command}: ${l.trim()}`),
    );
    if (violations.length > 0) {
      throw new Error(`${file}: the environment detected violations (not recorded):\n${violations.join("\n")}`);
    }
    if (REWRITE) {
      const rewritten = renderScript(script, outputs);
      if (rewritten !== text) writeFileSync(path, rewritten);
      return;
    }
    if (failed > 0) {
      if (failed > MAX_REPORTED_BLOCKS) failures.push(`... and ${failed - MAX_REPORTED_BLOCKS} more differing blocks`);
      throw new Error(
        `${file}: ${failed} of ${script.blocks.length} blocks differ (- expected, + actual; REWRITE=1 to re-record)\n\n${failures.join("\n")}`,
      );
    }
  });
}

// The environment itself must catch the Figure 8 bug: replay that script with a core
// that commits a previous-term entry by counting replicas, and expect the state
// machine safety check to fire (two different entries applied at one index).
test("figure8-previous-term-commit.txt catches commit-previous-term-by-count", () => {
  const file = "figure8-previous-term-commit.txt";
  const script = parseScript(readFileSync(join(SCRIPTS, file), "utf8"), file);
  const env = new InteractionEnv();
  const lines: string[] = [];
  for (const block of script.blocks) {
    const command = block.command.startsWith("add-nodes ") ? `${block.command} fault=commit-previous-term-by-count` : block.command;
    lines.push(...env.handle(command));
  }
  const violations = lines.filter((l) => l.trimStart().startsWith("!!"));
  expect(violations.some((l) => l.includes("applied") && l.includes("another node applied"))).toBe(true);
});
