import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createApp } from "./app.ts";
import type { ChatBackend } from "../node/chat-backend.ts";
import type { PasswordHasher } from "./password-hasher.ts";
import { SseReader } from "./testing/sse-reader.ts";
import { pbkdf2Hasher } from "./testing/test-password-hasher.ts";

// The endpoint suite of API.md, written against the ChatBackend interface only, so the
// same tests run against the in-memory fake (api.test.ts) and a real node. It creates
// fresh, randomly named accounts in every test and never assumes an empty state, so one
// backend serves the whole suite.

export interface BackendFixture {
  readonly backend: ChatBackend;
  /** Defaults to a fast PBKDF2 hasher (test support). */
  readonly passwords?: PasswordHasher;
  dispose?(): Promise<void>;
}

export const ADMIN_TOKEN = "conformance-admin-token";
const GENEROUS = { burst: 1e9, perSecond: 1e9 };
const GENEROUS_LIMITS = { successfulLoginsPerAddress: GENEROUS, successfulLoginsPerAccount: GENEROUS, failedLoginsPerAddress: GENEROUS, failedLoginsPerAccount: GENEROUS, signupsPerAddress: GENEROUS, signupsPerUsername: GENEROUS };
const PASSWORD = "correct horse battery";

interface Reply {
  readonly status: number;
  readonly headers: Headers;
  readonly body: any;
}

interface CallOptions {
  readonly body?: unknown;
  readonly token?: string;
  readonly headers?: Record<string, string>;
}

export interface User {
  readonly name: string;
  readonly token: string;
}

