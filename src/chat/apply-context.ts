import type { Transaction } from "@libsql/client";
import type { ApplyResult, ChatCommand, ChatCommandType, ChatErrorCode, ChatEvent } from "./commands.ts";

/** An event before it is tied to the entry that produced it. */
export type EventBody = ChatEvent extends infer E ? (E extends ChatEvent ? Omit<E, "index"> : never) : never;

export type CommandOf<T extends ChatCommandType> = Extract<ChatCommand, { type: T }>;

/** What a command handler gets: the apply transaction and the entry it is applying. */
export interface ApplyContext {
  readonly tx: Transaction;
  /** The entry's log index: message ids and every ordering come from it. */
  readonly index: number;
  /** The proposing leader's clock, ISO 8601; apply never reads the local clock. */
  readonly time: string;
  /**
   * Tell an account about this entry. Handlers send each account at most one event per
   * entry, so an SSE id (the log index) names one event per stream.
   */
  emit(event: EventBody): void;
}

export type CommandHandler<T extends ChatCommandType> = (context: ApplyContext, command: CommandOf<T>) => Promise<ApplyResult>;

export function refusal(code: ChatErrorCode, message: string): ApplyResult {
  return { ok: false, code, message };
}

/** Which of these usernames have accounts (one query for several). */
export async function existingAccounts(tx: Transaction, usernames: readonly string[]): Promise<Set<string>> {
  const rows = await tx.execute({ sql: `SELECT username FROM accounts WHERE username IN (${usernames.map(() => "?").join(",")})`, args: [...usernames] });
  return new Set(rows.rows.map((row) => String(row[0])));
}

export async function accountExists(tx: Transaction, username: string): Promise<boolean> {
  const rows = await tx.execute({ sql: "SELECT 1 FROM accounts WHERE username = ?", args: [username] });
  return rows.rows.length > 0;
}
