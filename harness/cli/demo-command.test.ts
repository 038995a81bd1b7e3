import { describe, expect, test } from "bun:test";
import type { ScenarioRunner } from "../runner/scenario-runner.ts";
import type { Step } from "../scenario/steps.ts";
import { askBeforeStep } from "./ask-before-step.ts";

/** Only `run` is used by the interactive prompt. */
function recordingRunner(): { runner: ScenarioRunner; ran: Step[] } {
  const ran: Step[] = [];
  return { runner: { run: async (step: Step) => void ran.push(step) } as unknown as ScenarioRunner, ran };
}

const next = { step: { kind: "fail", target: [2] } as Step, file: "demo.scn", line: 9 };

describe("concord demo --interactive", () => {
  test("typed steps run first, Enter then runs the scripted one; a typo is reported, not fatal", async () => {
    const { runner, ran } = recordingRunner();
    const answers = ["partition 1,2 | 3,4,5", "fial 3", "status", ""];
    const prompts: string[] = [];
    const out: string[] = [];
    const proceed = await askBeforeStep(next, runner, { isTTY: false, write: (t) => void out.push(t) }, async (prompt) => {
      prompts.push(prompt);
      return answers.shift() ?? null;
    });
    expect(proceed).toBe(true);
    expect(ran.map((s) => s.kind)).toEqual(["partition", "status"]);
    expect(out.join("")).toContain("[unknown-step]");
    expect(prompts[0]).toContain("next: fail 2");
  });

  test("quit ends the demo; narration never waits", async () => {
    const { runner, ran } = recordingRunner();
    expect(await askBeforeStep(next, runner, { isTTY: false, write: () => {} }, async () => "quit")).toBe(false);
    expect(await askBeforeStep({ ...next, step: { kind: "say", text: "hi" } }, runner, { isTTY: false, write: () => {} }, async () => { throw new Error("asked"); })).toBe(true);
    expect(ran).toEqual([]);
  });
});
