import type { FaultControl } from "./fault-routes.ts";
import { OpenAPIHono } from "@hono/zod-openapi";
import type { ZodError } from "zod";
import type { ChatBackend, PasswordHasher } from "./chat-backend.ts";
import type { Session } from "./auth.ts";
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
  /** Open SSE connections at most, both streams together (default 1000); more get 429. */
  maxStreams?: number;
  /** The node's fault hook (harness only, `--fault-injection`); mounts /v1/debug/faults. */
  faults?: FaultControl;
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
  readonly streams: StreamSlots;
}

/** Counts open SSE connections so a flood of them cannot exhaust the process. */
export class StreamSlots {
  private open = 0;
  constructor(readonly max: number) {}
  get count(): number {
    return this.open;
  }
  /** Returns a release function, or null when every slot is taken. */
  acquire(): (() => void) | null {
    if (this.open >= this.max) return null;
    this.open++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.open--;
    };
  }
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
