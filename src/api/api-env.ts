import type { AddressOf } from "./client-address.ts";
import type { HashingGate, HashingLimits } from "./hashing-gate.ts";
import type { AuthLimiters, AuthRateLimits } from "./rate-limit.ts";
import type { StreamLimits, StreamPool } from "./stream-pool.ts";
import { OpenAPIHono } from "@hono/zod-openapi";
import type { Hono } from "hono";
import type { ZodError } from "zod";
import type { Logger } from "../node/logger.ts";
import type { ChatBackend } from "../node/chat-backend.ts";
import type { PasswordHasher } from "./password-hasher.ts";
import type { Deadline } from "./deadline.ts";
import { ApiError, errorResponse, VALIDATION_CODES, type ErrorCode } from "./errors.ts";

export interface ApiOptions {
  backend: ChatBackend;
  passwords: PasswordHasher;
  /** Bearer token for the admin routes; null disables them (403 admin_disabled). */
  adminToken: string | null;
  /** How long one request may wait for the cluster before it gets 503 (default 5000). */
  requestTimeoutMs?: number;
  /** Milliseconds since the epoch; injectable for tests. */
  now?: () => number;
  /** Larger request bodies get 413 (default 64 KiB). */
  maxBodyBytes?: number;
  /** SSE keep-alive comment interval (default 15 s). */
  heartbeatMs?: number;
  /** Live events one SSE connection may have queued for a slow client before it is dropped with `reset` (default 1000). */
  eventBufferLimit?: number;
  /**
   * Open SSE connections: /v1/events (account) and /v1/cluster/events (dashboard) have
   * pools of their own, each with a total and per-address (and per-account) caps; more get
   * 429 overloaded. Defaults: account 1000 / 100 per address / 10 per account, dashboard
   * 200 / 8 per address.
   */
  streams?: { account?: Partial<StreamLimits>; dashboard?: Partial<StreamLimits> };
  /** Limits on password checks (successful and failed) and sign-ups (rate-limit.ts has the defaults). */
  rateLimits?: Partial<AuthRateLimits>;
  /** Password hashes one node runs and queues at once (hashing-gate.ts). */
  hashing?: Partial<HashingLimits>;
  /** Session lifetimes (defaults from chat-limits.ts; they may only be shorter, since apply sweeps by those). */
  sessions?: Partial<SessionLifetimes>;
  /** The client's address for per-address limits (default: what Bun.serve or Deno.serve report). */
  clientAddress?: AddressOf;
  /** The clock rate limits refill by (default Date.now; tests move `now` without refilling buckets). */
  rateLimitClock?: () => number;
  /** The node's fault hook (harness only, `--fault-injection`); mounts /v1/debug/faults. */
  faults?: FaultControl;
  /** Where the API reports its own bugs (api_internal_error); the entry point passes the node's. Default: silent. */
  logger?: Logger;
  /** More routes at /, from the entry point (the web app's pages); none on API-only nodes. */
  extraRoutes?: ExtraRoutes;
}

/**
 * Routes the entry point mounts beside the API's: `concord node` passes the web app
 * (src/web/web-routes.ts), so the API itself imports nothing of src/web. They get the
 * API's headers, CORS, limits and 404, and must stay web-standard like the rest of the app.
 */
export interface ExtraRoutes {
  readonly routes: Hono;
  /** The nodes (base URLs) their pages may call besides this one: the Content-Security-Policy's connect-src. */
  readonly connectTo: readonly string[];
}

/** What the feature routers share: the options with defaults filled in, plus per-app state. */
export interface ApiDeps {
  readonly backend: ChatBackend;
  readonly passwords: PasswordHasher;
  readonly adminToken: string | null;
  readonly requestTimeoutMs: number;
  readonly now: () => number;
  readonly maxBodyBytes: number;
  readonly heartbeatMs: number;
  readonly eventBufferLimit: number;
  readonly accountStreams: StreamPool;
  readonly dashboardStreams: StreamPool;
  /** The app's hasher behind its concurrency gate (deps.passwords is this same object). */
  readonly hashing: HashingGate;
  readonly limiters: AuthLimiters;
  readonly sessions: SessionLifetimes;
  readonly addressOf: AddressOf;
}

export interface SessionLifetimes {
  /** A session ends this long after the login. */
  readonly absoluteMs: number;
  /** A session ends this long after it was last seen (see touchAfterMs). */
  readonly idleMs: number;
  /** A request on a session last seen longer ago than this replicates a touch first. */
  readonly touchAfterMs: number;
}

/** A signed-in request's session (auth.ts's signedIn sets it). */
export interface Session {
  readonly account: string;
  readonly tokenHash: string;
}

/** Which peers the node's transport loses traffic to and from (see FaultInjectingTransport). */
export interface LinkFaultsBody {
  readonly dropTo: readonly number[];
  readonly dropFrom: readonly number[];
}

/** The node's fault hook; present only on a node started with `--fault-injection`. */
export interface FaultControl {
  faults(): LinkFaultsBody;
  setFaults(faults: LinkFaultsBody): void;
}

export type AppEnv = {
  Variables: {
    deadline: Deadline;
    /** A read barrier already ran for this request, so a session miss is final. */
    barrierDone: boolean;
    /** Set by the signedIn middleware on routes that need a session. */
    session: Session;
  };
};

const HUMAN: Partial<Record<ErrorCode, string>> = {
  invalid_username: "a username is 1-32 characters of A-Za-z0-9_.-",
  weak_password: "a password needs at least 8 characters",
  invalid_content: "content must be 1-4000 characters after trimming",
  invalid_idempotency_key: "an Idempotency-Key is 1-64 characters",
};

/** zod's first issue as our error shape: a stable code, one readable sentence, never zod's raw output. */
export function validationError(error: ZodError, target: string): ApiError {
  const issue = error.issues[0];
  if (issue === undefined) return new ApiError(400, "invalid_request", `invalid ${target}`);
  const code = VALIDATION_CODES.has(issue.message) ? (issue.message as ErrorCode) : "invalid_request";
  const where = [target === "json" ? "body" : target, ...issue.path.map(String)].join(".");
  return new ApiError(400, code, `${where}: ${HUMAN[code] ?? issue.message}`);
}

/** A feature router; validation failures everywhere answer with our error shape. */
export function createRouter(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) return errorResponse(validationError(result.error, result.target));
      return undefined;
    },
  });
}
