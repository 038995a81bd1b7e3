// The real terminal behind `concord harness` and `concord demo`: stdout, stderr and
// stdin lines. Kept apart so tests drive the commands with in-memory input and output.
import { createInterface } from "node:readline";
import type { HarnessIo, LineInput } from "./harness-command.ts";

export function processHarnessIo(): HarnessIo {
  return {
    out: { isTTY: process.stdout.isTTY === true, write: (text) => void process.stdout.write(text) },
    err: (text) => void process.stderr.write(text),
    lines: () => stdinLines(),
  };
}

/** Lines of stdin, one per call; null once stdin ends. */
function stdinLines(): LineInput {
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: process.stdin.isTTY === true });
  const queued: string[] = [];
  let waiting: ((line: string | null) => void) | null = null;
  let ended = false;
  rl.on("line", (line) => {
    if (waiting !== null) {
      const resolve = waiting;
      waiting = null;
      resolve(line);
    } else queued.push(line);
  });
  rl.on("close", () => {
    ended = true;
    waiting?.(null);
    waiting = null;
  });
  return {
    readLine: (prompt) => {
      const next = queued.shift();
      if (next !== undefined) return Promise.resolve(next);
      if (ended) return Promise.resolve(null);
      if (process.stdin.isTTY === true) process.stdout.write(prompt);
      return new Promise((resolve) => (waiting = resolve));
    },
    close: () => rl.close(),
  };
}
