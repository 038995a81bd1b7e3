import { createRoute, z, type OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "./api-env.ts";
import { anyClientError, publicAccess } from "./schemas.ts";

// GET /v1/openapi.json: the contract clients are generated from. It must pass Redocly's
// recommended lint with no warnings (test/contract/openapi-lint.test.ts) and drive a typed
// client that type-checks against what the server answers (test/contract/typed-client.test.ts).

/** Every tag an operation may carry, with what a reader of a generated client sees for it. */
const TAGS: Record<string, string> = {
  accounts: "Sign-up, look-up and listing of accounts, and the signed-in account itself.",
  sessions: "Log in and out. A token works on every node and across failover; logout revokes it on every node.",
  messages: "Send, page through, mark read and delete messages; the signed-in account's conversations.",
  events: "The signed-in account's events as Server-Sent Events, replayable by Last-Event-ID on any node.",
  cluster: "This node's view of the Raft cluster, once or as a stream (the dashboard). Public.",
  admin: "Membership and leadership changes; they need the cluster admin token.",
  operations: "Health, readiness, Prometheus metrics and this document, for load balancers and operators. Public.",
  debug: "Fault injection for the test harness; mounted only on a node started with --fault-injection.",
};

const INFO_DESCRIPTION =
  "A chat service on its own Raft. Errors are {error: {code, message}} with a stable code. " +
  "Limits at the edge, per node: password checks (logins, password changes, account deletions), each a slow hash, whatever the outcome: " +
  "failed ones per client address (20, then 1 per 5 s) and per account (10, then 1 per 30 s), successful ones per address (600, then 5 per s) and per account (120, then 1 per s); " +
  "sign-ups per address (60, then 1 per 10 s) and per username (20, then 1 per 6 s): 429 rate_limited with Retry-After; " +
  "password hashing (half the cores at once, 4 waiting, at most 2 of them from one address): 429 overloaded; event streams in two pools (account: 1000, 100 per address, 10 per account; dashboard: 200, 8 per address): 429 overloaded. " +
  "Sessions end 7 days after their last use or 30 days after the login (401 session_expired). " +
  "An Idempotency-Key is remembered for at least 24 hours and for the account's latest 1000 keyed writes; reused with a different request it is 422 idempotency_key_mismatch.";

/**
 * Only what a client can rely on being there; the rest passes through. `additionalProperties:
 * true` by hand, since zod's catch-all comes out as a typeless `nullable`, which OpenAPI 3.0
 * does not allow.
 */
const open = { additionalProperties: true } as const;
const OpenApiDocument = z
  .object({
    openapi: z.string(),
    info: z.object({ title: z.string(), version: z.string() }).openapi(open),
    paths: z.record(z.string(), z.object({}).openapi(open)),
  })
  .openapi({ ...open, description: "an OpenAPI 3.0 document" });

/** Declares the security schemes and serves the document of every route registered on `app`. */
export function serveOpenApiDocument(app: OpenAPIHono<AppEnv>): void {
  app.openAPIRegistry.registerComponent("securitySchemes", "sessionToken", {
    type: "http",
    scheme: "bearer",
    description: "the token from POST /v1/sessions, as Authorization: Bearer <token>",
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "sessionCookie", {
    type: "apiKey",
    in: "cookie",
    name: "concord_session",
    description: "the HttpOnly cookie POST /v1/sessions sets, for the browser page on the same node",
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "adminToken", {
    type: "http",
    scheme: "bearer",
    description: "the cluster admin token from the node configuration, as Authorization: Bearer <token>",
  });

  // Documented through the registry and served by a plain route: the handler hands out
  // one serialized text, which the typed openapi() handler (JSON bodies only) would refuse.
  app.openAPIRegistry.registerPath(
    createRoute({
      method: "get",
      path: "/v1/openapi.json",
      operationId: "getOpenApiDocument",
      tags: ["operations"],
      summary: "This document",
      security: publicAccess,
      responses: { 200: { description: "the OpenAPI document of this node's API", content: { "application/json": { schema: OpenApiDocument } } }, ...anyClientError },
    }),
  );
  // Generated and serialized once, from the same schemas that validate requests.
  let text: string | null = null;
  app.get("/v1/openapi.json", () => {
    text ??= JSON.stringify(build(app));
    return new Response(text, { status: 200, headers: { "content-type": "application/json; charset=UTF-8" } });
  });
}

function build(app: OpenAPIHono<AppEnv>) {
  const document = app.getOpenAPIDocument({
    openapi: "3.0.3",
    info: {
      title: "Concord",
      version: "1",
      description: INFO_DESCRIPTION,
      // package.json is private and names no licence: none is granted. "UNLICENSED" is npm's
      // word for that, and the link is where npm defines it.
      license: { name: "UNLICENSED", url: "https://docs.npmjs.com/cli/v11/configuring-npm/package-json#license" },
    },
    // Relative: it resolves against wherever the document was fetched. Every node serves
    // the whole API and this same document, so naming one node's origin would send every
    // generated client to that node (or to an address that only works inside its network);
    // clients pick the node, as the web page and the CLI do.
    servers: [{ url: "/", description: "the node that served this document (any node serves the whole API)" }],
  });
  const used = new Set(Object.values(document.paths ?? {}).flatMap((item) => Object.values(item as Record<string, { tags?: string[] }>).flatMap((op) => op.tags ?? [])));
  document.tags = Object.entries(TAGS)
    .filter(([name]) => used.has(name))
    .map(([name, description]) => ({ name, description }));
  return document;
}
