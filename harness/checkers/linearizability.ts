/**
 * Linearizability of the username register (create / check / delete an account).
 *
 * Each username is an independent register (exists or not), so the history is split by
 * username and each part checked on its own (P-compositionality). Each part is checked
 * with a Wing–Gong search as Porcupine does it: depth-first, linearizing next only an
 * operation invoked before the earliest answer still pending (tried in invocation order,
 * "just in time"), and memoizing (set of linearized operations, register state) pairs
 * already explored. Operations that failed definitely never happened and are ignored;
 * operations of unknown outcome may take effect at any point after their invocation, with
 * any answer, or not at all. The search has a step budget; running out gives an
 * "inconclusive" failure instead of hanging.
 *
 * A violation is shrunk: each answered operation is in turn made "unknown" (which only
 * allows more linearizations); if the part is still not linearizable it stays unknown.
 * The excerpt is the answered operations left: none of them can be dropped.
 */
import { byInvocation, failure, passed, type AccountOperation, type CheckFailure, type CheckResult, type Operation } from "./history.ts";

export interface LinearizabilityOptions {
  /** Search steps allowed per username (each shrinking attempt gets the same). Default 200 000. */
  readonly stepBudget?: number;
  /** Usernames that exist before the history starts. Default: none. */
  readonly initiallyExisting?: ReadonlySet<string>;
}

interface Entry {
  readonly op: AccountOperation;
  readonly invoked: number;
  /** Infinity when the answer is unknown. */
  readonly returned: number;
  /** null: any answer (outcome unknown). */
  readonly result: string | null;
}

type Verdict = "linearizable" | "violation" | "inconclusive";

export function checkLinearizability(history: readonly Operation[], options: LinearizabilityOptions = {}): CheckResult {
  const budget = options.stepBudget ?? 200_000;
  const byName = new Map<string, AccountOperation[]>();
  for (const op of history) {
    if (op.kind !== "createAccount" && op.kind !== "checkAccount" && op.kind !== "deleteAccount") continue;
    if (op.outcome === "fail") continue;
    const list = byName.get(op.input.username);
    if (list === undefined) byName.set(op.input.username, [op]);
    else list.push(op);
  }
  let inconclusive: CheckFailure | null = null;
  for (const [name, ops] of [...byName].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const initial = options.initiallyExisting?.has(name) ?? false;
    const entries = ops.sort(byInvocation).map(toEntry);
    const verdict = search(entries, initial, budget);
    if (verdict === "linearizable") continue;
    if (verdict === "inconclusive") {
      inconclusive ??= {
        ...failure("linearizability.inconclusive", entries.map((e) => e.op), `the search for username "${name}" ran out of its ${budget}-step budget`),
        inconclusive: true,
      };
      continue;
    }
    const excerpt = shrink(entries, initial, budget);
    return failure(
      "linearizability.register",
      excerpt,
      `the operations on username "${name}" have no linearization (initially ${initial ? "existing" : "missing"}); these ${excerpt.length} answered operations alone show it`,
    );
  }
  return inconclusive ?? passed;
}

function toEntry(op: AccountOperation): Entry {
  const answered = op.outcome === "ok" && op.output !== null && op.completedAtMs !== null;
  return {
    op,
    invoked: op.invokedAtMs,
    returned: answered && op.completedAtMs !== null ? op.completedAtMs : Infinity,
    result: answered && op.output !== null ? op.output.result : null,
  };
}

/** Applies an operation to the register: the new state, or null if `result` is impossible. */
function step(exists: boolean, entry: Entry): boolean | null {
  let next: boolean;
  let result: string;
  switch (entry.op.kind) {
    case "createAccount":
      [next, result] = exists ? [true, "taken"] : [true, "ok"];
      break;
    case "checkAccount":
      [next, result] = [exists, exists ? "exists" : "missing"];
      break;
    case "deleteAccount":
      [next, result] = exists ? [false, "ok"] : [false, "missing"];
      break;
  }
  return entry.result === null || entry.result === result ? next : null;
}

/** Wing–Gong search with memoization; `entries` sorted by invocation. */
function search(all: readonly Entry[], initial: boolean, budget: number): Verdict {
  // A check of unknown outcome neither changes the register nor constrains anything.
  const entries = all.filter((e) => e.result !== null || e.op.kind !== "checkAccount");
  const n = entries.length;
  const required = entries.filter((e) => e.result !== null).length;
  const seen = new Set<string>();
  let steps = 0;

  // Iterative DFS; each frame is a state and the index of the next candidate to try.
  interface Frame {
    readonly done: bigint;
    readonly exists: boolean;
    readonly answered: number;
    next: number;
    readonly limit: number;
  }
  const frameFor = (done: bigint, exists: boolean, answered: number): Frame => {
    // Only operations invoked before the earliest pending answer may go next.
    let limit = Infinity;
    for (let i = 0; i < n; i++) {
      const e = entries[i];
      if (e !== undefined && (done & (1n << BigInt(i))) === 0n && e.returned < limit) limit = e.returned;
    }
    return { done, exists, answered, next: 0, limit };
  };
  const stack: Frame[] = [frameFor(0n, initial, 0)];
  seen.add(`0:${initial}`);
  while (stack.length > 0) {
    const frame = stack[stack.length - 1];
    if (frame === undefined) break;
    if (frame.answered === required) return "linearizable";
    if (++steps > budget) return "inconclusive";
    let pushed = false;
    while (frame.next < n) {
      const i = frame.next++;
      const e = entries[i];
      if (e === undefined) continue;
      if (e.invoked > frame.limit) break; // sorted by invocation: no later candidate fits
      const bit = 1n << BigInt(i);
      if ((frame.done & bit) !== 0n) continue;
      const next = step(frame.exists, e);
      if (next === null) continue;
      const done = frame.done | bit;
      const key = `${done.toString(36)}:${next}`;
      if (seen.has(key)) continue;
      seen.add(key);
      stack.push(frameFor(done, next, frame.answered + (e.result !== null ? 1 : 0)));
      pushed = true;
      break;
    }
    if (!pushed) stack.pop();
  }
  return "violation";
}

function shrink(entries: readonly Entry[], initial: boolean, budget: number): AccountOperation[] {
  let current = [...entries];
  for (let i = 0; i < current.length; i++) {
    const e = current[i];
    if (e === undefined || e.result === null) continue;
    const weakened = current.map((x, j) => (j === i ? { ...x, returned: Infinity, result: null } : x));
    if (search(weakened, initial, budget) === "violation") current = weakened;
  }
  return current.filter((e) => e.result !== null).map((e) => e.op);
}
