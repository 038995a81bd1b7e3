/**
 * Codes the client itself produces. Everything else in `code` is the API's own error
 * code (`username_taken`, `bad_credentials`, …), passed through unchanged so callers can
 * switch on the same strings the server documents.
 */
export type ClientErrorCode =
  | "network" // no node could be reached (connection refused, reset, DNS)
  | "timeout" // a node took longer than the per-request timeout or the total deadline
  | "unavailable" // every node that answered said 503: no leader or no quorum right now
  | "bad_response" // a node answered with something that is not the documented JSON
  | "invalid_argument" // the caller passed something the client refuses to send
  | "not_signed_in"; // an authenticated call without a session (the CLI says "log in")

/** Codes for HTTP errors whose body carried no `{error: {code}}` (a proxy, an old node). */
const CODE_BY_STATUS: Readonly<Record<number, string>> = {
  400: "bad_request",
  401: "unauthorized",
  403: "forbidden",
  404: "not_found",
  409: "conflict",
  429: "overloaded",
  503: "unavailable",
};

/**
 * The one error the client throws. `code` is stable; `status` is the HTTP status when a
 * node answered, null when none did. For a write, `idempotencyKey` is the key it was sent
 * with: retrying the same logical write with that key cannot apply it twice.
 */
export class ConcordError extends Error {
  override readonly name = "ConcordError";
  constructor(
    readonly code: ClientErrorCode | (string & {}),
    message: string,
    readonly status: number | null = null,
    readonly idempotencyKey: string | null = null,
  ) {
    super(message);
  }

  /** No node could serve the request right now; the same request may work later. */
  get transient(): boolean {
    return this.code === "network" || this.code === "timeout" || this.code === "unavailable" || this.code === "overloaded";
  }

  /** The session is missing, expired, revoked, or the password was wrong. */
  get authentication(): boolean {
    return this.status === 401 || this.status === 403 || this.code === "not_signed_in";
  }

  static fallbackCode(status: number): string {
    return CODE_BY_STATUS[status] ?? (status >= 500 ? "server_error" : "http_error");
  }
}
