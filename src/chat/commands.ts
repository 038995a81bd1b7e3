// The replicated chat commands. Each carries everything `apply` needs, so every node
// computes the same state: hashed passwords (never plain text), the account it acts
// for, and the client's idempotency key. The leader's clock reaches apply as
// `leaderTimeMs` beside the command (see command-codec.ts), not inside it.
//
// The schemas below are the commands' definition: the types are derived from them, and
// the codec decodes with them. They check JSON types and fields only; lengths, charsets
// and ranges are command-validation's, whose refusals name the field at fault.
import { z } from "zod";

/**
 * Any JSON number, as JSON.parse makes it: ±Infinity too (from 1e999), which z.number()
 * refuses. Such an id was always decoded and then refused by command-validation with its
 * own message, which every replica records as the entry's result: it must not change.
 */
const jsonNumber = z.custom<number>((value) => typeof value === "number");
const username = z.string();

// Strict objects: unknown fields are refused rather than ignored. A field this version
// does not know could change what the command means, and applying it half-understood is
// worse. Optional fields are exactOptional: absent, never `undefined`.
export const idempotencySchema = z.strictObject({
  /** The account the key is scoped to (for createAccount, the new username). */
  account: z.string(),
  /** The client's Idempotency-Key header (1-64 chars). */
  key: z.string(),
  /**
   * Hex SHA-256 of the request the key came with (the API's requestDigest): a retry whose
   * digest differs is refused with idempotency_key_mismatch instead of getting the first
   * result. Absent in entries written before digests existed.
   */
  digest: z.string().exactOptional(),
});
const idempotency = idempotencySchema.exactOptional();

/** Every command, told apart by `type`; each field in the order the codec writes it. */
export const chatCommandSchema = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("createAccount"), username, passwordHash: z.string(), idempotency }),
  z.strictObject({ type: z.literal("deleteAccount"), username, idempotency }),
  /** Login: the session is replicated, so the token works on every node. Only a hash of the token is stored. */
  z.strictObject({ type: z.literal("createSession"), username, tokenHash: z.string(), idempotency }),
  /** Logout (one token) or every session of an account (null). */
  z.strictObject({ type: z.literal("revokeSessions"), username, tokenHash: z.string().nullable(), idempotency }),
  /** The session was used: its idle lifetime starts again at this entry's leader time. */
  z.strictObject({ type: z.literal("touchSession"), username, tokenHash: z.string(), idempotency }),
  /**
   * A new password (hashed by the API after it checked the old one); every other session
   * of the account ends. `keepTokenHash` is the session that asked (null: end them all).
   */
  z.strictObject({ type: z.literal("changePassword"), username, passwordHash: z.string(), keepTokenHash: z.string().nullable(), idempotency }),
  z.strictObject({ type: z.literal("sendMessage"), from: username, to: username, content: z.string(), idempotency }),
  /** Either explicit ids, or every message from `with` up to `upTo` (inclusive). */
  z.strictObject({ type: z.literal("markRead"), username, ids: z.array(jsonNumber).nullable(), with: username.nullable(), upTo: jsonNumber.nullable(), idempotency }),
  z.strictObject({ type: z.literal("deleteMessages"), username, ids: z.array(jsonNumber), idempotency }),
]);

/** A schema's output, read-only all the way down: a command is a value, never edited. */
type Frozen<T> = T extends readonly (infer E)[] ? readonly Frozen<E>[] : T extends object ? { readonly [K in keyof T]: Frozen<T[K]> } : T;

export type Idempotency = Frozen<z.infer<typeof idempotencySchema>>;
export type ChatCommand = Frozen<z.infer<typeof chatCommandSchema>>;

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
