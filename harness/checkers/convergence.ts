/**
 * Every node that is up ends with the same state: digests of the chat tables, taken on
 * each node at the same applied index, are all equal.
 */
import { failure, passed, type CheckResult } from "./history.ts";

export interface NodeDigest {
  readonly nodeId: string;
  readonly appliedIndex: number;
  readonly digest: string;
}

export function checkConvergence(nodes: readonly NodeDigest[]): CheckResult<NodeDigest> {
  const first = nodes[0];
  if (first === undefined) return passed;
  const offIndex = nodes.find((n) => n.appliedIndex !== first.appliedIndex);
  if (offIndex !== undefined) {
    return failure(
      "convergence.index-mismatch",
      [first, offIndex],
      `digests were taken at different applied indexes (${first.nodeId} at ${first.appliedIndex}, ${offIndex.nodeId} at ${offIndex.appliedIndex}); they cannot be compared`,
    );
  }
  // Blame the nodes that differ from the most common digest (ties: the first node's).
  const counts = new Map<string, number>();
  for (const n of nodes) counts.set(n.digest, (counts.get(n.digest) ?? 0) + 1);
  let majority = first.digest;
  for (const [digest, count] of counts) if (count > (counts.get(majority) ?? 0)) majority = digest;
  const reference = nodes.find((n) => n.digest === majority) ?? first;
  const dissenter = nodes.find((n) => n.digest !== majority);
  if (dissenter === undefined) return passed;
  return failure(
    "convergence.divergent",
    [reference, dissenter],
    `at applied index ${first.appliedIndex}, ${dissenter.nodeId} has digest ${dissenter.digest} but ${reference.nodeId} has ${reference.digest}`,
  );
}
