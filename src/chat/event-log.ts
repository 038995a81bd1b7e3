import type { Transaction } from "@libsql/client";
import type { EventBody } from "./apply-context.ts";
import { EVENT_RETENTION_INDEXES, PRUNE_EVERY_INDEXES } from "./chat-limits.ts";
import type { ChatEvent } from "./commands.ts";

// The events table is the SSE replay store: a client reconnecting anywhere with
// Last-Event-ID reads what it missed from here. It is replicated state like any other,
// so everything below runs inside apply and depends only on the log.

/** Store an entry's events, in emission order, and return them tied to the entry. */
export async function writeEvents(tx: Transaction, index: number, bodies: readonly EventBody[]): Promise<ChatEvent[]> {
  if (bodies.length === 0) return [];
  await tx.batch(
    bodies.map((body, seq) => ({
      sql: "INSERT INTO events (idx, seq, account, type, data) VALUES (?, ?, ?, ?, ?)",
      args: [index, seq, body.account, body.type, JSON.stringify(body.data)],
    })),
  );
  return bodies.map((body) => ({ index, ...body }) as ChatEvent);
}

/**
 * Keep (at least) the events of the last EVENT_RETENTION_INDEXES log indexes. It runs
 * on every PRUNE_EVERY_INDEXES-th index rather than every entry (a statement per entry
 * was a large share of apply): after applying index i everything above i - N is kept,
 * and nothing at or below i - N - PRUNE_EVERY_INDEXES is (see LibsqlChatQueries.eventsAfter).
 */
export async function pruneEvents(tx: Transaction, index: number): Promise<void> {
  const horizon = index - EVENT_RETENTION_INDEXES;
  if (horizon > 0 && index % PRUNE_EVERY_INDEXES === 0) await tx.execute({ sql: "DELETE FROM events WHERE idx <= ?", args: [horizon] });
}

/**
 * Forget the `message` events of deleted messages: a message is created by the entry
 * whose index is its id, so its events sit at that index. Deleted means gone, from the
 * replay store too.
 */
export async function forgetMessageEvents(tx: Transaction, ids: readonly number[]): Promise<void> {
  if (ids.length === 0) return;
  await tx.execute({ sql: "DELETE FROM events WHERE type = 'message' AND idx IN (SELECT value FROM json_each(?))", args: [JSON.stringify(ids)] });
}

/** Like forgetMessageEvents, for every message `account` received (its deletion takes them). */
export async function forgetReceivedMessageEvents(tx: Transaction, account: string): Promise<void> {
  await tx.execute({ sql: "DELETE FROM events WHERE type = 'message' AND idx IN (SELECT id FROM messages WHERE recipient = ?)", args: [account] });
}

/** A deleted account's stream goes with it (a new account of the same name must not replay it). */
export async function forgetAccountEvents(tx: Transaction, account: string): Promise<void> {
  await tx.execute({ sql: "DELETE FROM events WHERE account = ?", args: [account] });
}
