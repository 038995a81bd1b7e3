import type { OpenAPIHono } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import type { WebAppOptions } from "../web/web-assets.ts";
import { webRoutes } from "../web/web-routes.ts";
import { accountRoutes } from "./accounts.ts";
import { adminRoutes } from "./admin-routes.ts";
import { createRouter, StreamSlots, type ApiDeps, type ApiOptions, type AppEnv } from "./api-env.ts";
import { clusterEventRoutes, clusterRoutes } from "./cluster-routes.ts";
import { Deadline } from "./deadline.ts";
import { ApiError, errorResponse, toApiError } from "./errors.ts";
import { eventRoutes } from "./events.ts";
import { faultRoutes } from "./fault-routes.ts";
import { messageRoutes } from "./messages.ts";
import { HttpMetrics, metricsRoutes } from "./metrics.ts";
import { sessionRoutes } from "./sessions.ts";

export type { ApiOptions } from "./api-env.ts";

/**
 * The whole HTTP API of one node (API.md). Web standards only: the same app runs under
 * Bun.serve and Deno.serve; the entry point injects the node and the password hasher.
 */
export function createApp(options: ApiOptions & { web?: WebAppOptions }): OpenAPIHono<AppEnv> {
  const deps: ApiDeps = {
    backend: options.backend,
    passwords: options.passwords,
    adminToken: options.adminToken,
    requestTimeoutMs: options.requestTimeoutMs ?? 5000,
    now: options.now ?? Date.now,
    maxBodyBytes: options.maxBodyBytes ?? 64 * 1024,
    heartbeatMs: options.heartbeatMs ?? 15_000,
    eventBufferLimit: options.eventBufferLimit ?? 1000,
    streams: new StreamSlots(options.maxStreams ?? 1000),
  };
  const metrics = new HttpMetrics();
  const app = createRouter();

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
  app.route("/", clusterEventRoutes(deps));
  app.route("/", adminRoutes(deps));
  app.route("/", accountRoutes(deps));
  app.route("/", sessionRoutes(deps));
  app.route("/", messageRoutes(deps));
  app.route("/", eventRoutes(deps));
  app.route("/", metricsRoutes(deps, metrics));
  if (options.faults !== undefined) app.route("/", faultRoutes(deps, options.faults));

  // The page at / and /cluster, when the entry point built it (API-only nodes skip it).
  if (options.web !== undefined) app.route("/", webRoutes(options.web));

  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
    type: "http",
    scheme: "bearer",
    description: "the token from POST /v1/sessions (the concord_session cookie works too)",
  });
  // Generated once, from the same schemas that validate requests.
  let document: ReturnType<typeof app.getOpenAPIDocument> | null = null;
  app.get("/v1/openapi.json", (c) => {
    document ??= app.getOpenAPIDocument({
      openapi: "3.0.3",
      info: { title: "Concord", version: "1", description: "A chat service on its own Raft. Errors are {error: {code, message}}." },
    });
    return c.json(document);
  });

  app.notFound((c) => errorResponse(new ApiError(404, "not_found", `no route for ${c.req.method} ${c.req.path}`)));
  app.onError((error) => {
    const apiError = toApiError(error);
    if (apiError.status >= 500 && apiError.code === "internal") {
      // A bug, not a condition: one structured line with the stack (stderr, web-standard console).
      const detail = error instanceof Error ? { message: error.message, stack: error.stack ?? "" } : { message: String(error) };
      console.error(JSON.stringify({ time: new Date().toISOString(), level: "error", event: "api_internal_error", ...detail }));
    }
    return errorResponse(apiError);
  });
  return app;
}
