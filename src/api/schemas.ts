import { z } from "@hono/zod-openapi";
import { CONTENT_MAX_CHARS, IDEMPOTENCY_KEY_MAX_CHARS, IDS_PER_COMMAND_MAX, PAGE_LIMIT_MAX, USERNAME_PATTERN } from "../chat/chat-limits.ts";

// Shared request and response schemas. A rule's zod error message is its stable error
// code (see VALIDATION_CODES); rules without one answer `invalid_request`.

/** Passwords are hashed slowly; an unbounded one would make that hashing a DoS lever. */
export const PASSWORD_MAX_CHARS = 1024;
export const PASSWORD_MIN_CHARS = 8;

export const ErrorSchema = z
  .object({ error: z.object({ code: z.string().openapi({ example: "username_taken" }), message: z.string() }) })
  .openapi("Error");

export const Username = z.string().regex(USERNAME_PATTERN, { error: "invalid_username" }).openapi({ example: "alice" });

export const NewPassword = z
  .string()
  .min(PASSWORD_MIN_CHARS, { error: "weak_password" })
  .max(PASSWORD_MAX_CHARS)
  .openapi({ format: "password" });

/** A password being checked, not set: any length up to the bound (never reveal the rules at login). */
export const Password = z.string().max(PASSWORD_MAX_CHARS).openapi({ format: "password" });

/** Content is trimmed, then counted in code points, as the state machine counts it. */
export const Content = z
  .string()
  .max(CONTENT_MAX_CHARS * 4, { error: "invalid_content" })
  .trim()
  .refine((text) => text.length > 0 && countCodePoints(text) <= CONTENT_MAX_CHARS, { error: "invalid_content" })
  .openapi({ example: "hello" });

export const MessageId = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);
export const MessageIds = z.array(MessageId).min(1).max(IDS_PER_COMMAND_MAX);

export const Account = z.object({ username: z.string(), createdAt: z.string().openapi({ format: "date-time" }) }).openapi("Account");

export const Message = z
  .object({
    id: z.number().int().openapi({ description: "the log index that created it" }),
    from: z.string(),
    fromDeleted: z.boolean().openapi({ description: "the sender's account was deleted; `from` is the name it had" }),
    to: z.string(),
    content: z.string(),
    sentAt: z.string().openapi({ format: "date-time" }),
    readAt: z.string().nullable().openapi({ format: "date-time" }),
  })
  .openapi("Message");

/** Query numbers arrive as text; digits only, so "1e3" or "0x10" do not sneak through. */
export const queryInt = (min: number, max: number) =>
  z
    .string()
    .regex(/^[0-9]{1,16}$/)
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

export const LimitQuery = queryInt(1, PAGE_LIMIT_MAX).optional().openapi({ type: "integer", minimum: 1, maximum: PAGE_LIMIT_MAX, default: 50 });

export const ConsistencyQuery = z
  .enum(["linearizable", "local"])
  .default("linearizable")
  .openapi({ description: "`local` answers from this node's copy at once; see X-Concord-Applied-Index / X-Concord-Commit-Index" });

export const IdempotencyHeaders = z.object({
  "Idempotency-Key": z
    .string()
    .min(1, { error: "invalid_idempotency_key" })
    .max(IDEMPOTENCY_KEY_MAX_CHARS, { error: "invalid_idempotency_key" })
    .optional()
    .openapi({
      description:
        "a retry with the same key (and account) returns the first result and changes nothing, for at least 24 hours and the account's latest 1000 keyed writes; the same key with a different request is 422 idempotency_key_mismatch",
    }),
});

export function countCodePoints(text: string): number {
  let count = 0;
  for (const _ of text) count++;
  return count;
}

/** Error responses for the OpenAPI document; handlers throw ApiError, so these are documentation only. */
export function errors(...statuses: readonly number[]) {
  const described: Record<number, { description: string; headers?: typeof RETRY_AFTER_HEADER; content: { "application/json": { schema: typeof ErrorSchema } } }> = {};
  for (const status of statuses) {
    described[status] = {
      description: ERROR_DESCRIPTIONS[status] ?? "error",
      // Every 429 and 503 the API sends carries it (errors.ts), so a client can back off as told.
      ...(status === 429 || status === 503 ? { headers: RETRY_AFTER_HEADER } : {}),
      content: { "application/json": { schema: ErrorSchema } },
    };
  }
  return described;
}

const RETRY_AFTER_HEADER = {
  "Retry-After": { description: "seconds to wait before trying again", required: true, schema: { type: "integer" as const, minimum: 1 } },
};

/**
 * For routes that refuse nothing themselves (health, readiness, status, metrics, this
 * document). Declared as the 4XX range rather than some status they never answer, so a
 * generated client still types a client error, should one ever come, as the one Error shape.
 */
export const anyClientError = {
  "4XX": { description: "not answered by this route today; any client error Concord sends has the Error shape", content: { "application/json": { schema: ErrorSchema } } },
};

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: "invalid request",
  401: "unauthorized (no session, or it was revoked) or session_expired (past its 7-day idle or 30-day absolute lifetime: sign in again)",
  403: "forbidden",
  404: "not found",
  409: "conflict",
  413: "payload too large",
  422: "idempotency_key_mismatch: this Idempotency-Key was first used with a different request",
  429: "rate_limited (too many attempts from this address or at this account) or overloaded (the node's queue for this work is full); wait Retry-After seconds",
  503: "no leader or no quorum; retry after Retry-After",
};

// Security requirements, by the schemes openapi-document.ts declares. Every operation
// names one, public ones included: an empty list says "no credentials" on purpose, and a
// generated client then knows which calls need a token and which token.

/** Anyone may call it: sign-up, login, account look-up, health, status, metrics, the document. */
export const publicAccess: Array<Record<string, string[]>> = [];
/** The signed-in account: a session token as Bearer, or the browser page's session cookie. */
export const sessionSecurity = [{ sessionToken: [] as string[] }, { sessionCookie: [] as string[] }];
/** The cluster admin token from the node configuration, as Bearer (never a session token). */
export const adminSecurity = [{ adminToken: [] as string[] }];
