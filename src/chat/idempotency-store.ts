import type { SqlConnection } from "../storage/sql-connection.ts";
import { IDEMPOTENCY_RETENTION_INDEXES, PRUNE_EVERY_INDEXES } from "./chat-limits.ts";
import type { ApplyResult, Idempotency } from "./commands.ts";
import { textAt } from "./row-values.ts";

// De-duplication as in the Raft dissertation §6.3: the state machine remembers the
// result of each keyed command, so a retry (say, after the first leader died having
// committed it) returns that result instead of running again. Records are dropped by
// rules that depend only on the log, so every node drops the same ones.

/** The first result of the command with this key, or null if none is remembered. */
export function firstResult(tx: SqlConnection, idempotency: Idempotency): ApplyResult | null {
  const row = tx.get("SELECT result FROM idempotency WHERE account = ? AND key = ?", [idempotency.account, idempotency.key]);
  return row === undefined ? null : (JSON.parse(textAt(row, 0)) as ApplyResult);
}

/**
 * Remember a result. The table's size is bounded by retention alone (one record per
 * index at most, so never more than IDEMPOTENCY_RETENTION_INDEXES + PRUNE_EVERY_INDEXES
 * rows): a per-account cap, enforced here with a DELETE per entry and an index of its
 * own, was a quarter of the cost of applying a message and bounded nothing further.
 */
export function rememberResult(tx: SqlConnection, idempotency: Idempotency, index: number, result: ApplyResult): void {
  tx.run("INSERT INTO idempotency (account, key, idx, result) VALUES (?, ?, ?, ?)", [idempotency.account, idempotency.key, index, JSON.stringify(result)]);
}

/**
 * Drop records written IDEMPOTENCY_RETENTION_INDEXES or more indexes ago. Runs on every
 * PRUNE_EVERY_INDEXES-th index (depends only on the index, so every node prunes alike).
 */
export function pruneIdempotency(tx: SqlConnection, index: number): void {
  const horizon = index - IDEMPOTENCY_RETENTION_INDEXES;
  if (horizon > 0 && index % PRUNE_EVERY_INDEXES === 0) tx.run("DELETE FROM idempotency WHERE idx <= ?", [horizon]);
}
