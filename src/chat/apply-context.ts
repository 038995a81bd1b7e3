import type { SqlConnection } from "../storage/sql-connection.ts";
import type { ApplyResult, ChatCommand, ChatCommandType, ChatErrorCode, ChatEvent } from "./commands.ts";

/** An event before it is tied to the entry that produced it. */
export type EventBody = ChatEvent extends infer E ? (E extends ChatEvent ? Omit<E, "index"> : never) : never;

export type CommandOf<T extends ChatCommandType> = Extract<ChatCommand, { type: T }>;

/** What a command handler gets: the apply transaction and the entry it is applying. */
export interface ApplyContext {
  /** The writer connection, inside the batch's transaction. */
  readonly tx: SqlConnection;
  /** The entry's log index: message ids and every ordering come from it. */
  readonly index: number;
  /** The proposing leader's clock, ISO 8601; apply never reads the local clock. */
  readonly time: string;
  /**
   * Tell an account about this entry. Handlers send each account at most one event per
   * entry, so an SSE id (the log index) names one event per stream.
   */
  emit(event: EventBody): void;
  /**
   * Insert a message row, possibly later in the same transaction (with others, as one
   * statement). Only sendMessage uses it; every other command sees the rows written
   * before it runs.
   */
  insertMessage(row: MessageRow): void;
  /** Which accounts exist, remembered across entries (see KnownAccounts). */
  readonly accounts: KnownAccounts;
}

/** A new message's columns: id, sender, recipient, content, sent_at (read_at NULL, sender_deleted 0). */
export type MessageRow = readonly [id: number, sender: string, recipient: string, content: string, sentAt: string];

export function refusal(code: ChatErrorCode, message: string): ApplyResult {
  return { ok: false, code, message };
}

/** Names remembered at most; past it the memory starts over. */
const KNOWN_ACCOUNTS_MAX = 100_000;

/**
 * Accounts known to exist, so that sending a message need not look both names up. Only
 * deleteAccount removes an account: it forgets the name here in the same apply. A rolled
 * back batch or a restored snapshot forgets everything (ChatStateMachine.abortBatch).
 * It answers exactly as the table would, so apply stays a function of the log.
 */
export class KnownAccounts {
  private readonly known = new Set<string>();

  /** Whether each of two usernames has an account. */
  exist(tx: SqlConnection, a: string, b: string): [boolean, boolean] {
    const known = this.known;
    if (known.has(a) && known.has(b)) return [true, true];
    const found = new Set(tx.all("SELECT username FROM accounts WHERE username IN (?, ?)", [a, b]).map((row) => String(row[0])));
    if (known.size + found.size > KNOWN_ACCOUNTS_MAX) known.clear();
    for (const name of found) known.add(name);
    return [found.has(a), found.has(b)];
  }

  forget(username: string): void {
    this.known.delete(username);
  }

  clear(): void {
    this.known.clear();
  }
}

export function accountExists(tx: SqlConnection, username: string): boolean {
  return tx.get("SELECT 1 FROM accounts WHERE username = ?", [username]) !== undefined;
}
