import { createRoute, z } from "@hono/zod-openapi";
import { deleteCookie, setCookie } from "hono/cookie";
import { USERNAME_PATTERN } from "../chat/chat-limits.ts";
import { createRouter, type ApiDeps } from "./api-env.ts";
import { hashToken, newToken, SESSION_COOKIE, signedIn } from "./auth.ts";
import { ApiError, unauthorized } from "./errors.ts";
import { limitedPasswordCheck } from "./password-checks.ts";
import { beginRead } from "./reads.ts";
import { errors, IdempotencyHeaders, Password, publicAccess, sessionSecurity } from "./schemas.ts";
import { execute } from "./writes.ts";

const badCredentials = () => new ApiError(401, "bad_credentials", "wrong username or password");

export function sessionRoutes(deps: ApiDeps) {
  const app = createRouter();

  // Unknown users are verified against this throwaway hash, so a login for a name that
  // does not exist costs the same slow hash as a wrong password: timing tells nothing.
  let decoy: Promise<string> | null = null;
  const decoyHash = () => {
    if (decoy === null) {
      decoy = deps.passwords.hash(newToken());
      decoy.catch(() => (decoy = null)); // a failed hash is retried by the next login
    }
    return decoy;
  };
  // Made now, so that even the first unknown-user login costs one hash, not two.
  void decoyHash().catch(() => {});

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/sessions",
      operationId: "createSession",
      tags: ["sessions"],
      summary: "Log in",
      security: publicAccess,
      description:
        "Returns a bearer token and sets it as an HttpOnly cookie. Not deduplicated by Idempotency-Key: only the token's hash is stored, so a retry cannot return the first token; it gets a new one. " +
        "Every login costs a slow hash, so logins are limited per client address and per username whatever the outcome: failed ones strictly, successful ones generously (429 rate_limited with Retry-After). A node checks only a few passwords at once, and one address may hold only half of the places waiting (429 overloaded). " +
        "A session ends 30 days after the login, or after 7 days unused (401 session_expired).",
      request: {
        body: { required: true, content: { "application/json": { schema: z.object({ username: z.string().max(64), password: Password }) } } },
      },
      responses: {
        201: {
          description: "signed in",
          content: { "application/json": { schema: z.object({ token: z.string(), username: z.string(), unread: z.number().int() }) } },
        },
        ...errors(400, 401, 413, 429, 503),
      },
    }),
    async (c) => {
      const { username, password } = c.req.valid("json");
      const deadline = c.var.deadline;
      const ok = await limitedPasswordCheck(c, deps, username, async (passwords) => {
        // Always a barrier (never only on a miss): an account created through another node a
        // moment ago must be found, and a barrier taken only for unknown names would leak
        // their existence through timing.
        await beginRead(c, deps, "linearizable");
        const stored = USERNAME_PATTERN.test(username) ? await deadline.run(() => deps.backend.queries.passwordHash(username)) : null;
        const hash = stored ?? (await deadline.run(decoyHash));
        const right = await deadline.run(() => passwords.verify(password, hash));
        return stored !== null && right;
      });
      if (!ok) throw badCredentials();

      const token = newToken();
      const tokenHash = await hashToken(token);
      const session = await execute(c, deps, username, { type: "createSession", username, tokenHash }, "sessionCreated", {
        refusals: { no_such_account: badCredentials() }, // deleted between the check and the commit
        idempotent: false,
      });
      setCookie(c, SESSION_COOKIE, token, {
        httpOnly: true,
        sameSite: "Strict",
        path: "/",
        secure: new URL(c.req.url).protocol === "https:",
      });
      return c.json({ token, username: session.username, unread: session.unread }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/v1/sessions/current",
      operationId: "deleteCurrentSession",
      tags: ["sessions"],
      summary: "Log out (revokes this token on every node)",
      security: sessionSecurity,
      middleware: signedIn(deps, "write"),
      request: { headers: IdempotencyHeaders },
      responses: { 204: { description: "logged out" }, ...errors(401, 422, 429, 503) },
    }),
    async (c) => {
      const me = c.var.session;
      await execute(c, deps, me.account, { type: "revokeSessions", username: me.account, tokenHash: me.tokenHash }, "sessionsRevoked");
      deleteCookie(c, SESSION_COOKIE, { path: "/" });
      return c.body(null, 204);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/v1/sessions",
      operationId: "deleteMySessions",
      tags: ["sessions"],
      summary: "Sign out everywhere: revokes every session of my account on every node, this one included",
      security: sessionSecurity,
      middleware: signedIn(deps, "write"),
      request: { headers: IdempotencyHeaders },
      responses: {
        200: { description: "how many sessions ended", content: { "application/json": { schema: z.object({ revoked: z.number().int() }) } } },
        ...errors(401, 422, 429, 503),
      },
    }),
    async (c) => {
      const me = c.var.session;
      const result = await execute(c, deps, me.account, { type: "revokeSessions", username: me.account, tokenHash: null }, "sessionsRevoked", {
        refusals: { no_such_account: unauthorized("the account no longer exists") },
      });
      deleteCookie(c, SESSION_COOKIE, { path: "/" });
      return c.json({ revoked: result.count }, 200);
    },
  );

  return app;
}
