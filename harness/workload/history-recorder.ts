import type { Operation, Outcome } from "../checkers/history.ts";

type Kind = Operation["kind"];
type InputOf<K extends Kind> = Extract<Operation, { kind: K }>["input"];
type OutputOf<K extends Kind> = NonNullable<Extract<Operation, { kind: K }>["output"]>;

/** One operation in flight: settle it exactly once with what came back. */
export interface PendingOperation<K extends Kind> {
  ok(output: OutputOf<K>): void;
  /** It definitely did not take effect. */
  fail(): void;
  /** It may or may not have taken effect. */
  unknown(): void;
}

/** The most operations one scenario records; past it the run stops with an error. */
export const MAX_RECORDED_OPERATIONS = 1_000_000;

/**
 * Records every workload operation's invocation and outcome on one clock shared by the
 * whole harness (ms since the recorder was made), in the shape the checkers read.
 */
export class HistoryRecorder {
  private readonly operations: Operation[] = [];
  private readonly originMs = performance.now();
  private nextId = 1;

  nowMs(): number {
    return Math.round((performance.now() - this.originMs) * 1000) / 1000;
  }

  get size(): number {
    return this.operations.length;
  }

  history(): readonly Operation[] {
    return this.operations;
  }

  begin<K extends Kind>(kind: K, client: string, input: InputOf<K>): PendingOperation<K> {
    if (this.nextId > MAX_RECORDED_OPERATIONS) throw new RangeError(`a scenario records at most ${MAX_RECORDED_OPERATIONS} operations`);
    const id = this.nextId++;
    const invokedAtMs = this.nowMs();
    let settled = false;
    const settle = (outcome: Outcome, output: unknown) => {
      if (settled) throw new Error(`operation ${id} settled twice`);
      settled = true;
      const completedAtMs = outcome === "unknown" ? null : this.nowMs();
      this.operations.push({ id, client, kind, invokedAtMs, completedAtMs, outcome, input, output } as Operation);
    };
    return {
      ok: (output) => settle("ok", output),
      fail: () => settle("fail", null),
      unknown: () => settle("unknown", null),
    };
  }
}
