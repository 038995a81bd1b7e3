import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { formatStep, parseLine, parseScenarioLocated } from "../scenario/parse.ts";
import { ScenarioSyntaxError, type LocatedStep, type Step } from "../scenario/steps.ts";
import { ScenarioRunner, StepFailure, type RunnerOptions } from "../runner/scenario-runner.ts";
import { StatusBoard, type Output } from "../runner/status-board.ts";

export const HARNESS_USAGE = `usage: concord harness run FILE.scn [FILE.scn …] [--seed N]
       concord harness prompt [--seed N]

Runs scenario files (the step language of shared/design/HARNESS.md) against real node
and nats-server processes on this machine, or reads steps typed at a prompt. Every
scenario ends with the history checkers; a failed expectation or check exits 1.

  --seed N          workload choices (default: random, printed so a run can be repeated)
  --http-port P     node i listens on P+i-1 (default: free ports)
`;

/** Line input for the prompt and the interactive demo: resolves null at end of input. */
export interface LineInput {
  readLine(prompt: string): Promise<string | null>;
  close(): void;
}

export interface HarnessIo {
  readonly out: Output;
  readonly err: (text: string) => void;
  /** A terminal prompt when stdin is one (or a pipe of lines). */
  lines(): LineInput;
}

export interface ParsedHarnessArgs {
  readonly seed: number;
  readonly httpPortBase?: number;
  readonly positionals: string[];
}

export function parseHarnessArgs(argv: string[], usage: string, extra: Record<string, { type: "string" | "boolean" }> = {}): ParsedHarnessArgs & { values: Record<string, string | boolean | undefined> } {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: { seed: { type: "string" }, "http-port": { type: "string" }, help: { type: "boolean" }, ...extra },
  });
  const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
  if (!Number.isInteger(seed) || seed < 0) throw new HarnessUsageError(`--seed must be a non-negative integer\n\n${usage}`);
  const port = values["http-port"] === undefined ? undefined : Number(values["http-port"]);
  if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65000)) throw new HarnessUsageError(`--http-port must be a port number\n\n${usage}`);
  return { seed, ...(port !== undefined ? { httpPortBase: port } : {}), positionals, values: values as Record<string, string | boolean | undefined> };
}

export class HarnessUsageError extends Error {
  override readonly name = "HarnessUsageError";
}

export async function runHarnessCommand(argv: string[], io: HarnessIo): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === "--help" || sub === "help" || rest.includes("--help")) {
    io.out.write(HARNESS_USAGE);
    return sub === undefined ? 2 : 0;
  }
  let args: ParsedHarnessArgs;
  try {
    args = parseHarnessArgs(rest, HARNESS_USAGE);
  } catch (error) {
    io.err(`${(error as Error).message}\n`);
    return 2;
  }
  if (sub === "run") {
    if (args.positionals.length === 0) {
      io.err(`name at least one scenario file\n\n${HARNESS_USAGE}`);
      return 2;
    }
    const scenarios: { file: string; steps: LocatedStep[] }[] = [];
    for (const file of args.positionals) {
      try {
        scenarios.push({ file, steps: parseScenarioLocated(await readFile(file, "utf8"), file) });
      } catch (error) {
        io.err(`${error instanceof ScenarioSyntaxError ? error.message : `cannot read ${file}: ${(error as Error).message}`}\n`);
        return 2;
      }
    }
    for (const { file, steps } of scenarios) {
      io.out.write(`\n═══ ${file} (seed ${args.seed}) ═══\n`);
      const code = await runScenario(steps, args, io, { rerun: `concord harness run ${file}` });
      if (code !== 0) return code;
    }
    return 0;
  }
  if (sub === "prompt") return runPrompt(args, io);
  io.err(`unknown harness command '${sub}'\n\n${HARNESS_USAGE}`);
  return 2;
}

/** Run located steps, then the checkers; 0 when every expectation and check held. */
export async function runScenario(
  steps: readonly LocatedStep[],
  args: ParsedHarnessArgs,
  io: HarnessIo,
  options: {
    rerun: string;
    beforeStep?: (step: LocatedStep, runner: ScenarioRunner) => Promise<boolean>;
    /** Two machines: which nodes run here, and the other machine. */
    runner?: Pick<RunnerOptions, "cluster" | "peer">;
  },
): Promise<number> {
  const { beforeStep } = options;
  const board = new StatusBoard(io.out);
  const runner = new ScenarioRunner({ seed: args.seed, board, ...(args.httpPortBase !== undefined ? { httpPortBase: args.httpPortBase } : {}), ...options.runner });
  board.start();
  let lastWasCheck = false;
  try {
    for (const located of steps) {
      if (beforeStep !== undefined && !(await beforeStep(located, runner))) return 130;
      if (located.step.kind !== "say") board.print(`▸ ${formatStep(located.step)}`);
      await runner.run(located.step);
      lastWasCheck = located.step.kind === "check";
    }
    if (!lastWasCheck && runner.hasHistory && runner.running !== null) await runner.check();
    board.print(`\n✓ scenario passed (seed ${args.seed})`);
    return 0;
  } catch (error) {
    reportFailure(board, error, `${options.rerun} --seed ${args.seed}`);
    return 1;
  } finally {
    await board.stop();
    await runner.close();
  }
}

function reportFailure(board: StatusBoard, error: unknown, rerun: string | null): void {
  if (error instanceof StepFailure) {
    board.print(`\n✗ ${error.code}: ${error.message}`);
    if (error.excerpt.length > 0) {
      board.print("  the smallest part of the history that shows it:");
      for (const line of error.excerpt) board.print(`    ${line}`);
    }
  } else {
    board.print(`\n✗ step failed: ${(error as Error).message}`);
  }
  if (rerun !== null) board.print(`  reproduce with: ${rerun}`);
}

/** The interactive prompt: the same steps, typed one at a time. */
async function runPrompt(args: ParsedHarnessArgs, io: HarnessIo): Promise<number> {
  const board = new StatusBoard(io.out);
  const runner = new ScenarioRunner({ seed: args.seed, board, ...(args.httpPortBase !== undefined ? { httpPortBase: args.httpPortBase } : {}) });
  const input = io.lines();
  io.out.write(`concord harness (seed ${args.seed}). Type a step, e.g. "cluster 5", "fail leader", "workload 100", "check"; "quit" ends.\n`);
  let failures = 0;
  try {
    for (let n = 1; ; n++) {
      const line = await input.readLine("harness> ");
      if (line === null || /^\s*(quit|exit)\s*$/.test(line)) break;
      let step: Step | null;
      try {
        step = parseLine(line, "<prompt>", n);
      } catch (error) {
        io.out.write(`${(error as Error).message}\n`);
        continue;
      }
      if (step === null) continue;
      try {
        await runner.run(step);
      } catch (error) {
        failures++;
        reportFailure(board, error, null);
      }
    }
  } finally {
    input.close();
    await board.stop();
    await runner.close();
  }
  return failures === 0 ? 0 : 1;
}
