import { rowChunks, valuesSql } from "../storage/row-chunks.ts";
import type { SqlConnection, SqlValue } from "../storage/sql-connection.ts";
import type { MessageRow } from "./apply-context.ts";
import type { ChatEvent } from "./commands.ts";

/**
 * New message and event rows of the entries being applied, written together as
 * multi-row INSERTs (a statement per row was most of the cost of applying a message).
 * They are written before any command that could read those tables and at the end of
 * each batch, inside its transaction, so what the tables hold when anything looks is
 * exactly what one statement per row would have left.
 */
export class DeferredRows {
  private messages: MessageRow[] = [];
  /** [idx, seq, account, type, data] */
  private events: (readonly [number, number, string, string, string])[] = [];

  get empty(): boolean {
    return this.messages.length === 0 && this.events.length === 0;
  }

  addMessage(row: MessageRow): void {
    this.messages.push(row);
  }

  /**
   * An entry's events, in emission order (seq is that order). `message` events are not
   * stored: replay reads them from the messages table (event-log.ts).
   */
  addEvents(events: readonly ChatEvent[]): void {
    for (let seq = 0; seq < events.length; seq++) {
      const event = events[seq]!;
      if (event.type === "message") continue;
      this.events.push([event.index, seq, event.account, event.type, JSON.stringify(event.data)]);
    }
  }

  /** Forget rows of `index` and later (their transaction rolled back; they are applied again). */
  dropFrom(index: number): void {
    while ((this.messages[this.messages.length - 1]?.[0] ?? -1) >= index) this.messages.pop();
    while ((this.events[this.events.length - 1]?.[0] ?? -1) >= index) this.events.pop();
  }

  clear(): void {
    this.messages = [];
    this.events = [];
  }

  write(tx: SqlConnection): void {
    if (this.messages.length > 0) {
      const rows = this.messages;
      this.messages = [];
      for (const [at, count] of rowChunks(rows.length)) {
        const args: SqlValue[] = [];
        for (let i = at; i < at + count; i++) args.push(...rows[i]!);
        tx.run(`INSERT INTO messages (id, sender, recipient, content, sent_at) VALUES ${valuesSql(5, count)}`, args);
      }
    }
    if (this.events.length > 0) {
      const rows = this.events;
      this.events = [];
      for (const [at, count] of rowChunks(rows.length)) {
        const args: SqlValue[] = [];
        for (let i = at; i < at + count; i++) args.push(...rows[i]!);
        tx.run(`INSERT INTO events (idx, seq, account, type, data) VALUES ${valuesSql(5, count)}`, args);
      }
    }
  }
}
