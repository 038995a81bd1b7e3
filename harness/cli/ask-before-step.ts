import type { ScenarioRunner } from "../runner/scenario-runner.ts";
import type { Output } from "../runner/status-board.ts";
import { formatStep, parseLine } from "../scenario/parse.ts";
import type { LocatedStep } from "../scenario/steps.ts";

// The demo's interactive prompt, shared by the one-machine demo (demo-command.ts) and the
// two-machine one (two-machine-demo.ts), which demo-command loads: here, so neither
// imports the other.

/**
 * Interactive mode: show the next step; Enter runs it, any other step runs first (and the
 * prompt comes back), "quit" ends the demo. End of input runs the rest unattended.
 */
export async function askBeforeStep(located: LocatedStep, runner: ScenarioRunner, out: Output, readLine: (prompt: string) => Promise<string | null>): Promise<boolean> {
  if (located.step.kind === "say") return true;
  for (;;) {
    const line = await readLine(`next: ${formatStep(located.step)}   [Enter runs it, or type a step; quit ends] > `);
    if (line === null || line.trim() === "") return true;
    if (/^\s*(quit|exit)\s*$/.test(line)) return false;
    try {
      const step = parseLine(line, "<demo>", located.line);
      if (step !== null) await runner.run(step);
    } catch (error) {
      out.write(`${(error as Error).message}\n`);
    }
  }
}
