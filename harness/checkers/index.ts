/** Runs every history checker; the first failure wins (inconclusive ones last). */
import { checkLostWrites } from "./lost-writes.ts";
import { checkLinearizability, type LinearizabilityOptions } from "./linearizability.ts";
import { checkOrdering } from "./ordering.ts";
import { checkStaleReads } from "./stale-reads.ts";
import { checkWellFormed, passed, type CheckResult, type Operation } from "./history.ts";

export { checkConvergence, type NodeDigest } from "./convergence.ts";
export { checkLinearizability, checkLostWrites, checkOrdering, checkStaleReads, checkWellFormed };
export type * from "./history.ts";

export function checkHistory(history: readonly Operation[], options: LinearizabilityOptions = {}): CheckResult {
  let inconclusive: CheckResult = passed;
  for (const check of [checkWellFormed, checkLostWrites, checkStaleReads, checkOrdering, (h: readonly Operation[]) => checkLinearizability(h, options)]) {
    const result = check(history);
    if (result.ok) continue;
    if (result.inconclusive !== true) return result;
    inconclusive = result;
  }
  return inconclusive;
}
