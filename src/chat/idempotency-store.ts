import type { SqlConnection } from "../storage/sql-connection.ts";
import { IDEMPOTENCY_RECORDS_PER_ACCOUNT_MAX, IDEMPOTENCY_RETENTION_MS, SWEEP_CHUNK_ROWS } from "./chat-limits.ts";
import type { ApplyResult, Idempotency } from "./commands.ts";
import { integerAt, textAt } from "./row-values.ts";

// De-duplication as in the Raft dissertation §6.3: the state machine remembers the
// result of each keyed command, so a retry (say, after the first leader died having
// committed it) returns that result instead of running again. Records are dropped by
// rules that depend only on the log (the entries' leader times and the tables), so every
// node drops the same ones:
//
// - retention: a record is kept at least IDEMPOTENCY_RETENTION_MS of leader time; the
//   sweep (every SWEEP_EVERY_INDEXES-th index, SWEEP_CHUNK_ROWS at most) drops older ones;
// - a cap per account: an account's records are numbered (seq), and writing its n-th drops
//   its (n - IDEMPOTENCY_RECORDS_PER_ACCOUNT_MAX)-th, one point delete, only for accounts
//   at the cap. The table so holds at most the cap per account however fast they write.

/** What a keyed command finds: nothing, the first result, or a different request under the same key. */
export type Remembered = { readonly kind: "none" } | { readonly kind: "first"; readonly result: ApplyResult } | { readonly kind: "mismatch" };

const NONE: Remembered = { kind: "none" };

/**
 * The first result of the command with this key. A record and a command that both carry a
 * request digest must agree on it; records or commands from before digests existed are
 * matched by key alone.
 */
export function firstResult(tx: SqlConnection, idempotency: Idempotency): Remembered {
  const row = tx.get("SELECT result, digest FROM idempotency WHERE account = ? AND key = ?", [idempotency.account, idempotency.key]);
  if (row === undefined) return NONE;
  const stored = row[1];
  if (typeof stored === "string" && idempotency.digest !== undefined && stored !== idempotency.digest) return { kind: "mismatch" };
  return { kind: "first", result: JSON.parse(textAt(row, 0)) as ApplyResult };
}

/** Remember a result, numbered among the account's records; the account's oldest past the cap goes. */
export function rememberResult(tx: SqlConnection, idempotency: Idempotency, index: number, leaderTimeMs: number, result: ApplyResult): void {
  const last = tx.get("SELECT max(seq) FROM idempotency WHERE account = ?", [idempotency.account]);
  const seq = (last === undefined || last[0] === null ? 0 : integerAt(last, 0)) + 1;
  tx.run("INSERT INTO idempotency (account, key, idx, result, at, seq, digest) VALUES (?, ?, ?, ?, ?, ?, ?)", [
    idempotency.account,
    idempotency.key,
    index,
    JSON.stringify(result),
    leaderTimeMs,
    seq,
    idempotency.digest ?? null,
  ]);
  // `<=`, not `=`: records written before numbering existed all carry seq 0.
  if (seq > IDEMPOTENCY_RECORDS_PER_ACCOUNT_MAX) tx.run("DELETE FROM idempotency WHERE account = ? AND seq <= ?", [idempotency.account, seq - IDEMPOTENCY_RECORDS_PER_ACCOUNT_MAX]);
}

/**
 * Drop up to SWEEP_CHUNK_ROWS records older than the retention by this entry's leader
 * time. The caller runs it on sweep indexes only (chat-state-machine.ts). Leader clocks
 * of different terms may disagree; whatever they say, every node reads the same times from
 * the same entries.
 */
export function sweepIdempotency(tx: SqlConnection, leaderTimeMs: number): number {
  return tx.run("DELETE FROM idempotency WHERE rowid IN (SELECT rowid FROM idempotency WHERE at < ? ORDER BY at LIMIT ?)", [leaderTimeMs - IDEMPOTENCY_RETENTION_MS, SWEEP_CHUNK_ROWS]);
}
