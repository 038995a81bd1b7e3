import type { SqlConnection } from "../storage/sql-connection.ts";
import { IDEMPOTENCY_PER_ACCOUNT_MAX, IDEMPOTENCY_RETENTION_INDEXES, PRUNE_EVERY_INDEXES } from "./chat-limits.ts";
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

/** Remember a result, keeping at most IDEMPOTENCY_PER_ACCOUNT_MAX per account (the newest). */
export function rememberResult(tx: SqlConnection, idempotency: Idempotency, index: number, result: ApplyResult): void {
  tx.run("INSERT INTO idempotency (account, key, idx, result) VALUES (?, ?, ?, ?)", [idempotency.account, idempotency.key, index, JSON.stringify(result)]);
  // Each entry writes at most one record, so idx is unique and "the newest N" is exact.
  // One statement: when fewer than N exist the subquery is NULL and nothing matches.
  tx.run("DELETE FROM idempotency WHERE account = ? AND idx < (SELECT idx FROM idempotency WHERE account = ? ORDER BY idx DESC LIMIT 1 OFFSET ?)", [
    idempotency.account,
    idempotency.account,
    IDEMPOTENCY_PER_ACCOUNT_MAX - 1,
  ]);
}

/**
 * Drop records written IDEMPOTENCY_RETENTION_INDEXES or more indexes ago. Runs on every
 * PRUNE_EVERY_INDEXES-th index (depends only on the index, so every node prunes alike).
 */
export function pruneIdempotency(tx: SqlConnection, index: number): void {
  const horizon = index - IDEMPOTENCY_RETENTION_INDEXES;
  if (horizon > 0 && index % PRUNE_EVERY_INDEXES === 0) tx.run("DELETE FROM idempotency WHERE idx <= ?", [horizon]);
}
