import type { SqlConnection } from "../storage/sql-connection.ts";
import { EVENT_RETENTION_INDEXES, PRUNE_EVERY_INDEXES } from "./chat-limits.ts";

// The events table is the SSE replay store: a client reconnecting anywhere with
// Last-Event-ID reads what it missed from here. It is replicated state like any other,
// so everything below runs inside apply and depends only on the log. New events are
// written by DeferredRows (chat-state-machine.ts), many per statement.
//
// `message` events are not stored here: a message's event sits at its id, so replay reads
// them from the messages table (LibsqlChatQueries.eventsAfter), and a deleted message or
// one received by a deleted account is gone from replay with its row. Replay applies the
// same retention to them: see prunedThrough.

/**
 * Keep (at least) the events of the last EVENT_RETENTION_INDEXES log indexes. It runs
 * on every PRUNE_EVERY_INDEXES-th index rather than every entry (a statement per entry
 * was a large share of apply): after applying index i everything above i - N is kept,
 * and nothing at or below i - N - PRUNE_EVERY_INDEXES is (see LibsqlChatQueries.eventsAfter).
 */
export function pruneEvents(tx: SqlConnection, index: number): void {
  const horizon = index - EVENT_RETENTION_INDEXES;
  if (horizon > 0 && index % PRUNE_EVERY_INDEXES === 0) tx.run("DELETE FROM events WHERE idx <= ?", [horizon]);
}

/** A deleted account's stream goes with it (a new account of the same name must not replay it). */
export function forgetAccountEvents(tx: SqlConnection, account: string): void {
  tx.run("DELETE FROM events WHERE account = ?", [account]);
}

/**
 * The highest index whose events retention has dropped at applied index `applied`: the
 * last pruning index at or below it minus the window (0 when none has pruned yet). Every
 * index is applied, so the last pruning index is the last multiple of PRUNE_EVERY_INDEXES.
 * As SQL over state_machine_meta, so a read sees it with the state it reads.
 */
export const PRUNED_THROUGH_SQL = `coalesce((SELECT max(0, (applied_index / ${PRUNE_EVERY_INDEXES}) * ${PRUNE_EVERY_INDEXES} - ${EVENT_RETENTION_INDEXES}) FROM state_machine_meta WHERE singleton = 1), 0)`;
