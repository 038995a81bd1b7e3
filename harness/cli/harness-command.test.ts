import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runHarnessCommand, type HarnessIo } from "./harness-command.ts";

function io(lines: string[] = []): { io: HarnessIo; text: () => string } {
  const out: string[] = [];
  const queue = [...lines];
  return {
    io: {
      out: { isTTY: false, write: (t) => void out.push(t) },
      err: (t) => void out.push(t),
      lines: () => ({ readLine: async () => queue.shift() ?? null, close: () => {} }),
    },
    text: () => out.join(""),
  };
}

describe("concord harness", () => {
  test("a scenario with a syntax error is refused before anything starts, with file:line:col and a code", async () => {
    const dir = mkdtempSync(join(tmpdir(), "concord-scn-"));
    const file = join(dir, "bad.scn");
    writeFileSync(file, "cluster 5\nfail lader\n");
    const { io: harnessIo, text } = io();
    expect(await runHarnessCommand(["run", file], harnessIo)).toBe(2);
    expect(text()).toMatch(/bad\.scn:2:\d+: .*\[expected-node\]/);
    expect(text()).not.toContain("starting nats-server");
  });

  test("the prompt reports a mistyped step and goes on; steps that need a cluster say so", async () => {
    const { io: harnessIo, text } = io(["frobnicate 3", "workload 10", "status", "quit"]);
    const code = await runHarnessCommand(["prompt", "--seed", "5"], harnessIo);
    expect(text()).toContain("concord harness (seed 5)");
    expect(text()).toContain("[unknown-step]");
    expect(text()).toContain("no_cluster: no cluster is running");
    expect(text()).toContain("no cluster");
    expect(code).toBe(1);
  });

  test("a bad seed is a usage error", async () => {
    const { io: harnessIo, text } = io();
    expect(await runHarnessCommand(["run", "x.scn", "--seed", "1.5"], harnessIo)).toBe(2);
    expect(text()).toContain("--seed must be a non-negative integer");
  });
});
