import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { runScenario, type HarnessIo } from "../../harness/cli/harness-command.ts";
import { EXIT } from "../../src/cli/exit-codes.ts";
import { parseScenarioLocated } from "../../harness/scenario/parse.ts";

// Every scenario in the repo runs against real node and nats-server processes, ending
// with the history checkers. A failure prints the scenario's whole output and the seed.

const SCENARIOS = join(import.meta.dir, "../../harness/scenarios");
const SEED = Number(process.env["CONCORD_HARNESS_SEED"] ?? 1);

function capture(): { io: HarnessIo; text: () => string } {
  const chunks: string[] = [];
  const io: HarnessIo = {
    out: { isTTY: false, write: (text) => void chunks.push(text) },
    err: (text) => void chunks.push(text),
    lines: () => ({ readLine: async () => null, close: () => {} }),
  };
  return { io, text: () => chunks.join("") };
}

async function run(name: string, text: string): Promise<{ code: number; output: string }> {
  const { io, text: output } = capture();
  const code = await runScenario(parseScenarioLocated(text, name), { seed: SEED, positionals: [] }, io, { rerun: `concord harness run harness/scenarios/${name}` });
  return { code, output: output() };
}

describe(`harness scenarios (seed ${SEED})`, () => {
  for (const file of readdirSync(SCENARIOS).filter((f) => f.endsWith(".scn")).sort()) {
    test(file, async () => {
      const { code, output } = await run(file, readFileSync(join(SCENARIOS, file), "utf8"));
      if (code !== 0) console.error(output);
      expect(code).toBe(0);
      expect(output).toContain("✓ scenario passed");
      expect(output).toMatch(/✓ \d+ nodes agree at index \d+; \d+ operations/);
    }, 240_000);
  }

  test("a broken expectation stops the scenario with exit 7 (check failed) and says how to rerun it", async () => {
    const { code, output } = await run("broken.scn", ["cluster 3", "wait leader", "fail 1,2,3", "workload 4 --clients 2 --deadline 2s", "expect ok", "say \"never reached\""].join("\n"));
    expect(code).toBe(EXIT.checkFailed);
    expect(output).toContain("✗ expectation_failed: expected the workload to be ok");
    expect(output).toContain(`--seed ${SEED}`);
    expect(output).not.toContain("never reached");
  }, 60_000);
});
