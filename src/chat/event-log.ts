import type { SqlConnection } from "../storage/sql-connection.ts";
import { EVENT_RETENTION_INDEXES, PRUNE_EVERY_INDEXES } from "./chat-limits.ts";

// The events table is the SSE replay store: a client reconnecting anywhere with
// Last-Event-ID reads what it missed from here. It is replicated state like any other,
// so everything below runs inside apply and depends only on the log. New events are
// written by DeferredRows (chat-state-machine.ts), many per statement.

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

/**
 * Forget the `message` events of deleted messages: a message is created by the entry
 * whose index is its id, so its events sit at that index. Deleted means gone, from the
 * replay store too.
 */
export function forgetMessageEvents(tx: SqlConnection, ids: readonly number[]): void {
  if (ids.length === 0) return;
  tx.run("DELETE FROM events WHERE type = 'message' AND idx IN (SELECT value FROM json_each(?))", [JSON.stringify(ids)]);
}

/** Like forgetMessageEvents, for every message `account` received (its deletion takes them). */
export function forgetReceivedMessageEvents(tx: SqlConnection, account: string): void {
  tx.run("DELETE FROM events WHERE type = 'message' AND idx IN (SELECT id FROM messages WHERE recipient = ?)", [account]);
}

/** A deleted account's stream goes with it (a new account of the same name must not replay it). */
export function forgetAccountEvents(tx: SqlConnection, account: string): void {
  tx.run("DELETE FROM events WHERE account = ?", [account]);
}
