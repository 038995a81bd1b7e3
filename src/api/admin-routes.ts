import { createRoute, z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { createRouter, type ApiDeps, type AppEnv } from "./api-env.ts";
import { requireAdmin } from "./auth.ts";
import { adminSecurity, errors, queryInt } from "./schemas.ts";

const NodeId = z.number().int().min(1).max(2 ** 31 - 1);
const accepted = { 202: { description: "accepted" }, ...errors(400, 403, 429, 503) };
/** Routes with a body: like any, it may be over the node's body limit. */
const acceptedWithBody = { ...accepted, ...errors(413) };

/** Membership and leadership changes; the admin check runs before the body is even read. */
export function adminRoutes(deps: ApiDeps) {
  const app = createRouter();
  const { backend } = deps;
  const adminOnly: MiddlewareHandler<AppEnv> = async (c, next) => {
    await requireAdmin(c, deps);
    await next();
  };

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/cluster/members",
      operationId: "addClusterMember",
      tags: ["admin"],
      summary: "Add a member: it joins as a learner, catches up, then becomes a voter if voter is true",
      security: adminSecurity,
      middleware: adminOnly,
      request: { body: { required: true, content: { "application/json": { schema: z.object({ id: NodeId, voter: z.boolean() }) } } } },
      responses: acceptedWithBody,
    }),
    async (c) => {
      const { id, voter } = c.req.valid("json");
      await c.var.deadline.run((timeoutMs) => backend.addMember(id, voter, timeoutMs));
      return c.body(null, 202);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/v1/cluster/members/{id}",
      operationId: "removeClusterMember",
      tags: ["admin"],
      summary: "Remove a member",
      security: adminSecurity,
      middleware: adminOnly,
      request: { params: z.object({ id: queryInt(1, 2 ** 31 - 1).openapi({ type: "integer" }) }) },
      responses: accepted,
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      await c.var.deadline.run((timeoutMs) => backend.removeMember(id, timeoutMs));
      return c.body(null, 202);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/cluster/leader",
      operationId: "transferLeadership",
      tags: ["admin"],
      summary: "Transfer leadership",
      security: adminSecurity,
      middleware: adminOnly,
      request: { body: { required: true, content: { "application/json": { schema: z.object({ to: NodeId }) } } } },
      responses: acceptedWithBody,
    }),
    async (c) => {
      const { to } = c.req.valid("json");
      await c.var.deadline.run((timeoutMs) => backend.transferLeadership(to, timeoutMs));
      return c.body(null, 202);
    },
  );

  return app;
}
