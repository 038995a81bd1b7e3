import { createRoute, z } from "@hono/zod-openapi";
import { deleteCookie } from "hono/cookie";
import { USERNAME_PATTERN } from "../chat/chat-limits.ts";
import { createRouter, type ApiDeps } from "./api-env.ts";
import { SESSION_COOKIE, signedIn } from "./auth.ts";
import { ApiError, unauthorized } from "./errors.ts";
import { clientPasswords, limitedPasswordCheck, limitedSignup } from "./password-checks.ts";
import { beginRead } from "./reads.ts";
import { ACCOUNT_TOTAL_MAX } from "../chat/chat-limits.ts";
import { Account, ConsistencyQuery, errors, IdempotencyHeaders, LimitQuery, NewPassword, Password, publicAccess, sessionSecurity, Username } from "./schemas.ts";
import { execute } from "./writes.ts";

/** Globs use `*` and `?` over username characters; bounded so matching stays cheap. */
const Pattern = z.string().regex(/^[A-Za-z0-9_.\-*?]{1,64}$/).default("*");
const Cursor = z.string().max(64).optional();

export function accountRoutes(deps: ApiDeps) {
  const app = createRouter();

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/accounts",
      operationId: "createAccount",
      tags: ["accounts"],
      summary: "Sign up",
      security: publicAccess,
      description: "Sign-ups are limited per client address and per username (429 rate_limited with Retry-After); a node hashes only a few passwords at once (429 overloaded). The Idempotency-Key's request digest covers the username, never the password.",
      request: {
        headers: IdempotencyHeaders,
        body: { required: true, content: { "application/json": { schema: z.object({ username: Username, password: NewPassword }) } } },
      },
      responses: { 201: { description: "created", content: { "application/json": { schema: Account } } }, ...errors(400, 409, 413, 422, 429, 503) },
    }),
    async (c) => {
      const { username, password } = c.req.valid("json");
      const { account } = await limitedSignup(c, deps, username, async (passwords) => {
        // Hashed here, once, by the node that took the request: only the slow hash is replicated.
        const passwordHash = await c.var.deadline.run(() => passwords.hash(password));
        return execute(c, deps, username, { type: "createAccount", username, passwordHash }, "accountCreated", { request: { username } });
      });
      c.header("Location", `/v1/accounts/${encodeURIComponent(account.username)}`);
      return c.json({ username: account.username, createdAt: account.createdAt }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/accounts/{username}",
      operationId: "getAccount",
      tags: ["accounts"],
      summary: "One account",
      security: publicAccess,
      request: { params: z.object({ username: z.string().max(64) }), query: z.object({ consistency: ConsistencyQuery }) },
      responses: { 200: { description: "the account", content: { "application/json": { schema: Account } } }, ...errors(400, 404, 429, 503) },
    }),
    async (c) => {
      const { username } = c.req.valid("param");
      const notFound = new ApiError(404, "not_found", `no account named '${username}'`);
      if (!USERNAME_PATTERN.test(username)) throw notFound;
      await beginRead(c, deps, c.req.valid("query").consistency);
      const account = await c.var.deadline.run(() => deps.backend.queries.account(username));
      if (account === null) throw notFound;
      return c.json({ username: account.username, createdAt: account.createdAt }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/accounts",
      operationId: "listAccounts",
      tags: ["accounts"],
      summary: "List accounts by glob, sorted by name",
      security: sessionSecurity,
      middleware: signedIn(deps, "read"),
      request: { query: z.object({ pattern: Pattern, limit: LimitQuery, cursor: Cursor, consistency: ConsistencyQuery }) },
      responses: {
        200: {
          description: "a page of accounts",
          content: {
            "application/json": {
              schema: z.object({
                accounts: z.array(Account),
                total: z.number().int().openapi({ description: `accounts matching the pattern, counted up to ${ACCOUNT_TOTAL_MAX}` }),
                totalCapped: z.boolean().openapi({ description: `true when more than ${ACCOUNT_TOTAL_MAX} match: total then reads "${ACCOUNT_TOTAL_MAX}+"` }),
                nextCursor: z.string().nullable(),
              }),
            },
          },
        },
        ...errors(400, 401, 429, 503),
      },
    }),
    async (c) => {
      const query = c.req.valid("query");
      await beginRead(c, deps, query.consistency);
      const page = await c.var.deadline.run(() => deps.backend.queries.listAccounts(query.pattern, query.limit ?? 50, query.cursor ?? null));
      return c.json(
        { accounts: page.accounts.map((a) => ({ username: a.username, createdAt: a.createdAt })), total: page.total, totalCapped: page.totalCapped, nextCursor: page.nextCursor },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/v1/accounts/me",
      operationId: "deleteMyAccount",
      tags: ["accounts"],
      summary: "Delete my account (needs the password)",
      description: "The account, its sessions and the messages it received are gone; messages it sent stay with their recipients, marked fromDeleted.",
      security: sessionSecurity,
      middleware: signedIn(deps, "write"),
      request: {
        headers: IdempotencyHeaders,
        body: { required: true, content: { "application/json": { schema: z.object({ password: Password }) } } },
      },
      responses: { 204: { description: "deleted" }, ...errors(400, 401, 403, 413, 422, 429, 503) },
    }),
    async (c) => {
      const { password } = c.req.valid("json");
      const me = c.var.session;
      await checkMyPassword(c, me.account, password);
      await execute(c, deps, me.account, { type: "deleteAccount", username: me.account }, "accountDeleted", { request: {} });
      deleteCookie(c, SESSION_COOKIE, { path: "/" });
      return c.body(null, 204);
    },
  );

  app.openapi(
    createRoute({
      method: "put",
      path: "/v1/accounts/me/password",
      operationId: "changeMyPassword",
      tags: ["accounts"],
      summary: "Change my password (needs the current one); every other session of mine ends",
      description:
        "The session that asks stays signed in; every other session of the account is revoked on every node. The check counts against the same limits as a login (429 rate_limited), a right current password as two successful ones (the new password is hashed too). The Idempotency-Key's request digest leaves both passwords out.",
      security: sessionSecurity,
      middleware: signedIn(deps, "write"),
      request: {
        headers: IdempotencyHeaders,
        body: { required: true, content: { "application/json": { schema: z.object({ currentPassword: Password, newPassword: NewPassword }) } } },
      },
      responses: {
        200: { description: "changed; how many other sessions ended", content: { "application/json": { schema: z.object({ revoked: z.number().int() }) } } },
        ...errors(400, 401, 403, 413, 422, 429, 503),
      },
    }),
    async (c) => {
      const { currentPassword, newPassword } = c.req.valid("json");
      const me = c.var.session;
      await checkMyPassword(c, me.account, currentPassword, 2);
      const passwordHash = await c.var.deadline.run(() => clientPasswords(c, deps).hash(newPassword));
      const result = await execute(c, deps, me.account, { type: "changePassword", username: me.account, passwordHash, keepTokenHash: me.tokenHash }, "passwordChanged", {
        refusals: { no_such_account: unauthorized("the account no longer exists") },
        request: {},
      });
      return c.json({ revoked: result.revoked }, 200);
    },
  );

  /** The signed-in account's password, checked under the login limits (`hashesIfRight` as there); 403 wrong_password when it is not. */
  async function checkMyPassword(c: Parameters<typeof limitedPasswordCheck>[0], account: string, password: string, hashesIfRight = 1): Promise<void> {
    let known = true;
    const ok = await limitedPasswordCheck(c, deps, account, async (passwords) => {
      const stored = await c.var.deadline.run(() => deps.backend.queries.passwordHash(account));
      if (stored === null) {
        known = false;
        return true; // not a wrong password: the account went meanwhile
      }
      return c.var.deadline.run(() => passwords.verify(password, stored));
    }, hashesIfRight);
    if (!known) throw unauthorized("the account no longer exists");
    if (!ok) throw new ApiError(403, "wrong_password", "the password is wrong");
  }

  return app;
}