export function describeApi(name: string, makeBackend: () => Promise<BackendFixture> | BackendFixture): void {
  describe(`HTTP API (${name})`, () => {
    let fixture: BackendFixture;
    let app: ReturnType<typeof createApp>;

    beforeAll(async () => {
      fixture = await makeBackend();
      // The suite signs up hundreds of accounts from one (unknown) address: the limits
      // themselves are tested by the "limits at the edge" tests, on apps of their own.
      app = createApp({ backend: fixture.backend, passwords: fixture.passwords ?? pbkdf2Hasher(), adminToken: ADMIN_TOKEN, rateLimits: GENEROUS_LIMITS });
    }, 60_000); // a real node may take a while to elect itself
    afterAll(async () => {
      await fixture?.dispose?.();
    });

    const call = async (method: string, path: string, options: CallOptions = {}): Promise<Reply> => {
      const headers: Record<string, string> = { ...options.headers };
      if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
      if (options.body !== undefined) headers["content-type"] ??= "application/json";
      const init: RequestInit = { method, headers };
      if (options.body !== undefined) init.body = typeof options.body === "string" ? options.body : JSON.stringify(options.body);
      const response = await app.request(path, init);
      const text = await response.text();
      let body: unknown = text;
      if ((response.headers.get("content-type") ?? "").includes("json") && text !== "") body = JSON.parse(text);
      return { status: response.status, headers: response.headers, body };
    };

    const uniqueName = (prefix = "u") => `${prefix}${crypto.randomUUID().replaceAll("-", "").slice(0, 10)}`;

    const signUp = async (name = uniqueName()): Promise<string> => {
      const reply = await call("POST", "/v1/accounts", { body: { username: name, password: PASSWORD } });
      expect(reply.status).toBe(201);
      return name;
    };

    const user = async (name?: string): Promise<User> => {
      const username = await signUp(name);
      const reply = await call("POST", "/v1/sessions", { body: { username, password: PASSWORD } });
      expect(reply.status).toBe(201);
      return { name: username, token: reply.body.token };
    };

    const send = async (from: User, to: string, content: string): Promise<number> => {
      const reply = await call("POST", "/v1/messages", { token: from.token, body: { to, content } });
      expect(reply.status).toBe(201);
      return reply.body.id;
    };

    const expectError = (reply: Reply, status: number, code: string) => {
      expect({ status: reply.status, code: reply.body?.error?.code }).toEqual({ status, code });
      expect(typeof reply.body.error.message).toBe("string");
      expect(Object.keys(reply.body)).toEqual(["error"]);
    };

    const openEvents = async (token: string, headers: Record<string, string> = {}, query = ""): Promise<SseReader> => {
      const response = await app.request(`/v1/events${query}`, { headers: { authorization: `Bearer ${token}`, ...headers } });
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toContain("text/event-stream");
      return new SseReader(response);
    };

    describe("accounts", () => {
      test("sign up returns 201 {username, createdAt}; the account can be read back", async () => {
        const name = uniqueName();
        const reply = await call("POST", "/v1/accounts", { body: { username: name, password: PASSWORD } });
        expect(reply.status).toBe(201);
        expect(Object.keys(reply.body).sort()).toEqual(["createdAt", "username"]);
        expect(reply.body.username).toBe(name);
        expect(Number.isNaN(Date.parse(reply.body.createdAt))).toBe(false);
        const read = await call("GET", `/v1/accounts/${name}`);
        expect(read.status).toBe(200);
        expect(read.body).toEqual(reply.body);
      });

      test("usernames are 1-32 of A-Za-z0-9_.- (400 invalid_username)", async () => {
        for (const bad of ["", "has space", "x".repeat(33), "émile", "a/b", "a:b"]) {
          expectError(await call("POST", "/v1/accounts", { body: { username: bad, password: PASSWORD } }), 400, "invalid_username");
        }
        await signUp(`A.b_c-${uniqueName()}`);
        await signUp(uniqueName().padEnd(32, "y"));
      });

      test("passwords need 8 characters (400 weak_password)", async () => {
        expectError(await call("POST", "/v1/accounts", { body: { username: uniqueName(), password: "1234567" } }), 400, "weak_password");
        expectError(await call("POST", "/v1/accounts", { body: { username: uniqueName(), password: "" } }), 400, "weak_password");
        expect((await call("POST", "/v1/accounts", { body: { username: uniqueName(), password: "12345678" } })).status).toBe(201);
      });

      test("malformed requests get 400 invalid_request, wrong media types 415", async () => {
        expectError(await call("POST", "/v1/accounts", { body: "{not json" }), 400, "invalid_request");
        expectError(await call("POST", "/v1/accounts", { body: { username: uniqueName() } }), 400, "invalid_request");
        expectError(await call("POST", "/v1/accounts", { body: { username: 42, password: PASSWORD } }), 400, "invalid_request");
        expectError(await call("POST", "/v1/accounts", { body: [] }), 400, "invalid_request");
        expectError(
          await call("POST", "/v1/accounts", { body: "username=x", headers: { "content-type": "application/x-www-form-urlencoded" } }),
          415,
          "unsupported_media_type",
        );
      });

      test("a taken username is 409 username_taken", async () => {
        const name = await signUp();
        expectError(await call("POST", "/v1/accounts", { body: { username: name, password: "another password" } }), 409, "username_taken");
      });

      test("an unknown or impossible account is 404 not_found", async () => {
        expectError(await call("GET", `/v1/accounts/${uniqueName()}`), 404, "not_found");
        expectError(await call("GET", "/v1/accounts/no%20such"), 404, "not_found");
      });

      test("listing needs a session, filters by glob, sorts by name and pages with a cursor", async () => {
        expectError(await call("GET", "/v1/accounts"), 401, "unauthorized");
        const me = await user();
        const stem = uniqueName("g");
        const names = ["c", "a", "b", "d", "e"].map((suffix) => `${stem}${suffix}`);
        for (const name of names) await signUp(name);
        await signUp(`${stem}zz`);

        const first = await call("GET", `/v1/accounts?pattern=${stem}?&limit=2`, { token: me.token });
        expect(first.status).toBe(200);
        expect(first.body.total).toBe(5);
        expect(first.body.accounts.map((a: { username: string }) => a.username)).toEqual([`${stem}a`, `${stem}b`]);
        expect(typeof first.body.nextCursor).toBe("string");
        const second = await call("GET", `/v1/accounts?pattern=${stem}?&limit=2&cursor=${encodeURIComponent(first.body.nextCursor)}`, { token: me.token });
        expect(second.body.accounts.map((a: { username: string }) => a.username)).toEqual([`${stem}c`, `${stem}d`]);
        const third = await call("GET", `/v1/accounts?pattern=${stem}?&limit=2&cursor=${encodeURIComponent(second.body.nextCursor)}`, { token: me.token });
        expect(third.body.accounts.map((a: { username: string }) => a.username)).toEqual([`${stem}e`]);
        expect(third.body.nextCursor).toBeNull();

        const star = await call("GET", `/v1/accounts?pattern=${stem}*&limit=200`, { token: me.token });
        expect(star.body.total).toBe(6);
        const everyone = await call("GET", "/v1/accounts", { token: me.token });
        expect(everyone.status).toBe(200);
        expect(everyone.body.accounts.length).toBeLessThanOrEqual(50);
        const sorted = [...everyone.body.accounts.map((a: { username: string }) => a.username)].sort();
        expect(everyone.body.accounts.map((a: { username: string }) => a.username)).toEqual(sorted);
      });

      test("listing rejects bad limits and patterns with 400", async () => {
        const me = await user();
        for (const query of ["limit=0", "limit=201", "limit=abc", "limit=1.5", "pattern=a%20b", `pattern=${"*".repeat(65)}`, "pattern="]) {
          expectError(await call("GET", `/v1/accounts?${query}`, { token: me.token }), 400, "invalid_request");
        }
      });

      test("deleting my account needs a session and the password", async () => {
        expectError(await call("DELETE", "/v1/accounts/me", { body: { password: PASSWORD } }), 401, "unauthorized");
        const me = await user();
        expectError(await call("DELETE", "/v1/accounts/me", { token: me.token, body: { password: "not the password" } }), 403, "wrong_password");
        expectError(await call("DELETE", "/v1/accounts/me", { token: me.token, body: {} }), 400, "invalid_request");
        expect((await call("GET", `/v1/accounts/${me.name}`)).status).toBe(200);
      });

      test("a deleted account is gone with its sessions and inbox; what it sent stays, from a deleted account", async () => {
        const leaving = await user();
        const other = await user();
        const secondSession = (await call("POST", "/v1/sessions", { body: { username: leaving.name, password: PASSWORD } })).body.token as string;
        const sentId = await send(leaving, other.name, "bye");
        const receivedId = await send(other, leaving.name, "see you");

        const reply = await call("DELETE", "/v1/accounts/me", { token: leaving.token, body: { password: PASSWORD } });
        expect(reply.status).toBe(204);
        expect(reply.body).toBe("");

        expectError(await call("GET", `/v1/accounts/${leaving.name}`), 404, "not_found");
        expectError(await call("GET", "/v1/conversations", { token: leaving.token }), 401, "unauthorized");
        expectError(await call("GET", "/v1/conversations", { token: secondSession }), 401, "unauthorized");
        expectError(await call("POST", "/v1/sessions", { body: { username: leaving.name, password: PASSWORD } }), 401, "bad_credentials");

        const conversation = await call("GET", `/v1/messages?with=${leaving.name}`, { token: other.token });
        expect(conversation.status).toBe(200);
        const ids = conversation.body.messages.map((m: { id: number }) => m.id);
        expect(ids).toContain(sentId);
        expect(ids).not.toContain(receivedId);
        const kept = conversation.body.messages.find((m: { id: number }) => m.id === sentId);
        expect(kept).toMatchObject({ from: leaving.name, fromDeleted: true, content: "bye" });
        expectError(await call("POST", "/v1/messages", { token: other.token, body: { to: leaving.name, content: "hello?" } }), 404, "no_such_recipient");
      });
    });

    describe("sessions", () => {
      test("login returns 201 {token, username, unread} and sets an HttpOnly SameSite=Strict cookie", async () => {
        const name = await signUp();
        const sender = await user();
        await send(sender, name, "one");
        await send(sender, name, "two");
        const reply = await call("POST", "/v1/sessions", { body: { username: name, password: PASSWORD } });
        expect(reply.status).toBe(201);
        expect(Object.keys(reply.body).sort()).toEqual(["token", "unread", "username"]);
        expect(reply.body).toMatchObject({ username: name, unread: 2 });
        expect(reply.body.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
        const cookie = reply.headers.get("set-cookie") ?? "";
        expect(cookie).toContain(`concord_session=${reply.body.token}`);
        expect(cookie).toContain("HttpOnly");
        expect(cookie).toContain("SameSite=Strict");
        expect(cookie).toContain("Path=/");
      });

      test("every login gets a fresh token", async () => {
        const name = await signUp();
        const a = await call("POST", "/v1/sessions", { body: { username: name, password: PASSWORD } });
        const b = await call("POST", "/v1/sessions", { body: { username: name, password: PASSWORD } });
        expect(a.body.token).not.toBe(b.body.token);
      });

      test("a wrong password and an unknown user get the same 401 bad_credentials", async () => {
        const name = await signUp();
        const wrong = await call("POST", "/v1/sessions", { body: { username: name, password: "wrong password" } });
        const unknown = await call("POST", "/v1/sessions", { body: { username: uniqueName(), password: PASSWORD } });
        const impossible = await call("POST", "/v1/sessions", { body: { username: "not a name", password: PASSWORD } });
        expectError(wrong, 401, "bad_credentials");
        expect(unknown.body).toEqual(wrong.body);
        expect(impossible.body).toEqual(wrong.body);
        expect(wrong.headers.get("set-cookie")).toBeNull();
        expectError(await call("POST", "/v1/sessions", { body: { username: name } }), 400, "invalid_request");
      });

      test("the bearer header or the cookie authenticates; junk does not", async () => {
        const me = await user();
        expect((await call("GET", "/v1/conversations", { headers: { cookie: `concord_session=${me.token}` } })).status).toBe(200);
        expect((await call("GET", "/v1/conversations", { headers: { authorization: `bearer ${me.token}` } })).status).toBe(200);
        const missing = await call("GET", "/v1/conversations");
        expectError(missing, 401, "unauthorized");
        expect(missing.headers.get("www-authenticate")).toContain("Bearer");
        for (const header of ["Bearer", `Basic ${btoa("a:b")}`, `Bearer ${"A".repeat(43)}`, `Bearer ${me.token}x`, `Bearer ${me.token.slice(1)}`]) {
          expectError(await call("GET", "/v1/conversations", { headers: { authorization: header } }), 401, "unauthorized");
        }
        // The header wins over the cookie.
        expectError(await call("GET", "/v1/conversations", { headers: { authorization: `Bearer ${"B".repeat(43)}`, cookie: `concord_session=${me.token}` } }), 401, "unauthorized");
      });

      test("logout revokes only this token; a second logout is 401", async () => {
        const me = await user();
        const other = (await call("POST", "/v1/sessions", { body: { username: me.name, password: PASSWORD } })).body.token as string;
        const reply = await call("DELETE", "/v1/sessions/current", { token: me.token });
        expect(reply.status).toBe(204);
        expect(reply.headers.get("set-cookie") ?? "").toContain("concord_session=;");
        expectError(await call("GET", "/v1/conversations", { token: me.token }), 401, "unauthorized");
        expectError(await call("POST", "/v1/messages", { token: me.token, body: { to: me.name, content: "x" } }), 401, "unauthorized");
        expectError(await call("DELETE", "/v1/sessions/current", { token: me.token }), 401, "unauthorized");
        expect((await call("GET", "/v1/conversations", { token: other })).status).toBe(200);
      });

      test("DELETE /v1/sessions signs out every session of mine, on every node, and no one else's", async () => {
        const me = await user();
        const second = (await call("POST", "/v1/sessions", { body: { username: me.name, password: PASSWORD } })).body.token as string;
        const stranger = await user();
        expectError(await call("DELETE", "/v1/sessions"), 401, "unauthorized");
        const reply = await call("DELETE", "/v1/sessions", { token: me.token });
        expect(reply.status).toBe(200);
        expect(reply.body).toEqual({ revoked: 2 });
        expect(reply.headers.get("set-cookie") ?? "").toContain("concord_session=;");
        expectError(await call("GET", "/v1/conversations", { token: me.token }), 401, "unauthorized");
        expectError(await call("GET", "/v1/conversations", { token: second }), 401, "unauthorized");
        expect((await call("GET", "/v1/conversations", { token: stranger.token })).status).toBe(200);
        // Signing in again works: the account is untouched.
        expect((await call("POST", "/v1/sessions", { body: { username: me.name, password: PASSWORD } })).status).toBe(201);
      });

      test("PUT /v1/accounts/me/password needs the current password; it keeps this session and ends the others", async () => {
        const me = await user();
        const other = (await call("POST", "/v1/sessions", { body: { username: me.name, password: PASSWORD } })).body.token as string;
        const path = "/v1/accounts/me/password";
        expectError(await call("PUT", path, { body: { currentPassword: PASSWORD, newPassword: "a new password" } }), 401, "unauthorized");
        expectError(await call("PUT", path, { token: me.token, body: { currentPassword: "not it at all", newPassword: "a new password" } }), 403, "wrong_password");
        expectError(await call("PUT", path, { token: me.token, body: { currentPassword: PASSWORD, newPassword: "short" } }), 400, "weak_password");
        expectError(await call("PUT", path, { token: me.token, body: { newPassword: "a new password" } }), 400, "invalid_request");
        // Nothing changed so far: the other session still works.
        expect((await call("GET", "/v1/conversations", { token: other })).status).toBe(200);

        const reply = await call("PUT", path, { token: me.token, body: { currentPassword: PASSWORD, newPassword: "a new password" } });
        expect(reply.status).toBe(200);
        expect(reply.body).toEqual({ revoked: 1 });
        expect((await call("GET", "/v1/conversations", { token: me.token })).status).toBe(200);
        expectError(await call("GET", "/v1/conversations", { token: other }), 401, "unauthorized");
        expectError(await call("POST", "/v1/sessions", { body: { username: me.name, password: PASSWORD } }), 401, "bad_credentials");
        expect((await call("POST", "/v1/sessions", { body: { username: me.name, password: "a new password" } })).status).toBe(201);
      });

      test("a session past its idle or absolute lifetime is 401 session_expired", async () => {
        // The API judges expiry by its own clock: this app's runs 8 days ahead (past the 7-day idle lifetime).
        const ahead = createApp({ backend: fixture.backend, passwords: fixture.passwords ?? pbkdf2Hasher(), adminToken: null, now: () => Date.now() + 8 * 86_400_000 });
        const me = await user();
        const expired = await ahead.request("/v1/conversations", { headers: { authorization: `Bearer ${me.token}` } });
        expect(expired.status).toBe(401);
        expect(((await expired.json()) as { error: { code: string } }).error.code).toBe("session_expired");
        expect((await call("GET", "/v1/conversations", { token: me.token })).status).toBe(200);
        const events = await ahead.request("/v1/events", { headers: { authorization: `Bearer ${me.token}` } });
        expect(events.status).toBe(401);
        await events.body?.cancel();
      });
    });

    describe("limits at the edge", () => {
      // Apps of their own on the same backend, with small limits and the client address
      // taken from a test header (app.request has no peer address).
      const limitedApp = (overrides: Partial<Parameters<typeof createApp>[0]> = {}) =>
        createApp({
          backend: fixture.backend,
          passwords: fixture.passwords ?? pbkdf2Hasher(),
          adminToken: null,
          clientAddress: (request) => request.headers.get("x-test-address"),
          rateLimits: {
            failedLoginsPerAddress: { burst: 3, perSecond: 0.001 },
            failedLoginsPerAccount: { burst: 4, perSecond: 0.001 },
            signupsPerAddress: { burst: 3, perSecond: 0.001 },
            signupsPerUsername: { burst: 2, perSecond: 0.001 },
          },
          ...overrides,
        });
      const from = (limited: ReturnType<typeof createApp>, address: string) => async (method: string, path: string, body?: unknown, token?: string) => {
        const headers: Record<string, string> = { "x-test-address": address, "content-type": "application/json" };
        if (token !== undefined) headers.authorization = `Bearer ${token}`;
        const response = await limited.request(path, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
        const text = await response.text();
        return { status: response.status, headers: response.headers, body: text === "" ? null : JSON.parse(text) };
      };

      test("failed logins are limited per address with 429 rate_limited and Retry-After; successful ones do not use that budget", async () => {
        const limited = limitedApp();
        const me = await signUp();
        const a = from(limited, "203.0.113.1");
        for (let i = 0; i < 5; i++) expect((await a("POST", "/v1/sessions", { username: me, password: PASSWORD })).status).toBe(201);
        for (let i = 0; i < 3; i++) expectError(await a("POST", "/v1/sessions", { username: uniqueName(), password: "wrong" }), 401, "bad_credentials");
        const refused = await a("POST", "/v1/sessions", { username: me, password: PASSWORD });
        expectError(refused, 429, "rate_limited");
        expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
        // Another address is not affected.
        expect((await from(limited, "203.0.113.2")("POST", "/v1/sessions", { username: me, password: PASSWORD })).status).toBe(201);
      });

      test("successful logins are limited too, per address and per account (a password change counts two)", async () => {
        const limited = limitedApp({ rateLimits: { successfulLoginsPerAddress: { burst: 3, perSecond: 0.001 }, successfulLoginsPerAccount: { burst: 4, perSecond: 0.001 } } });
        const me = await signUp();
        const a = from(limited, "203.0.113.31");
        for (let i = 0; i < 3; i++) expect((await a("POST", "/v1/sessions", { username: me, password: PASSWORD })).status).toBe(201);
        const refused = await a("POST", "/v1/sessions", { username: me, password: PASSWORD });
        expectError(refused, 429, "rate_limited");
        expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
        const session = await from(limited, "203.0.113.32")("POST", "/v1/sessions", { username: me, password: PASSWORD }); // the account's 4th
        expect(session.status).toBe(201);
        expectError(await from(limited, "203.0.113.33")("POST", "/v1/sessions", { username: me, password: PASSWORD }), 429, "rate_limited");
        expect((await from(limited, "203.0.113.33")("POST", "/v1/sessions", { username: await signUp(), password: PASSWORD })).status).toBe(201);
        // A password change hashes twice: login (1) + change (2) leave the account one, too few for another change.
        const other = await signUp();
        const login = await from(limited, "203.0.113.34")("POST", "/v1/sessions", { username: other, password: PASSWORD });
        const change = await from(limited, "203.0.113.35")("PUT", "/v1/accounts/me/password", { currentPassword: PASSWORD, newPassword: "another password" }, login.body.token);
        expect(change.status).toBe(200);
        const again = from(limited, "203.0.113.36");
        expectError(await again("PUT", "/v1/accounts/me/password", { currentPassword: "another password", newPassword: PASSWORD }, login.body.token), 429, "rate_limited");
        expect((await again("POST", "/v1/sessions", { username: other, password: "another password" })).status).toBe(201); // the one left
      });

      test("failed password checks are limited per account, from any address; other accounts are not affected", async () => {
        const limited = limitedApp();
        const victim = await signUp();
        const bystander = await signUp();
        for (let i = 0; i < 4; i++) expectError(await from(limited, `198.51.100.${i}`)("POST", "/v1/sessions", { username: victim, password: "guess" }), 401, "bad_credentials");
        expectError(await from(limited, "198.51.100.9")("POST", "/v1/sessions", { username: victim, password: "guess" }), 429, "rate_limited");
        // Even the right password waits: the guesser must not learn it by the answer.
        expectError(await from(limited, "198.51.100.10")("POST", "/v1/sessions", { username: victim, password: PASSWORD }), 429, "rate_limited");
        expect((await from(limited, "198.51.100.10")("POST", "/v1/sessions", { username: bystander, password: PASSWORD })).status).toBe(201);
      });

      test("wrong current passwords count against the account's failed-attempt limit", async () => {
        const limited = limitedApp();
        const me = await user();
        for (let i = 0; i < 3; i++) {
          expectError(await from(limited, `192.0.2.${i}`)("PUT", "/v1/accounts/me/password", { currentPassword: "nope", newPassword: "whatever123" }, me.token), 403, "wrong_password");
        }
        expectError(await from(limited, "192.0.2.50")("DELETE", "/v1/accounts/me", { password: "nope" }, me.token), 403, "wrong_password");
        expectError(await from(limited, "192.0.2.51")("DELETE", "/v1/accounts/me", { password: PASSWORD }, me.token), 429, "rate_limited");
        expect((await call("GET", `/v1/accounts/${me.name}`)).status).toBe(200);
      });

      test("sign-ups are limited per address and per username", async () => {
        const limited = limitedApp();
        const a = from(limited, "203.0.113.77");
        for (let i = 0; i < 3; i++) expect((await a("POST", "/v1/accounts", { username: uniqueName(), password: PASSWORD })).status).toBe(201);
        expectError(await a("POST", "/v1/accounts", { username: uniqueName(), password: PASSWORD }), 429, "rate_limited");
        const taken = await signUp();
        for (let i = 0; i < 2; i++) expectError(await from(limited, `203.0.113.${100 + i}`)("POST", "/v1/accounts", { username: taken, password: PASSWORD }), 409, "username_taken");
        expectError(await from(limited, "203.0.113.110")("POST", "/v1/accounts", { username: taken, password: PASSWORD }), 429, "rate_limited");
      });

      test("limits hold their memory bounded: past the key cap new keys wait, and no depleted bucket is forgotten", async () => {
        const limited = limitedApp({ rateLimits: { failedLoginsPerAddress: { burst: 1, perSecond: 0.001 }, failedLoginsPerAccount: { burst: 1e9, perSecond: 1e9 }, maxKeys: 2 } });
        const name = uniqueName();
        expectError(await from(limited, "10.1.0.1")("POST", "/v1/sessions", { username: name, password: "x" }), 401, "bad_credentials");
        expectError(await from(limited, "10.1.0.1")("POST", "/v1/sessions", { username: name, password: "x" }), 429, "rate_limited");
        expectError(await from(limited, "10.1.0.2")("POST", "/v1/sessions", { username: name, password: "x" }), 401, "bad_credentials");
        // Both kept buckets still owe: a third address has no room until one refills, and
        // 10.1.0.1's bucket is not pushed out (it would start full again).
        const waits = await from(limited, "10.1.0.3")("POST", "/v1/sessions", { username: name, password: "x" });
        expectError(waits, 429, "rate_limited");
        expect(Number(waits.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
        expectError(await from(limited, "10.1.0.1")("POST", "/v1/sessions", { username: name, password: "x" }), 429, "rate_limited");
      });
    });

    describe("messages", () => {
      test("send returns 201 with the message; ids are log indexes, increasing", async () => {
        const alice = await user();
        const bob = await user();
        const reply = await call("POST", "/v1/messages", { token: alice.token, body: { to: bob.name, content: "  hello bob \n" } });
        expect(reply.status).toBe(201);
        expect(reply.body).toMatchObject({ from: alice.name, to: bob.name, content: "hello bob", readAt: null, fromDeleted: false });
        expect(Number.isInteger(reply.body.id)).toBe(true);
        expect(Number.isNaN(Date.parse(reply.body.sentAt))).toBe(false);
        const next = await send(alice, bob.name, "again");
        expect(next).toBeGreaterThan(reply.body.id);
      });

      test("sending needs a session, a recipient and 1-4000 characters", async () => {
        const alice = await user();
        expectError(await call("POST", "/v1/messages", { body: { to: alice.name, content: "hi" } }), 401, "unauthorized");
        expectError(await call("POST", "/v1/messages", { token: alice.token, body: { to: uniqueName(), content: "hi" } }), 404, "no_such_recipient");
        expectError(await call("POST", "/v1/messages", { token: alice.token, body: { to: "no such!", content: "hi" } }), 404, "no_such_recipient");
        for (const content of ["", "   \n\t ", "x".repeat(4001)]) {
          expectError(await call("POST", "/v1/messages", { token: alice.token, body: { to: alice.name, content } }), 400, "invalid_content");
        }
        expectError(await call("POST", "/v1/messages", { token: alice.token, body: { to: alice.name, content: 5 } }), 400, "invalid_request");
        expectError(await call("POST", "/v1/messages", { token: alice.token, body: { content: "x" } }), 400, "invalid_request");
        // 4000 characters are counted as code points, after trimming.
        await send(alice, alice.name, `  ${"😀".repeat(4000)}  `);
        await send(alice, alice.name, "x".repeat(4000));
      });

      test("a conversation has both directions, newest first, in pages", async () => {
        const alice = await user();
        const bob = await user();
        const carol = await user();
        const ids: number[] = [];
        for (let i = 0; i < 5; i++) ids.push(await send(i % 2 === 0 ? alice : bob, i % 2 === 0 ? bob.name : alice.name, `m${i}`));
        await send(carol, alice.name, "not in this conversation");

        const all = await call("GET", `/v1/messages?with=${bob.name}`, { token: alice.token });
        expect(all.status).toBe(200);
        expect(all.body.messages.map((m: { id: number }) => m.id)).toEqual([...ids].reverse());
        expect(all.body.nextBefore).toBeNull();
        expect(all.body.unread).toBe(3); // 2 from bob, 1 from carol

        const page1 = await call("GET", `/v1/messages?with=${bob.name}&limit=2`, { token: alice.token });
        expect(page1.body.messages.map((m: { content: string }) => m.content)).toEqual(["m4", "m3"]);
        expect(page1.body.nextBefore).toBe(ids[3]);
        const page2 = await call("GET", `/v1/messages?with=${bob.name}&limit=2&before=${page1.body.nextBefore}`, { token: alice.token });
        expect(page2.body.messages.map((m: { content: string }) => m.content)).toEqual(["m2", "m1"]);
        const page3 = await call("GET", `/v1/messages?with=${bob.name}&limit=2&before=${page2.body.nextBefore}`, { token: alice.token });
        expect(page3.body.messages.map((m: { content: string }) => m.content)).toEqual(["m0"]);
        expect(page3.body.nextBefore).toBeNull();
      });

      test("unread=true is my unread inbox, newest first", async () => {
        const alice = await user();
        const bob = await user();
        const carol = await user();
        const a = await send(bob, alice.name, "from bob");
        const b = await send(carol, alice.name, "from carol");
        await send(alice, bob.name, "mine");
        const inbox = await call("GET", "/v1/messages?unread=true", { token: alice.token });
        expect(inbox.status).toBe(200);
        expect(inbox.body.messages.map((m: { id: number }) => m.id)).toEqual([b, a]);
        expect(inbox.body.unread).toBe(2);
      });

      test("reading messages needs exactly one of with or unread=true, and sane numbers", async () => {
        const alice = await user();
        expectError(await call("GET", "/v1/messages"), 401, "unauthorized");
        for (const query of ["", "?unread=false", `?with=${alice.name}&unread=true`, "?unread=yes", "?with=x&limit=0", "?with=x&limit=201", "?with=x&before=0", "?with=x&before=-1", "?with=x&limit=ten"]) {
          expectError(await call("GET", `/v1/messages${query}`, { token: alice.token }), 400, "invalid_request");
        }
      });

      test("conversations: one per partner, newest first, with unread counts", async () => {
        const alice = await user();
        const bob = await user();
        const carol = await user();
        await send(bob, alice.name, "b1");
        await send(bob, alice.name, "b2");
        const last = await send(carol, alice.name, "c1");
        const reply = await call("GET", "/v1/conversations", { token: alice.token });
        expect(reply.status).toBe(200);
        expect(reply.body.conversations.map((c: { with: string }) => c.with)).toEqual([carol.name, bob.name]);
        expect(reply.body.conversations[0]).toMatchObject({ with: carol.name, unread: 1, lastMessage: { id: last, content: "c1" } });
        expect(reply.body.conversations[1]).toMatchObject({ with: bob.name, unread: 2, lastMessage: { content: "b2" } });
        await send(alice, bob.name, "a1");
        const after = await call("GET", "/v1/conversations", { token: alice.token });
        expect(after.body.conversations.map((c: { with: string }) => c.with)).toEqual([bob.name, carol.name]);
        expectError(await call("GET", "/v1/conversations"), 401, "unauthorized");
      });

      test("mark read by ids or by {with, upTo}; only my received, unread messages count", async () => {
        const alice = await user();
        const bob = await user();
        const m1 = await send(bob, alice.name, "1");
        const m2 = await send(bob, alice.name, "2");
        const m3 = await send(bob, alice.name, "3");
        const mine = await send(alice, bob.name, "mine");

        const byIds = await call("POST", "/v1/messages/read", { token: alice.token, body: { ids: [m1, mine] } });
        expect(byIds.status).toBe(200);
        expect(byIds.body).toEqual({ marked: 1 });
        expect((await call("POST", "/v1/messages/read", { token: alice.token, body: { ids: [m1] } })).body).toEqual({ marked: 0 });

        const byRange = await call("POST", "/v1/messages/read", { token: alice.token, body: { with: bob.name, upTo: m2 } });
        expect(byRange.body).toEqual({ marked: 1 });
        const conversation = await call("GET", `/v1/messages?with=${bob.name}`, { token: alice.token });
        const readAt = Object.fromEntries(conversation.body.messages.map((m: { id: number; readAt: string | null }) => [m.id, m.readAt]));
        expect(typeof readAt[m1]).toBe("string");
        expect(typeof readAt[m2]).toBe("string");
        expect(readAt[m3]).toBeNull();
        expect(conversation.body.unread).toBe(1);
      });

      test("mark read rejects anything but {ids} or {with, upTo}", async () => {
        const alice = await user();
        expectError(await call("POST", "/v1/messages/read", { body: { ids: [1] } }), 401, "unauthorized");
        for (const body of [{}, { ids: [] }, { ids: [1], with: "x", upTo: 1 }, { with: "x" }, { upTo: 3 }, { ids: ["1"] }, { ids: [0] }, { ids: Array.from({ length: 1001 }, (_, i) => i + 1) }]) {
          expectError(await call("POST", "/v1/messages/read", { token: alice.token, body }), 400, "invalid_request");
        }
      });

      test("delete removes my sent or received messages for both sides; the rest are notFound", async () => {
        const alice = await user();
        const bob = await user();
        const carol = await user();
        const sent = await send(alice, bob.name, "to bob");
        const received = await send(bob, alice.name, "to alice");
        const theirs = await send(bob, carol.name, "not alice's");
        const reply = await call("DELETE", "/v1/messages", { token: alice.token, body: { ids: [sent, received, theirs, 999_999_999] } });
        expect(reply.status).toBe(200);
        expect([...reply.body.deleted].sort()).toEqual([sent, received].sort());
        expect([...reply.body.notFound].sort()).toEqual([theirs, 999_999_999].sort());
        const bobView = await call("GET", `/v1/messages?with=${alice.name}`, { token: bob.token });
        expect(bobView.body.messages).toEqual([]);
        const carolView = await call("GET", `/v1/messages?with=${bob.name}`, { token: carol.token });
        expect(carolView.body.messages.map((m: { id: number }) => m.id)).toEqual([theirs]);
        expectError(await call("DELETE", "/v1/messages", { token: alice.token, body: { ids: [] } }), 400, "invalid_request");
        expectError(await call("DELETE", "/v1/messages", { body: { ids: [sent] } }), 401, "unauthorized");
      });
    });

    describe("idempotency", () => {
      test("a retry with the same key returns the first result and changes nothing", async () => {
        const alice = await user();
        const bob = await user();
        const headers = { "idempotency-key": `send-${uniqueName()}` };
        const first = await call("POST", "/v1/messages", { token: alice.token, headers, body: { to: bob.name, content: "once" } });
        const retry = await call("POST", "/v1/messages", { token: alice.token, headers, body: { to: bob.name, content: "once" } });
        expect(first.status).toBe(201);
        expect(retry.status).toBe(201);
        expect(retry.body).toEqual(first.body);
        const other = await call("POST", "/v1/messages", { token: alice.token, headers: { "idempotency-key": "another" }, body: { to: bob.name, content: "once" } });
        expect(other.body.id).not.toBe(first.body.id);
        const conversation = await call("GET", `/v1/messages?with=${bob.name}`, { token: alice.token });
        expect(conversation.body.messages.length).toBe(2);
      });

      test("a key reused with a different request is 422 idempotency_key_mismatch and changes nothing", async () => {
        const alice = await user();
        const bob = await user();
        const headers = { "idempotency-key": `k-${uniqueName()}` };
        const first = await call("POST", "/v1/messages", { token: alice.token, headers, body: { to: bob.name, content: "once" } });
        expect(first.status).toBe(201);
        expectError(await call("POST", "/v1/messages", { token: alice.token, headers, body: { to: bob.name, content: "something else" } }), 422, "idempotency_key_mismatch");
        expectError(await call("POST", "/v1/messages", { token: alice.token, headers, body: { to: alice.name, content: "once" } }), 422, "idempotency_key_mismatch");
        expectError(await call("DELETE", "/v1/messages", { token: alice.token, headers, body: { ids: [first.body.id] } }), 422, "idempotency_key_mismatch");
        // The same request again still gets its first result; content is compared after trimming.
        expect((await call("POST", "/v1/messages", { token: alice.token, headers, body: { to: bob.name, content: " once " } })).body).toEqual(first.body);
        const conversation = await call("GET", `/v1/messages?with=${bob.name}`, { token: alice.token });
        expect(conversation.body.messages.map((m: { id: number }) => m.id)).toEqual([first.body.id]);
      });

      test("a sign-up retry returns the first 201, not username_taken", async () => {
        const name = uniqueName();
        const headers = { "idempotency-key": "signup-1" };
        const first = await call("POST", "/v1/accounts", { headers, body: { username: name, password: PASSWORD } });
        const retry = await call("POST", "/v1/accounts", { headers, body: { username: name, password: PASSWORD } });
        expect(first.status).toBe(201);
        expect(retry.status).toBe(201);
        expect(retry.body).toEqual(first.body);
        // Without the key it is a new request, and the name is taken.
        expectError(await call("POST", "/v1/accounts", { body: { username: name, password: PASSWORD } }), 409, "username_taken");
      });

      test("keys are scoped to the account", async () => {
        const alice = await user();
        const bob = await user();
        const headers = { "idempotency-key": "same-key" };
        const a = await call("POST", "/v1/messages", { token: alice.token, headers, body: { to: bob.name, content: "from alice" } });
        const b = await call("POST", "/v1/messages", { token: bob.token, headers, body: { to: alice.name, content: "from bob" } });
        expect(a.status).toBe(201);
        expect(b.status).toBe(201);
        expect(b.body.id).not.toBe(a.body.id);
        expect(b.body.from).toBe(bob.name);
      });

      test("mark read and delete retries return their first results", async () => {
        const alice = await user();
        const bob = await user();
        const id = await send(bob, alice.name, "x");
        const readKey = { "idempotency-key": "read-1" };
        expect((await call("POST", "/v1/messages/read", { token: alice.token, headers: readKey, body: { ids: [id] } })).body).toEqual({ marked: 1 });
        expect((await call("POST", "/v1/messages/read", { token: alice.token, headers: readKey, body: { ids: [id] } })).body).toEqual({ marked: 1 });
        const deleteKey = { "idempotency-key": "delete-1" };
        const first = await call("DELETE", "/v1/messages", { token: alice.token, headers: deleteKey, body: { ids: [id] } });
        const retry = await call("DELETE", "/v1/messages", { token: alice.token, headers: deleteKey, body: { ids: [id] } });
        expect(first.body).toEqual({ deleted: [id], notFound: [] });
        expect(retry.body).toEqual(first.body);
      });

      test("keys are 1-64 characters (400 invalid_idempotency_key)", async () => {
        const alice = await user();
        const long = await call("POST", "/v1/messages", { token: alice.token, headers: { "idempotency-key": "k".repeat(65) }, body: { to: alice.name, content: "x" } });
        expectError(long, 400, "invalid_idempotency_key");
        const signup = await call("POST", "/v1/accounts", { headers: { "idempotency-key": "k".repeat(65) }, body: { username: uniqueName(), password: PASSWORD } });
        expectError(signup, 400, "invalid_idempotency_key");
        const ok = await call("POST", "/v1/messages", { token: alice.token, headers: { "idempotency-key": "k".repeat(64) }, body: { to: alice.name, content: "x" } });
        expect(ok.status).toBe(201);
      });
    });

    describe("consistency", () => {
      test("reads are linearizable by default: a write is visible to the next read", async () => {
        const alice = await user();
        const bob = await user();
        const id = await send(alice, bob.name, "fresh");
        const reply = await call("GET", `/v1/messages?with=${alice.name}`, { token: bob.token });
        expect(reply.body.messages[0].id).toBe(id);
        expect(reply.headers.get("x-concord-applied-index")).toBeNull();
      });

      test("?consistency=local answers with the applied and commit indexes", async () => {
        const alice = await user();
        for (const path of ["/v1/conversations", `/v1/messages?with=${alice.name}`, "/v1/accounts", `/v1/accounts/${alice.name}`]) {
          const reply = await call("GET", `${path}${path.includes("?") ? "&" : "?"}consistency=local`, { token: alice.token });
          expect(reply.status).toBe(200);
          const applied = Number(reply.headers.get("x-concord-applied-index"));
          const commit = Number(reply.headers.get("x-concord-commit-index"));
          expect(Number.isInteger(applied) && applied > 0).toBe(true);
          expect(commit).toBeGreaterThanOrEqual(applied);
        }
        expectError(await call("GET", "/v1/conversations?consistency=eventual", { token: alice.token }), 400, "invalid_request");
      });
    });

    describe("events", () => {
      test("the stream needs a session", async () => {
        expectError(await call("GET", "/v1/events"), 401, "unauthorized");
        const me = await user();
        expectError(await call("GET", "/v1/events", { token: me.token, headers: { "last-event-id": "abc" } }), 400, "invalid_request");
        expectError(await call("GET", "/v1/events?lastEventId=-1", { token: me.token }), 400, "invalid_request");
      });

      test("Last-Event-ID replays what came after it, then the stream goes live", async () => {
        const alice = await user();
        const bob = await user();
        const first = await send(alice, bob.name, "one");
        const second = await send(alice, bob.name, "two");
        const third = await send(bob, alice.name, "three");

        const stream = await openEvents(bob.token, { "last-event-id": String(first) });
        try {
          const [ready, ...replayed] = await stream.events(3);
          expect(ready?.event).toBe("ready");
          expect(replayed.map((e) => [e.event, Number(e.id)])).toEqual([
            ["message", second],
            ["message", third],
          ]);
          expect(JSON.parse(replayed[0]!.data)).toMatchObject({ id: second, from: alice.name, to: bob.name, content: "two" });

          const live = await send(alice, bob.name, "four");
          const event = await stream.nextEvent();
          expect(event?.event).toBe("message");
          expect(Number(event?.id)).toBe(live);
          expect(JSON.parse(event!.data)).toMatchObject({ id: live, content: "four" });
        } finally {
          await stream.close();
        }
      });

      test("?lastEventId= works like the header; without either the stream starts now", async () => {
        const alice = await user();
        const bob = await user();
        const before = await send(alice, bob.name, "before");
        const replay = await openEvents(bob.token, {}, `?lastEventId=${before - 1}`);
        const fresh = await openEvents(bob.token);
        try {
          const [, replayed] = await replay.events(2);
          expect(Number(replayed?.id)).toBe(before);
          const ready = await fresh.nextEvent();
          expect(ready?.event).toBe("ready");
          expect(Number(ready?.id)).toBeGreaterThanOrEqual(before);
          const live = await send(alice, bob.name, "after");
          const event = await fresh.nextEvent();
          expect(Number(event?.id)).toBe(live);
        } finally {
          await replay.close();
          await fresh.close();
        }
      });

      test("read receipts, deletions and account deletions reach the accounts they concern", async () => {
        const alice = await user();
        const bob = await user();
        await send(bob, alice.name, "stays after bob leaves"); // so they are still partners then
        const start = await send(alice, bob.name, "hello");
        const aliceEvents = await openEvents(alice.token, { "last-event-id": String(start) });
        try {
          expect((await aliceEvents.nextEvent())?.event).toBe("ready");
          await call("POST", "/v1/messages/read", { token: bob.token, body: { ids: [start] } });
          const read = await aliceEvents.nextEvent();
          expect(read?.event).toBe("messages_read");
          expect(JSON.parse(read!.data)).toEqual({ ids: [start], by: bob.name });

          await call("DELETE", "/v1/messages", { token: bob.token, body: { ids: [start] } });
          const deleted = await aliceEvents.nextEvent();
          expect(deleted?.event).toBe("messages_deleted");
          expect(JSON.parse(deleted!.data)).toEqual({ ids: [start] });

          await call("DELETE", "/v1/accounts/me", { token: bob.token, body: { password: PASSWORD } });
          const gone = await aliceEvents.nextEvent();
          expect(gone?.event).toBe("account_deleted");
          expect(JSON.parse(gone!.data)).toEqual({ username: bob.name });
          expect(Number(gone?.id)).toBeGreaterThan(Number(deleted?.id));
        } finally {
          await aliceEvents.close();
        }
      });

      test("the cookie opens the stream too (EventSource cannot send headers)", async () => {
        const me = await user();
        const response = await app.request("/v1/events", { headers: { cookie: `concord_session=${me.token}` } });
        expect(response.status).toBe(200);
        const stream = new SseReader(response);
        expect((await stream.nextEvent())?.event).toBe("ready");
        await stream.close();
      });
    });

    describe("cluster", () => {
      test("/healthz and /readyz", async () => {
        expect(await call("GET", "/healthz")).toMatchObject({ status: 200, body: { ok: true } });
        const ready = await call("GET", "/readyz");
        expect(ready.status).toBe(200);
        expect(ready.body.ready).toBe(true);
      });

      test("/v1/cluster describes the node and its members", async () => {
        const reply = await call("GET", "/v1/cluster");
        expect(reply.status).toBe(200);
        for (const key of ["cluster", "nodeId", "role", "term", "leader", "commitIndex", "appliedIndex", "members"]) expect(reply.body).toHaveProperty(key);
        expect(reply.body.members.length).toBeGreaterThan(0);
        expect(Object.keys(reply.body.members[0]).sort()).toEqual(["id", "lastContactMs", "matchIndex", "voter"]);
        expect(reply.body.leader).not.toBeNull();
      });

      test("/v1/cluster/events pushes the status at once and on changes", async () => {
        const response = await app.request("/v1/cluster/events");
        expect(response.status).toBe(200);
        const stream = new SseReader(response);
        try {
          const first = await stream.nextEvent();
          expect(first?.event).toBe("status");
          const status = JSON.parse(first!.data);
          expect(status).toHaveProperty("commitIndex");
          const me = await user();
          await send(me, me.name, "move the commit index");
          // A real node may push other changes first (contact times): wait for the commit to show.
          let commitIndex = status.commitIndex as number;
          const until = Date.now() + 3000;
          while (commitIndex <= status.commitIndex && Date.now() < until) {
            const next = await stream.nextEvent(until - Date.now());
            if (next === null) break;
            commitIndex = JSON.parse(next.data).commitIndex;
          }
          expect(commitIndex).toBeGreaterThan(status.commitIndex);
        } finally {
          await stream.close();
        }
      });

      test("admin routes need the admin token (403) and validate their bodies", async () => {
        const me = await user();
        for (const [method, path, body] of [
          ["POST", "/v1/cluster/members", { id: 9, voter: true }],
          ["DELETE", "/v1/cluster/members/9", undefined],
          ["POST", "/v1/cluster/leader", { to: 1 }],
        ] as const) {
          expectError(await call(method, path, { body }), 403, "forbidden");
          expectError(await call(method, path, { body, token: me.token }), 403, "forbidden");
          expectError(await call(method, path, { body, headers: { authorization: `Bearer ${ADMIN_TOKEN}x` } }), 403, "forbidden");
        }
        const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
        expectError(await call("POST", "/v1/cluster/members", { headers: admin, body: { id: 0, voter: true } }), 400, "invalid_request");
        expectError(await call("POST", "/v1/cluster/members", { headers: admin, body: { id: 4 } }), 400, "invalid_request");
        expectError(await call("POST", "/v1/cluster/leader", { headers: admin, body: { to: "two" } }), 400, "invalid_request");
        expectError(await call("DELETE", "/v1/cluster/members/abc", { headers: admin }), 400, "invalid_request");
      });

      test("/metrics is Prometheus text with HTTP by route pattern and status, and the node's figures", async () => {
        const me = await user();
        await call("GET", `/v1/accounts/${me.name}`);
        const reply = await call("GET", "/metrics");
        expect(reply.status).toBe(200);
        expect(reply.headers.get("content-type")).toContain("text/plain");
        const text: string = reply.body;
        expect(text).toMatch(/concord_http_requests_total\{method="POST",route="\/v1\/accounts",status="201"\} \d+/);
        expect(text).toContain('route="/v1/accounts/:username"');
        expect(text).not.toContain(`route="/v1/accounts/${me.name}"`);
        expect(text).toContain("# TYPE concord_http_request_duration_seconds histogram");
        expect(text).toMatch(/concord_http_request_duration_seconds_bucket\{method="POST",route="\/v1\/sessions",le="\+Inf"\} \d+/);
        expect(text).toContain("# TYPE concord_raft_commit_index gauge");
        expect(text).toContain("# TYPE concord_proposal_latency_seconds histogram");
        for (const line of text.split("\n").filter((l) => l.trim() !== "")) {
          expect(line).toMatch(/^(# (HELP|TYPE) \S+ .+|#.*|[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})?( \S+){1,2})$/);
        }
      });
    });

    describe("the HTTP surface", () => {
      test("GET /v1/openapi.json lists every route", async () => {
        const reply = await call("GET", "/v1/openapi.json");
        expect(reply.status).toBe(200);
        expect(reply.body.openapi).toMatch(/^3\./);
        const paths = reply.body.paths as Record<string, Record<string, unknown>>;
        const expected: [string, string][] = [
          ["/v1/accounts", "post"],
          ["/v1/accounts", "get"],
          ["/v1/accounts/{username}", "get"],
          ["/v1/accounts/me", "delete"],
          ["/v1/sessions", "post"],
          ["/v1/sessions/current", "delete"],
          ["/v1/sessions", "delete"],
          ["/v1/accounts/me/password", "put"],
          ["/v1/messages", "post"],
          ["/v1/messages", "get"],
          ["/v1/messages", "delete"],
          ["/v1/messages/read", "post"],
          ["/v1/conversations", "get"],
          ["/v1/events", "get"],
          ["/v1/cluster", "get"],
          ["/v1/cluster/events", "get"],
          ["/v1/cluster/members", "post"],
          ["/v1/cluster/members/{id}", "delete"],
          ["/v1/cluster/leader", "post"],
          ["/healthz", "get"],
          ["/readyz", "get"],
          ["/metrics", "get"],
          ["/v1/openapi.json", "get"],
        ];
        for (const [path, method] of expected) expect(paths[path]?.[method], `${method} ${path}`).toBeDefined();
        expect(reply.body.components.schemas).toHaveProperty("Error");
        const responses = (path: string, method: string) => Object.keys((paths[path]?.[method] as { responses: object }).responses);
        expect(responses("/v1/messages", "post")).toEqual(expect.arrayContaining(["422", "429"]));
        expect(responses("/v1/sessions", "post")).toContain("429");
        expect(responses("/v1/accounts/me/password", "put")).toEqual(expect.arrayContaining(["200", "403", "422", "429"]));
        const list = (paths["/v1/accounts"]?.["get"] as { responses: Record<string, { content: Record<string, { schema: { properties: object } }> }> }).responses["200"]!;
        expect(Object.keys(list.content["application/json"]!.schema.properties)).toContain("totalCapped");
      });

      test("every answer carries the security headers; the page's CSP allows only this node's files and the nodes it knows", async () => {
        for (const reply of [await call("GET", "/healthz"), await call("GET", "/v1/nothing-here")]) {
          const csp = reply.headers.get("content-security-policy") ?? "";
          expect(csp).toContain("default-src 'none'");
          expect(csp).toContain("script-src 'self'");
          expect(csp).toContain("frame-ancestors 'none'");
          expect(csp).not.toContain("unsafe-inline");
          expect(reply.headers.get("x-content-type-options")).toBe("nosniff");
          expect(reply.headers.get("x-frame-options")).toBe("SAMEORIGIN");
          expect(reply.headers.get("referrer-policy")).toBe("no-referrer");
          expect(reply.headers.get("cross-origin-resource-policy")).toBe("cross-origin");
          expect(reply.headers.get("strict-transport-security")).toBeNull();
        }
      });

      test("bodies over the limit get 413 payload_too_large, with or without Content-Length", async () => {
        const big = JSON.stringify({ username: uniqueName(), password: "x".repeat(70 * 1024) });
        expectError(await call("POST", "/v1/accounts", { body: big }), 413, "payload_too_large");
        const chunked = new ReadableStream<Uint8Array>({
          start(controller) {
            for (let i = 0; i < 80; i++) controller.enqueue(new TextEncoder().encode("x".repeat(1024)));
            controller.close();
          },
        });
        const response = await app.request("/v1/accounts", { method: "POST", headers: { "content-type": "application/json" }, body: chunked, duplex: "half" } as RequestInit);
        expect(response.status).toBe(413);
        expect(((await response.json()) as { error: { code: string } }).error.code).toBe("payload_too_large");
      });

      test("unknown routes are 404 not_found in the error shape", async () => {
        expectError(await call("GET", "/v1/nothing-here"), 404, "not_found");
        expectError(await call("PUT", "/v1/messages"), 404, "not_found");
      });
    });
  });
}
