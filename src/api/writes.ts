import type { Context } from "hono";
import { IDEMPOTENCY_KEY_MAX_CHARS } from "../chat/chat-limits.ts";
import type { ApplyResult, ChatCommand, ChatErrorCode } from "../chat/commands.ts";
import type { ApiDeps, AppEnv } from "./api-env.ts";
import { ApiError, fromApplyError } from "./errors.ts";

type Applied = Extract<ApplyResult, { ok: true }>;
type Command = ChatCommand extends infer C ? (C extends ChatCommand ? Omit<C, "idempotency"> : never) : never;

/**
 * What identifies a request for its Idempotency-Key: SHA-256 (hex) of the method, the path
 * and the request's meaningful fields as canonical JSON (keys sorted). Passwords are left
 * out by the callers: a fast digest of a password must never reach the log.
 */
export async function requestDigest(method: string, path: string, fields: unknown): Promise<string> {
  const text = `${method.toUpperCase()} ${path}\n${canonicalJson(fields)}`;
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  let hex = "";
  for (const byte of digest) hex += byte.toString(16).padStart(2, "0");
  return hex;
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value ?? null);
}

/**
 * Replicate one command and return its result, or throw the ApiError for its refusal.
 * `account` scopes the Idempotency-Key: a retry with the same key and account returns the
 * first result (the state machine remembers it), even through another node. The key's
 * record carries the digest of `request` (the fields that make this request what it is):
 * the same key with another request gets 422 idempotency_key_mismatch.
 */
export async function execute<T extends Applied["type"]>(
  c: Context<AppEnv>,
  deps: ApiDeps,
  account: string,
  command: Command,
  expected: T,
  options: { refusals?: Partial<Record<ChatErrorCode, ApiError>>; idempotent?: boolean; request?: unknown } = {},
): Promise<Extract<Applied, { type: T }>> {
  const key = options.idempotent === false ? undefined : c.req.header("idempotency-key");
  if (key !== undefined && (key.length === 0 || key.length > IDEMPOTENCY_KEY_MAX_CHARS)) {
    throw new ApiError(400, "invalid_idempotency_key", `an Idempotency-Key is 1-${IDEMPOTENCY_KEY_MAX_CHARS} characters`);
  }
  const digest = key === undefined ? undefined : await requestDigest(c.req.method, c.req.path, options.request ?? null);
  const full = (key === undefined ? command : { ...command, idempotency: { account, key, digest } }) as ChatCommand;
  const result = await c.var.deadline.run((timeoutMs) => deps.backend.execute(full, timeoutMs));
  if (!result.ok) throw options.refusals?.[result.code] ?? fromApplyError(result.code, result.message);
  // A key reused for a different kind of write returns that write's first result.
  if (result.type !== expected) {
    throw new ApiError(409, "idempotency_key_reused", `this Idempotency-Key was already used for a different request (${result.type})`);
  }
  return result as Extract<Applied, { type: T }>;
}
