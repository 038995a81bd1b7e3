import type { OpenAPIHono } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { secureHeaders } from "hono/secure-headers";
import { SESSION_ABSOLUTE_LIFETIME_MS, SESSION_IDLE_LIFETIME_MS } from "../chat/chat-limits.ts";
import { silentLogger } from "../node/logger.ts";
import { accountRoutes } from "./accounts.ts";
import { adminRoutes } from "./admin-routes.ts";
import { createRouter, type ApiDeps, type ApiOptions, type AppEnv, type SessionLifetimes } from "./api-env.ts";
import { runtimeAddress } from "./client-address.ts";
import { clusterEventRoutes, clusterRoutes, SharedClusterStatus } from "./cluster-routes.ts";
import { Deadline } from "./deadline.ts";
import { ApiError, errorResponse, toApiError } from "./errors.ts";
import { eventRoutes } from "./events.ts";
import { faultRoutes } from "./fault-routes.ts";
import { messageRoutes } from "./messages.ts";
import { serveOpenApiDocument } from "./openapi-document.ts";
import { defaultHashingLimits, HashingGate } from "./hashing-gate.ts";
import { HttpMetrics, metricsRoutes } from "./metrics.ts";
import { AuthLimiters, DEFAULT_AUTH_RATE_LIMITS } from "./rate-limit.ts";
import { sessionRoutes } from "./sessions.ts";
import { DEFAULT_ACCOUNT_STREAMS, DEFAULT_DASHBOARD_STREAMS, StreamPool } from "./stream-pool.ts";

export type { ApiOptions } from "./api-env.ts";

/**
 * The whole HTTP API of one node (API.md). Web standards only: the same app runs under
 * Bun.serve and Deno.serve; the entry point injects the node and the password hasher.
 */
export function createApp(options: ApiOptions): OpenAPIHono<AppEnv> {
  const now = options.now ?? Date.now;
  const logger = options.logger ?? silentLogger;
  const hashing = new HashingGate(options.passwords, { ...defaultHashingLimits(), ...options.hashing });
  const deps: ApiDeps = {
    backend: options.backend,
    passwords: hashing,
    hashing,
    adminToken: options.adminToken,
    requestTimeoutMs: options.requestTimeoutMs ?? 5000,
    now,
    maxBodyBytes: options.maxBodyBytes ?? 64 * 1024,
    heartbeatMs: options.heartbeatMs ?? 15_000,
    eventBufferLimit: options.eventBufferLimit ?? 1000,
    accountStreams: new StreamPool("event", { ...DEFAULT_ACCOUNT_STREAMS, ...options.streams?.account }),
    dashboardStreams: new StreamPool("dashboard", { ...DEFAULT_DASHBOARD_STREAMS, ...options.streams?.dashboard }),
    // Rate limits count in real time even when tests move `now` (session lifetimes) around.
    limiters: new AuthLimiters({ ...DEFAULT_AUTH_RATE_LIMITS, ...options.rateLimits }, options.rateLimitClock ?? Date.now),
    sessions: sessionLifetimes(options.sessions),
    addressOf: options.clientAddress ?? runtimeAddress,
  };
  const metrics = new HttpMetrics();
  const app = createRouter();

  // Headers for every answer, the page's strict Content-Security-Policy among them: only
  // this node's own script and stylesheet run, and the page may talk only to the nodes
  // it was told about (--web-peers, passed in extraRoutes.connectTo). No inline script or style, no frames, no plugins.
  // HSTS only on answers over HTTPS (a node given a certificate): over plain HTTP browsers
  // ignore it, and a node without one must not promise HTTPS.
  const headers = (strictTransportSecurity: string | false) =>
    secureHeaders({
      contentSecurityPolicy: {
        defaultSrc: ["'none'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", "data:"],
        connectSrc: ["'self'", ...peerOrigins(options.extraRoutes?.connectTo ?? [])],
        baseUri: ["'none'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
      // The API is called cross-origin by the page on other nodes (CORS, below).
      crossOriginResourcePolicy: "cross-origin",
      strictTransportSecurity,
    });
  const overHttp = headers(false);
  const overHttps = headers("max-age=31536000");
  app.use("*", (c, next) => (c.req.url.startsWith("https:") ? overHttps : overHttp)(c, next));

  // The web page calls every node, not only the one it came from. Bearer tokens, never
  // cookies, cross origins (no credentials mode), so any origin may ask.
  app.use(
    "*",
    cors({
      origin: "*",
      allowMethods: ["GET", "POST", "DELETE", "PUT"],
      allowHeaders: ["authorization", "content-type", "idempotency-key", "last-event-id", "cache-control", "accept"],
      exposeHeaders: ["retry-after"],
      maxAge: 600,
    }),
  );
  app.use("*", metrics.middleware());
  app.use("*", async (c, next) => {
    c.set("deadline", new Deadline(deps.now() + deps.requestTimeoutMs, deps.now));
    c.set("barrierDone", false);
    await next();
  });
  app.use("*", bodyLimit({ maxSize: deps.maxBodyBytes, onError: () => errorResponse(new ApiError(413, "payload_too_large", `request bodies are limited to ${deps.maxBodyBytes} bytes`)) }));

  app.route("/", clusterRoutes(deps.backend));
  app.route("/", clusterEventRoutes(deps, new SharedClusterStatus(deps.backend)));
  app.route("/", adminRoutes(deps));
  app.route("/", accountRoutes(deps));
  app.route("/", sessionRoutes(deps));
  app.route("/", messageRoutes(deps));
  app.route("/", eventRoutes(deps));
  app.route("/", metricsRoutes(deps, metrics));
  if (options.faults !== undefined) app.route("/", faultRoutes(deps, options.faults));

  // The page at / and /cluster, when the entry point built it (API-only nodes skip it).
  if (options.extraRoutes !== undefined) app.route("/", options.extraRoutes.routes);

  serveOpenApiDocument(app);

  app.notFound((c) => errorResponse(new ApiError(404, "not_found", `no route for ${c.req.method} ${c.req.path}`)));
  app.onError((error) => {
    const apiError = toApiError(error);
    if (apiError.status >= 500 && apiError.code === "internal") {
      // A bug, not a condition: one structured event with the stack.
      const detail = error instanceof Error ? { message: error.message, stack: error.stack ?? "" } : { message: String(error) };
      logger.log("error", "api_internal_error", detail);
    }
    return errorResponse(apiError);
  });
  return app;
}

function sessionLifetimes(overrides: Partial<SessionLifetimes> = {}): SessionLifetimes {
  const lifetimes = { absoluteMs: SESSION_ABSOLUTE_LIFETIME_MS, idleMs: SESSION_IDLE_LIFETIME_MS, touchAfterMs: 60 * 60 * 1000, ...overrides };
  // Apply sweeps sessions by the lifetimes in chat-limits.ts: a node may only be stricter.
  if (lifetimes.absoluteMs > SESSION_ABSOLUTE_LIFETIME_MS || lifetimes.idleMs > SESSION_IDLE_LIFETIME_MS) {
    throw new RangeError("session lifetimes may only be shorter than the state machine's (chat-limits.ts)");
  }
  return lifetimes;
}

/** The origins of the nodes the page may call, for connect-src (bad URLs are left out). */
function peerOrigins(nodes: readonly string[]): string[] {
  const origins = new Set<string>();
  for (const node of nodes) {
    try {
      origins.add(new URL(node).origin);
    } catch {
      // not a URL: the page could not call it either
    }
  }
  return [...origins];
}
