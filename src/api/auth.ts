import type { Context, MiddlewareHandler } from "hono";
import { getCookie } from "hono/cookie";
import type { SessionRecord } from "../chat/chat-queries.ts";
import type { ApiDeps, AppEnv, Session, SessionLifetimes } from "./api-env.ts";
import { ApiError, unauthorized } from "./errors.ts";
import { beginRead } from "./reads.ts";

/** The browser UI's session cookie (HttpOnly, SameSite=Strict: scripts and other sites cannot use it). */
export const SESSION_COOKIE = "concord_session";

// 32 random bytes in base64url without padding: exactly 43 characters. Anything else is
// rejected before touching the node, so junk tokens cannot trigger read barriers.
const TOKEN_BYTES = 32;
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export function newToken(): string {
  return base64url(crypto.getRandomValues(new Uint8Array(TOKEN_BYTES)));
}

/** Only this hash is replicated and stored: a copy of the database does not hand out sessions. */
export async function hashToken(token: string): Promise<string> {
  return hex(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token))));
}

/** Hashes of tokens presented lately, at most; past it the oldest goes first. */
const RECENT_TOKEN_HASHES_MAX = 4096;
const recentTokenHashes = new Map<string, string>();

/**
 * hashToken for a token presented with a request: a WebCrypto digest is an asynchronous
 * round trip that cost a fifth of the API's CPU for a signed-in write, and a client sends
 * the same token request after request. The hash is a pure function of the token, so
 * remembering it changes no answer (a revoked session is looked up by hash as before).
 */
async function presentedTokenHash(token: string): Promise<string> {
  const known = recentTokenHashes.get(token);
  if (known !== undefined) return known;
  const hash = await hashToken(token);
  if (recentTokenHashes.size >= RECENT_TOKEN_HASHES_MAX) recentTokenHashes.delete(recentTokenHashes.keys().next().value!);
  recentTokenHashes.set(token, hash);
  return hash;
}

/** The token from `Authorization: Bearer` or, failing that, the session cookie. */
export function presentedToken(c: Context<AppEnv>): string | null {
  const header = c.req.header("authorization");
  if (header !== undefined) {
    const match = /^Bearer[ ]+(\S{1,512})\s*$/i.exec(header);
    return match?.[1] ?? null;
  }
  return getCookie(c, SESSION_COOKIE) ?? null;
}

export type SessionState = "live" | "touch" | "expired";

/**
 * A stored session judged by this node's clock: past either lifetime it is expired
 * (refused at once, before apply's sweep reclaims the row), and last seen longer ago than
 * `touchAfterMs` it wants a touch (a replicated write that restarts its idle lifetime).
 * The state machine never reads a clock; only this answer depends on the node's.
 */
export function sessionState(session: SessionRecord, nowMs: number, lifetimes: SessionLifetimes): SessionState {
  const created = Date.parse(session.createdAt);
  const seen = session.lastSeenAt === null ? created : Date.parse(session.lastSeenAt);
  if (!(nowMs - created < lifetimes.absoluteMs) || !(nowMs - seen < lifetimes.idleMs)) return "expired";
  return nowMs - seen >= lifetimes.touchAfterMs ? "touch" : "live";
}

export const sessionExpired = (): ApiError =>
  new ApiError(401, "session_expired", "the session expired: sign in again", { "www-authenticate": 'Bearer realm="concord", error="invalid_token"' });

/**
 * The signed-in account. A miss is checked again after a read barrier: the login may have
 * committed through another node a moment ago and not be applied here yet. A hit needs no
 * barrier (the local copy only moves forward), except that a logout elsewhere reaches this
 * node one apply later; linearizable reads run their barrier first, so they see it.
 * An expired session is 401 session_expired; one due a touch gets it replicated first
 * (about once an hour per session; if the touch fails the request goes on regardless).
 */
export async function authenticate(c: Context<AppEnv>, deps: ApiDeps): Promise<Session> {
  const token = presentedToken(c);
  if (token === null || !TOKEN_PATTERN.test(token)) throw unauthorized();
  const tokenHash = await presentedTokenHash(token);
  const deadline = c.var.deadline;
  let session = await deadline.run(() => deps.backend.queries.session(tokenHash));
  if (session === null && !c.var.barrierDone) {
    await deadline.run((timeoutMs) => deps.backend.readBarrier(timeoutMs));
    c.set("barrierDone", true);
    session = await deadline.run(() => deps.backend.queries.session(tokenHash));
  }
  if (session === null) throw unauthorized("the session token is unknown or was revoked");
  const state = sessionState(session, deps.now(), deps.sessions);
  if (state === "expired") throw sessionExpired();
  if (state === "touch") await touch(deps, session.account, tokenHash, deadline.remaining());
  return { account: session.account, tokenHash };
}

/** Replicate that the session was seen now; never fails the caller (a lost touch is retried by the next request). */
export async function touch(deps: ApiDeps, account: string, tokenHash: string, timeoutMs: number): Promise<void> {
  if (timeoutMs <= 0) return;
  // At most half what is left: the request itself still needs the rest.
  const budgetMs = Math.max(1, Math.floor(timeoutMs / 2));
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      deps.backend.execute({ type: "touchSession", username: account, tokenHash }, budgetMs).then(() => {}, () => {}),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, budgetMs))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Route middleware for signed-in routes; runs before body validation, so an anonymous
 * request gets 401 whatever it sent. For a linearizable read the barrier comes first, so
 * the session check also sees a logout committed through another node.
 */
export function signedIn(deps: ApiDeps, kind: "read" | "write"): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (kind === "read" && c.req.query("consistency") !== "local") await beginRead(c, deps, "linearizable");
    c.set("session", await authenticate(c, deps));
    await next();
  };
}

/** Admin routes: `Authorization: Bearer <adminToken>`, compared in constant time. */
export async function requireAdmin(c: Context<AppEnv>, deps: ApiDeps): Promise<void> {
  if (deps.adminToken === null) throw new ApiError(403, "admin_disabled", "this node has no admin token configured");
  const presented = /^Bearer[ ]+(\S{1,512})\s*$/i.exec(c.req.header("authorization") ?? "")?.[1] ?? "";
  // Comparing digests keeps the time independent of where the strings first differ.
  const [a, b] = await Promise.all([hashToken(presented), hashToken(deps.adminToken)]);
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  if (diff !== 0 || presented === "") throw new ApiError(403, "forbidden", "admin routes need Authorization: Bearer <admin token>");
}

function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function hex(bytes: Uint8Array): string {
  let out = "";
  for (const byte of bytes) out += byte.toString(16).padStart(2, "0");
  return out;
}
