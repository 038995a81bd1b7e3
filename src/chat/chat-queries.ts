import type { AccountView, ChatEvent, ChatMessage } from "./commands.ts";

/** A page of accounts, sorted by username. */
export interface AccountPage {
  readonly accounts: readonly AccountView[];
  /**
   * How many accounts match the pattern, counted up to ACCOUNT_TOTAL_MAX: when more match,
   * `total` is ACCOUNT_TOTAL_MAX and `totalCapped` is true ("1000+").
   */
  readonly total: number;
  readonly totalCapped: boolean;
  /** Pass as `cursor` for the next page; null on the last page. */
  readonly nextCursor: string | null;
}

/** A page of messages, newest first. */
export interface MessagePage {
  readonly messages: readonly ChatMessage[];
  /** Pass as `before` for older messages; null when there are none. */
  readonly nextBefore: number | null;
}

/** A session as stored: whose it is and the leader times its lifetimes are judged by. */
export interface SessionRecord {
  readonly account: string;
  /** ISO 8601: the login. */
  readonly createdAt: string;
  /** ISO 8601: the last touchSession, or the login; null for sessions older than lifetimes. */
  readonly lastSeenAt: string | null;
}

export interface Conversation {
  readonly with: string;
  readonly lastMessage: ChatMessage;
  readonly unread: number;
}

export interface EventsAfter {
  readonly events: readonly ChatEvent[];
  /** False when events after `afterIndex` were already pruned: the client must refetch. */
  readonly complete: boolean;
}

/**
 * Reads of the local copy of the chat state. Callers that need linearizable answers
 * run a read barrier first (the API does, unless ?consistency=local).
 */
export interface ChatQueries {
  account(username: string): Promise<AccountView | null>;
  /** The stored slow hash, for login; null for an unknown account. */
  passwordHash(username: string): Promise<string | null>;
  /** `pattern` is a glob with `*` and `?` only (other characters are literal). */
  listAccounts(pattern: string, limit: number, cursor: string | null): Promise<AccountPage>;
  /** Who a session token (by its hash) belongs to, or null when unknown or revoked. */
  sessionAccount(tokenHash: string): Promise<string | null>;
  /** The stored session behind a token hash, or null when unknown or revoked (expiry is the caller's to judge). */
  session(tokenHash: string): Promise<SessionRecord | null>;
  /** Both directions between `username` and `other`, newest first, ids < before. */
  conversation(username: string, other: string, limit: number, before: number | null): Promise<MessagePage>;
  /** Unread messages received by `username`, newest first. */
  unread(username: string, limit: number, before: number | null): Promise<MessagePage>;
  unreadCount(username: string): Promise<number>;
  /** One entry per partner, newest last message first. */
  conversations(username: string): Promise<readonly Conversation[]>;
  /** Events for `account` with index > afterIndex, oldest first, at most `limit`. */
  eventsAfter(account: string, afterIndex: number, limit: number): Promise<EventsAfter>;
}
