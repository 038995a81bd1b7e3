import { createRoute, z } from "@hono/zod-openapi";
import { USERNAME_PATTERN } from "../chat/chat-limits.ts";
import type { ChatMessage } from "../chat/commands.ts";
import { createRouter, type ApiDeps } from "./api-env.ts";
import { signedIn } from "./auth.ts";
import { ApiError, invalidRequest } from "./errors.ts";
import { beginRead } from "./reads.ts";
import { ConsistencyQuery, Content, errors, IdempotencyHeaders, LimitQuery, Message, MessageId, MessageIds, queryInt, sessionSecurity } from "./schemas.ts";
import { execute } from "./writes.ts";

/** A name in a body or query; only bounded here, since an impossible name simply matches nobody. */
const Name = z.string().min(1).max(64);

/** The API's view of a message: a fresh object, so nothing else the backend attached leaks out. */
export const messageJson = (m: ChatMessage) => ({
  id: m.id,
  from: m.from,
  fromDeleted: m.fromDeleted,
  to: m.to,
  content: m.content,
  sentAt: m.sentAt,
  readAt: m.readAt,
});

export function messageRoutes(deps: ApiDeps) {
  const app = createRouter();
  const queries = deps.backend.queries;

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/messages",
      operationId: "sendMessage",
      tags: ["messages"],
      summary: "Send a message",
      security: sessionSecurity,
      middleware: signedIn(deps, "write"),
      request: {
        headers: IdempotencyHeaders,
        body: { required: true, content: { "application/json": { schema: z.object({ to: Name, content: Content }) } } },
      },
      responses: { 201: { description: "sent; id is the log index", content: { "application/json": { schema: Message } } }, ...errors(400, 401, 404, 413, 422, 429, 503) },
    }),
    async (c) => {
      const { to, content } = c.req.valid("json");
      const me = c.var.session;
      if (!USERNAME_PATTERN.test(to)) throw new ApiError(404, "no_such_recipient", `no account named '${to}'`);
      const { message } = await execute(c, deps, me.account, { type: "sendMessage", from: me.account, to, content }, "messageSent", { request: { to, content } });
      return c.json(messageJson(message), 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/messages",
      operationId: "listMessages",
      tags: ["messages"],
      summary: "A conversation (with=user) or my unread inbox (unread=true), newest first",
      security: sessionSecurity,
      middleware: signedIn(deps, "read"),
      request: {
        query: z.object({
          with: Name.optional(),
          unread: z.enum(["true", "false"]).optional(),
          limit: LimitQuery,
          before: queryInt(1, Number.MAX_SAFE_INTEGER).optional().openapi({ type: "integer", description: "only ids below this (nextBefore of the previous page)" }),
          consistency: ConsistencyQuery,
        }),
      },
      responses: {
        200: {
          description: "a page of messages",
          content: {
            "application/json": {
              schema: z.object({ messages: z.array(Message), unread: z.number().int(), nextBefore: z.number().int().nullable() }),
            },
          },
        },
        ...errors(400, 401, 429, 503),
      },
    }),
    async (c) => {
      const query = c.req.valid("query");
      const inbox = query.unread === "true";
      if ((query.with !== undefined) === inbox) throw invalidRequest("pass exactly one of with=<user> or unread=true");
      await beginRead(c, deps, query.consistency);
      const me = c.var.session;
      const limit = query.limit ?? 50;
      const before = query.before ?? null;
      const [page, unread] = await c.var.deadline.run(() =>
        Promise.all([
          query.with !== undefined ? queries.conversation(me.account, query.with, limit, before) : queries.unread(me.account, limit, before),
          queries.unreadCount(me.account),
        ]),
      );
      return c.json({ messages: page.messages.map(messageJson), unread, nextBefore: page.nextBefore }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/conversations",
      operationId: "listConversations",
      tags: ["messages"],
      summary: "One entry per partner, newest first",
      security: sessionSecurity,
      middleware: signedIn(deps, "read"),
      request: { query: z.object({ consistency: ConsistencyQuery }) },
      responses: {
        200: {
          description: "my conversations",
          content: {
            "application/json": {
              schema: z.object({ conversations: z.array(z.object({ with: z.string(), lastMessage: Message, unread: z.number().int() })) }),
            },
          },
        },
        ...errors(400, 401, 429, 503),
      },
    }),
    async (c) => {
      await beginRead(c, deps, c.req.valid("query").consistency);
      const me = c.var.session;
      const conversations = await c.var.deadline.run(() => queries.conversations(me.account));
      return c.json({ conversations: conversations.map((v) => ({ with: v.with, lastMessage: messageJson(v.lastMessage), unread: v.unread })) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/messages/read",
      operationId: "markMessagesRead",
      tags: ["messages"],
      summary: "Mark messages I received as read: {ids} or {with, upTo}",
      security: sessionSecurity,
      middleware: signedIn(deps, "write"),
      request: {
        headers: IdempotencyHeaders,
        body: {
          required: true,
          content: { "application/json": { schema: z.object({ ids: MessageIds.optional(), with: Name.optional(), upTo: MessageId.optional() }) } },
        },
      },
      responses: { 200: { description: "how many were newly marked", content: { "application/json": { schema: z.object({ marked: z.number().int() }) } } }, ...errors(400, 401, 413, 422, 429, 503) },
    }),
    async (c) => {
      const body = c.req.valid("json");
      const byIds = body.ids !== undefined && body.with === undefined && body.upTo === undefined;
      const byRange = body.ids === undefined && body.with !== undefined && body.upTo !== undefined;
      if (!byIds && !byRange) throw invalidRequest("send either {ids: [...]} or {with, upTo}");
      const me = c.var.session;
      const result = await execute(
        c,
        deps,
        me.account,
        { type: "markRead", username: me.account, ids: body.ids ?? null, with: body.with ?? null, upTo: body.upTo ?? null },
        "messagesMarked",
        { request: body },
      );
      return c.json({ marked: result.marked }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/v1/messages",
      operationId: "deleteMessages",
      tags: ["messages"],
      summary: "Delete messages I sent or received, for both sides",
      security: sessionSecurity,
      middleware: signedIn(deps, "write"),
      request: {
        headers: IdempotencyHeaders,
        body: { required: true, content: { "application/json": { schema: z.object({ ids: MessageIds }) } } },
      },
      responses: {
        200: {
          description: "which ids were deleted and which were not mine or not found",
          content: { "application/json": { schema: z.object({ deleted: z.array(z.number().int()), notFound: z.array(z.number().int()) }) } },
        },
        ...errors(400, 401, 413, 422, 429, 503),
      },
    }),
    async (c) => {
      const { ids } = c.req.valid("json");
      const me = c.var.session;
      const result = await execute(c, deps, me.account, { type: "deleteMessages", username: me.account, ids }, "messagesDeleted", { request: { ids } });
      return c.json({ deleted: [...result.deleted], notFound: [...result.notFound] }, 200);
    },
  );

  return app;
}
