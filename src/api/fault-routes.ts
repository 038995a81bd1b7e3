import { createRoute, z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { createRouter, type ApiDeps, type AppEnv, type FaultControl, type LinkFaultsBody } from "./api-env.ts";
import { requireAdmin } from "./auth.ts";
import { adminSecurity, errors } from "./schemas.ts";

const Peers = z.array(z.number().int().min(1).max(2 ** 31 - 1)).max(64);
const Faults = z.object({ dropTo: Peers, dropFrom: Peers });

/**
 * The harness cuts links through these routes (admin token required). They exist only
 * when the node was started with `--fault-injection`; elsewhere they are 404 like any
 * unknown path, so a production node cannot be partitioned over HTTP.
 */
export function faultRoutes(deps: ApiDeps, control: FaultControl) {
  const app = createRouter();
  const adminOnly: MiddlewareHandler<AppEnv> = async (c, next) => {
    await requireAdmin(c, deps);
    await next();
  };
  const ok = { 200: { description: "the faults now in force", content: { "application/json": { schema: Faults } } } };

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/debug/faults",
      operationId: "getLinkFaults",
      tags: ["debug"],
      summary: "Links this node loses traffic on (fault injection)",
      security: adminSecurity,
      middleware: adminOnly,
      responses: { ...ok, ...errors(403) },
    }),
    (c) => c.json(copy(control.faults()), 200),
  );

  app.openapi(
    createRoute({
      method: "put",
      path: "/v1/debug/faults",
      operationId: "setLinkFaults",
      tags: ["debug"],
      summary: "Replace the set of cut links (fault injection)",
      security: adminSecurity,
      middleware: adminOnly,
      request: { body: { required: true, content: { "application/json": { schema: Faults } } } },
      responses: { ...ok, ...errors(400, 403, 413) },
    }),
    (c) => {
      control.setFaults(c.req.valid("json"));
      return c.json(copy(control.faults()), 200);
    },
  );
  return app;
}

function copy(faults: LinkFaultsBody): { dropTo: number[]; dropFrom: number[] } {
  return { dropTo: [...faults.dropTo], dropFrom: [...faults.dropFrom] };
}
