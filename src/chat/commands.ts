// The replicated chat commands. Each carries everything `apply` needs, so every node
// computes the same state: hashed passwords (never plain text), the account it acts
// for, and the client's idempotency key. The leader's clock reaches apply as
// `leaderTimeMs` beside the command (see command-codec.ts), not inside it.

export interface Idempotency {
  /** The account the key is scoped to (for createAccount, the new username). */
  readonly account: string;
  /** The client's Idempotency-Key header (1-64 chars). */
  readonly key: string;
  /**
   * Hex SHA-256 of the request the key came with (the API's requestDigest): a retry whose
   * digest differs is refused with idempotency_key_mismatch instead of getting the first
   * result. Absent in entries written before digests existed.
   */
  readonly digest?: string;
}

export type ChatCommand =
  | { readonly type: "createAccount"; readonly username: string; readonly passwordHash: string; readonly idempotency?: Idempotency }
  | { readonly type: "deleteAccount"; readonly username: string; readonly idempotency?: Idempotency }
  /** Login: the session is replicated, so the token works on every node. Only a hash of the token is stored. */
  | { readonly type: "createSession"; readonly username: string; readonly tokenHash: string; readonly idempotency?: Idempotency }
  /** Logout (one token) or every session of an account. */
  | { readonly type: "revokeSessions"; readonly username: string; readonly tokenHash: string | null; readonly idempotency?: Idempotency }
  /** The session was used: its idle lifetime starts again at this entry's leader time. */
  | { readonly type: "touchSession"; readonly username: string; readonly tokenHash: string; readonly idempotency?: Idempotency }
  /**
   * A new password (hashed by the API after it checked the old one); every other session
   * of the account ends. `keepTokenHash` is the session that asked (null: end them all).
   */
  | { readonly type: "changePassword"; readonly username: string; readonly passwordHash: string; readonly keepTokenHash: string | null; readonly idempotency?: Idempotency }
  | { readonly type: "sendMessage"; readonly from: string; readonly to: string; readonly content: string; readonly idempotency?: Idempotency }
  | {
      readonly type: "markRead";
      readonly username: string;
      /** Either explicit ids, or every message from `with` up to `upTo` (inclusive). */
      readonly ids: readonly number[] | null;
      readonly with: string | null;
      readonly upTo: number | null;
      readonly idempotency?: Idempotency;
    }
  | { readonly type: "deleteMessages"; readonly username: string; readonly ids: readonly number[]; readonly idempotency?: Idempotency };

export type ChatCommandType = ChatCommand["type"];

/** A message as the API shows it. */
export interface ChatMessage {
  readonly id: number;
  readonly from: string;
  /** The sender's account was deleted; `from` is the name it had. */
  readonly fromDeleted: boolean;
  readonly to: string;
  readonly content: string;
  readonly sentAt: string;
  readonly readAt: string | null;
}

export interface AccountView {
  readonly username: string;
  readonly createdAt: string;
}

/**
 * What applying a command returned to its proposer. Expected refusals are results with
 * a stable code (they are deterministic outcomes of the log, the same on every node),
 * not exceptions.
 */
export type ApplyResult =
  | { readonly ok: true; readonly type: "accountCreated"; readonly account: AccountView }
  | { readonly ok: true; readonly type: "accountDeleted"; readonly username: string }
  | { readonly ok: true; readonly type: "sessionCreated"; readonly username: string; readonly unread: number }
  | { readonly ok: true; readonly type: "sessionsRevoked"; readonly count: number }
  | { readonly ok: true; readonly type: "sessionTouched"; readonly touched: boolean }
  | { readonly ok: true; readonly type: "passwordChanged"; readonly revoked: number }
  | { readonly ok: true; readonly type: "messageSent"; readonly message: ChatMessage }
  | { readonly ok: true; readonly type: "messagesMarked"; readonly marked: number; readonly ids: readonly number[] }
  | { readonly ok: true; readonly type: "messagesDeleted"; readonly deleted: readonly number[]; readonly notFound: readonly number[] }
  | { readonly ok: false; readonly code: ChatErrorCode; readonly message: string };

export type ChatErrorCode = "username_taken" | "no_such_account" | "no_such_recipient" | "no_such_session" | "invalid_command" | "idempotency_key_mismatch";

/** An event for the accounts it concerns; `index` is the log index that produced it (the SSE id). */
export type ChatEvent =
  | { readonly index: number; readonly account: string; readonly type: "message"; readonly data: ChatMessage }
  | { readonly index: number; readonly account: string; readonly type: "messages_deleted"; readonly data: { readonly ids: readonly number[] } }
  | { readonly index: number; readonly account: string; readonly type: "messages_read"; readonly data: { readonly ids: readonly number[]; readonly by: string } }
  | { readonly index: number; readonly account: string; readonly type: "account_deleted"; readonly data: { readonly username: string } };
