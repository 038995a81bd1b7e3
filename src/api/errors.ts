import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ChatErrorCode } from "../chat/commands.ts";

/** Every `error.code` the API answers with. Clients switch on these strings: never rename one. */
export type ErrorCode =
  | "invalid_request"
  | "invalid_username"
  | "weak_password"
  | "invalid_content"
  | "invalid_idempotency_key"
  | "idempotency_key_reused"
  | "idempotency_key_mismatch"
  | "unauthorized"
  | "session_expired"
  | "bad_credentials"
  | "wrong_password"
  | "forbidden"
  | "admin_disabled"
  | "not_found"
  | "no_such_recipient"
  | "username_taken"
  | "payload_too_large"
  | "unsupported_media_type"
  | "overloaded"
  | "rate_limited"
  | "unavailable"
  | "internal";

/** Validation rules name their code as their zod error message; anything else is `invalid_request`. */
export const VALIDATION_CODES: ReadonlySet<string> = new Set<ErrorCode>([
  "invalid_username",
  "weak_password",
  "invalid_content",
  "invalid_idempotency_key",
]);

/** A refusal with its status; thrown anywhere in a handler, turned into a response by the app's error handler. */
export class ApiError extends Error {
  override readonly name = "ApiError";
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: ErrorCode,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

export function errorResponse(error: ApiError): Response {
  return new Response(JSON.stringify({ error: { code: error.code, message: error.message } }), {
    status: error.status,
    headers: { "content-type": "application/json; charset=UTF-8", ...error.headers },
  });
}

// One second is a guess at "a new leader will likely be elected by then"; clients jitter on top.
const RETRY_AFTER = { "retry-after": "1" };

export const unavailable = (message: string): ApiError => new ApiError(503, "unavailable", message, RETRY_AFTER);
export const unauthorized = (message = "sign in first: send Authorization: Bearer <token>"): ApiError =>
  new ApiError(401, "unauthorized", message, { "www-authenticate": 'Bearer realm="concord"' });
export const invalidRequest = (message: string): ApiError => new ApiError(400, "invalid_request", message);

/** Too many attempts from one address or at one account: come back after `retryAfterS` seconds. */
export const rateLimited = (message: string, retryAfterS: number): ApiError =>
  new ApiError(429, "rate_limited", message, { "retry-after": String(Math.max(1, Math.ceil(retryAfterS))) });

/** The node will not take more of this kind of work right now (a full queue, not the caller's fault). */
export const overloaded = (message: string, retryAfterS = 1): ApiError => new ApiError(429, "overloaded", message, { "retry-after": String(retryAfterS) });

/**
 * A node refusal (NodeError from src/node, or anything else carrying the same `code`).
 * Matched by shape rather than class so the API has no runtime dependency on the node
 * and any backend (a fake, a remote one) can speak the same language.
 */
export function fromNodeError(error: unknown): ApiError | null {
  if (typeof error !== "object" || error === null || !("code" in error) || typeof error.code !== "string") return null;
  const message = error instanceof Error ? error.message : String(error.code);
  switch (error.code) {
    case "unavailable":
    case "stopped":
    case "dropped": // overwritten by a new leader: it did not commit, so a retry is safe
    case "not_leader":
      return unavailable(`the cluster cannot serve this right now (${error.code}): ${message}`);
    case "overloaded":
      return new ApiError(429, "overloaded", `the node is overloaded, back off: ${message}`, RETRY_AFTER);
    case "invalid":
      return invalidRequest(message);
    default:
      return null;
  }
}

/** A deterministic refusal from apply. `no_such_account` depends on the command, so callers may override it. */
export function fromApplyError(code: ChatErrorCode, message: string): ApiError {
  switch (code) {
    case "username_taken":
      return new ApiError(409, "username_taken", message);
    case "no_such_recipient":
      return new ApiError(404, "no_such_recipient", message);
    case "no_such_account":
      return new ApiError(404, "not_found", message);
    case "no_such_session":
      return unauthorized(message);
    case "invalid_command":
      return invalidRequest(message);
    case "idempotency_key_mismatch":
      return new ApiError(422, "idempotency_key_mismatch", message);
  }
}

/** Whatever was thrown, as the response the client gets. Unknown failures are 500 without details. */
export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof HTTPException) {
    // Hono's own refusals: the body limit, a wrong content type, unreadable JSON.
    if (error.status === 413) return new ApiError(413, "payload_too_large", "the request body is too large");
    if (error.status === 415) return new ApiError(415, "unsupported_media_type", "send the body as application/json");
    return invalidRequest(error.message || "bad request");
  }
  return fromNodeError(error) ?? new ApiError(500, "internal", "internal error");
}
