import { appendFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";

/**
 * Per-proposal stage times for latency breakdowns, off unless CONCORD_TRACE names a
 * directory. Each line is `<µs> <node> <stage> <index> [<detail>]`; times are
 * wall-clock (timeOrigin + performance.now(); Bun's hrtime starts at 0 in each
 * process), comparable across processes, so the files of all nodes merge into one timeline (test/bench/trace-breakdown.ts).
 *
 * Lines are buffered and written on a timer, never on the hot path.
 */
export interface StageTrace {
  readonly enabled: boolean;
  mark(stage: string, index: number, detail?: number | string): void;
  close(): void;
}

const disabled: StageTrace = { enabled: false, mark() {}, close() {} };

/** Wall-clock µs at the resolution of performance.now(): comparable across processes. */
export function nowUs(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

export function stageTrace(nodeId: number, dir: string | undefined = process.env["CONCORD_TRACE"]): StageTrace {
  if (dir === undefined || dir === "") return disabled;
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `node-${nodeId}.trace`);
  let lines: string[] = [];
  const write = () => {
    if (lines.length === 0) return;
    const text = lines.join("\n") + "\n";
    lines = [];
    appendFileSync(path, text);
  };
  const timer = setInterval(write, 2000);
  timer.unref?.();
  return {
    enabled: true,
    mark(stage, index, detail) {
      lines.push(detail === undefined ? `${nowUs()} ${nodeId} ${stage} ${index}` : `${nowUs()} ${nodeId} ${stage} ${index} ${detail}`);
    },
    close() {
      clearInterval(timer);
      write();
    },
  };
}
