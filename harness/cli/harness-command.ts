import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { formatStep, parseLine, parseScenarioLocated } from "../scenario/parse.ts";
import { ScenarioSyntaxError, type LocatedStep, type Step } from "../scenario/steps.ts";
import { ScenarioRunner, StepFailure, type RunnerOptions } from "../runner/scenario-runner.ts";
import { StatusBoard, type Output } from "../runner/status-board.ts";
import { EXIT, type ExitCode } from "../../src/cli/exit-codes.ts";
import { wantsHelp } from "../../src/cli/help-flag.ts";
import { NatsServerMissingError } from "../../src/cli/nats-server-process.ts";

const HARNESS_OPTIONS = `  --seed N          workload choices (default: random, printed so a run can be repeated)
  --http-port P     node i listens on P+i-1 (default: free ports)
`;

/** The harness's rows of exit-codes.ts (concord --help has them all). */
const HARNESS_EXIT_STATUS = `exit status: 0 every expectation and check held, 7 a checker found a violation or an
expectation failed, 1 a step could not run, 2 usage or a scenario syntax error,
4 nats-server is missing
`;

export const HARNESS_USAGE = `usage: concord harness run FILE.scn [FILE.scn …] [--seed N]
       concord harness prompt [--seed N]

Runs scenario files (the step language of shared/design/HARNESS.md) against real node
and nats-server processes on this machine, or reads steps typed at a prompt. Every
scenario ends with the history checkers. concord harness <run|prompt> --help: one
command's usage.

${HARNESS_OPTIONS}
${HARNESS_EXIT_STATUS}`;

const RUN_USAGE = `usage: concord harness run FILE.scn [FILE.scn …] [--seed N] [--http-port P]

Runs each scenario file in turn against real node and nats-server processes on this
machine, then the history checkers (no acknowledged message lost or duplicated, equal
state digests, linearizable usernames, no stale read, one order per conversation).
Stops at the first scenario that fails, printing the smallest history excerpt that
shows it and the command (with --seed) that reproduces it.

${HARNESS_OPTIONS}
${HARNESS_EXIT_STATUS}`;

const PROMPT_USAGE = `usage: concord harness prompt [--seed N] [--http-port P]

Reads steps typed at a prompt ("cluster 5", "fail leader", "partition 1,2 | 3,4,5",
"workload 100", "check", "status"; "quit" ends) and runs each at once. A failed step is
reported and the prompt goes on; the exit status says whether any failed.

${HARNESS_OPTIONS}
${HARNESS_EXIT_STATUS}`;

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
  if (sub === "help" || wantsHelp(argv)) {
    const topic = sub === "help" ? rest[0] : sub;
    io.out.write(topic === "run" ? RUN_USAGE : topic === "prompt" ? PROMPT_USAGE : HARNESS_USAGE);
    return EXIT.ok;
  }
  if (sub === undefined) {
    io.err(`which harness command?\n\n${HARNESS_USAGE}`);
    return EXIT.usage;
  }
  let args: ParsedHarnessArgs;
  try {
    args = parseHarnessArgs(rest, sub === "prompt" ? PROMPT_USAGE : RUN_USAGE);
  } catch (error) {
    io.err(`${(error as Error).message}\n`);
    return EXIT.usage;
  }
  if (sub === "run") {
    if (args.positionals.length === 0) {
      io.err(`name at least one scenario file\n\n${RUN_USAGE}`);
      return EXIT.usage;
    }
    const scenarios: { file: string; steps: LocatedStep[] }[] = [];
    for (const file of args.positionals) {
      try {
        scenarios.push({ file, steps: parseScenarioLocated(await readFile(file, "utf8"), file) });
      } catch (error) {
        io.err(`${error instanceof ScenarioSyntaxError ? error.message : `cannot read ${file}: ${(error as Error).message}`}\n`);
        return EXIT.usage;
      }
    }
    for (const { file, steps } of scenarios) {
      io.out.write(`\n═══ ${file} (seed ${args.seed}) ═══\n`);
      const code = await runScenario(steps, args, io, { rerun: `concord harness run ${file}` });
      if (code !== EXIT.ok) return code;
    }
    return EXIT.ok;
  }
  if (sub === "prompt") return runPrompt(args, io);
  io.err(`unknown harness command '${sub}'\n\n${HARNESS_USAGE}`);
  return EXIT.usage;
}

/**
 * What a failed step means for the exit code: a violation the checkers or an expectation
 * found (7) is the harness doing its job, unlike a step that could not run (1).
 */
export function exitCodeOfStepError(error: unknown): ExitCode {
  if (error instanceof StepFailure && (error.code === "check_failed" || error.code === "expectation_failed")) return EXIT.checkFailed;
  if (error instanceof NatsServerMissingError) return EXIT.missingDependency;
  return EXIT.failed;
}

/** Run located steps, then the checkers; 0 when every expectation and check held (else exitCodeOfStepError). */
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
): Promise<ExitCode> {
  const { beforeStep } = options;
  const board = new StatusBoard(io.out);
  const runner = new ScenarioRunner({ seed: args.seed, board, ...(args.httpPortBase !== undefined ? { httpPortBase: args.httpPortBase } : {}), ...options.runner });
  board.start();
  let lastWasCheck = false;
  try {
    for (const located of steps) {
      if (beforeStep !== undefined && !(await beforeStep(located, runner))) return EXIT.interrupted;
      if (located.step.kind !== "say") board.print(`▸ ${formatStep(located.step)}`);
      await runner.run(located.step);
      lastWasCheck = located.step.kind === "check";
    }
    if (!lastWasCheck && runner.hasHistory && runner.running !== null) await runner.check();
    board.print(`\n✓ scenario passed (seed ${args.seed})`);
    return EXIT.ok;
  } catch (error) {
    reportFailure(board, error, `${options.rerun} --seed ${args.seed}`);
    return exitCodeOfStepError(error);
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
  let worst: ExitCode = EXIT.ok;
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
        // A violation outranks a step that could not run: it is what the session was for.
        const code = exitCodeOfStepError(error);
        if (worst !== EXIT.checkFailed) worst = code;
        reportFailure(board, error, null);
      }
    }
  } finally {
    input.close();
    await board.stop();
    await runner.close();
  }
  return worst;
}
