import { ConcordClient } from "../../src/client/concord-client.ts";
import { checkConvergence, checkHistory, type CheckFailure, type NodeDigest, type Operation } from "../checkers/index.ts";
import type { ClusterView, LocalCluster } from "../cluster/local-cluster.ts";
import type { HistoryRecorder } from "../workload/history-recorder.ts";
import { readAll, type ChatWorkload } from "../workload/chat-workload.ts";

const CONVERGE_TIMEOUT_MS = 30_000;
const READ_DEADLINE_MS = 10_000;

export interface FinalCheckResult {
  readonly ok: boolean;
  readonly summary: string;
  /** Lines that show the violation (empty when ok). */
  readonly excerpt: readonly string[];
}

/**
 * The `check` step: wait until every answering node has applied the same index, compare
 * their state digests, read every conversation the workload wrote to from every node
 * (recorded as reads, so "lost", "stale" and "order" checks see them), then run every
 * history checker.
 */
export async function runFinalCheck(cluster: LocalCluster, recorder: HistoryRecorder, workload: ChatWorkload): Promise<FinalCheckResult> {
  let views: ClusterView[];
  try {
    views = await convergedViews(cluster);
  } catch (error) {
    return { ok: false, summary: `convergence: ${(error as Error).message}`, excerpt: [] };
  }
  const digests: NodeDigest[] = views.map((v) => ({ nodeId: `node ${v.nodeId}`, appliedIndex: v.stateDigest.index, digest: v.stateDigest.digest }));
  const convergence = checkConvergence(digests);
  if (!convergence.ok) return { ok: false, summary: `${convergence.rule}: ${convergence.message}`, excerpt: convergence.excerpt.map((d) => `${d.nodeId} applied ${d.appliedIndex} digest ${d.digest}`) };

  await finalReads(cluster, recorder, workload, views.map((v) => v.nodeId));
  const history = recorder.history();
  const result = checkHistory(history);
  const counts = countKinds(history);
  if (result.ok) {
    return { ok: true, summary: `${views.length} nodes agree at index ${views[0]?.appliedIndex ?? 0}; ${history.length} operations (${counts}) check out: no lost or duplicated write, no stale read, one order per conversation, linearizable usernames`, excerpt: [] };
  }
  return { ok: false, summary: describeFailure(result), excerpt: result.excerpt.map(formatOperation) };
}

/** Poll (other processes' state has no event here) until the answering nodes agree on an applied index. */
async function convergedViews(cluster: LocalCluster): Promise<ClusterView[]> {
  return cluster.waitFor(
    "the answering nodes to apply the same index",
    async () => {
      const views = await cluster.answering();
      if (views.length === 0) return undefined;
      const commit = Math.max(...views.map((v) => v.commitIndex));
      const settled = views.every((v) => v.appliedIndex === commit && v.stateDigest.index === v.appliedIndex);
      return settled ? views : undefined;
    },
    CONVERGE_TIMEOUT_MS,
  );
}

/** Each conversation the workload may have written, read by one of its accounts on every node. */
async function finalReads(cluster: LocalCluster, recorder: HistoryRecorder, workload: ChatWorkload, nodeIds: readonly number[]): Promise<void> {
  const pairs = new Map<string, [string, string]>();
  for (const op of recorder.history()) {
    if (op.kind !== "send" || op.outcome === "fail") continue;
    const [a, b] = [op.input.from, op.input.to].sort() as [string, string];
    pairs.set(`${a} ${b}`, [a, b]);
  }
  const tokens = new Map(workload.messageAccounts().map((a) => [a.username, a.token]));
  for (const id of nodeIds) {
    const url = cluster.urls.get(id);
    if (url === undefined) continue;
    await Promise.all(
      [...pairs.values()].map(async ([account, peer]) => {
        const token = tokens.get(account);
        if (token === undefined || token === null) return;
        const client = new ConcordClient({ nodes: [url], token, deadlineMs: READ_DEADLINE_MS, requestTimeoutMs: READ_DEADLINE_MS });
        const op = recorder.begin("read", `check@node${id}`, { account, peer });
        try {
          op.ok({ messages: await readAll((before) => client.conversation(peer, { limit: 200, ...before })) });
        } catch {
          op.fail();
        }
      }),
    );
  }
}

function countKinds(history: readonly Operation[]): string {
  const counts = new Map<string, number>();
  for (const op of history) counts.set(op.kind, (counts.get(op.kind) ?? 0) + 1);
  return [...counts].map(([kind, n]) => `${n} ${kind}`).join(", ");
}

function describeFailure(failure: CheckFailure): string {
  return `${failure.inconclusive === true ? "inconclusive" : "violation"} ${failure.rule}: ${failure.message}`;
}

/** One operation as an excerpt line: id, client, what, answer, when. */
export function formatOperation(op: Operation): string {
  const when = `[${op.invokedAtMs.toFixed(1)} → ${op.completedAtMs === null ? "?" : op.completedAtMs.toFixed(1)} ms]`;
  const answer = op.outcome !== "ok" ? op.outcome : JSON.stringify(op.output, (key, value: unknown) => (key === "messages" && Array.isArray(value) ? value.map((m: { id: number }) => m.id) : value));
  return `#${op.id} ${op.client} ${op.kind} ${JSON.stringify(op.input)} → ${answer} ${when}`;
}
