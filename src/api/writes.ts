import type { Context } from "hono";
import { IDEMPOTENCY_KEY_MAX_CHARS } from "../chat/chat-limits.ts";
import type { ApplyResult, ChatCommand, ChatErrorCode } from "../chat/commands.ts";
import type { ApiDeps, AppEnv } from "./api-env.ts";
import { ApiError, fromApplyError } from "./errors.ts";

type Applied = Extract<ApplyResult, { ok: true }>;
type Command = ChatCommand extends infer C ? (C extends ChatCommand ? Omit<C, "idempotency"> : never) : never;

/**
 * Replicate one command and return its result, or throw the ApiError for its refusal.
 * `account` scopes the Idempotency-Key: a retry with the same key and account returns the
 * first result (the state machine remembers it), even through another node.
 */
export async function execute<T extends Applied["type"]>(
  c: Context<AppEnv>,
  deps: ApiDeps,
  account: string,
  command: Command,
  expected: T,
  options: { refusals?: Partial<Record<ChatErrorCode, ApiError>>; idempotent?: boolean } = {},
): Promise<Extract<Applied, { type: T }>> {
  const key = options.idempotent === false ? undefined : c.req.header("idempotency-key");
  if (key !== undefined && (key.length === 0 || key.length > IDEMPOTENCY_KEY_MAX_CHARS)) {
    throw new ApiError(400, "invalid_idempotency_key", `an Idempotency-Key is 1-${IDEMPOTENCY_KEY_MAX_CHARS} characters`);
  }
  const full = (key === undefined ? command : { ...command, idempotency: { account, key } }) as ChatCommand;
  const result = await c.var.deadline.run((timeoutMs) => deps.backend.execute(full, timeoutMs));
  if (!result.ok) throw options.refusals?.[result.code] ?? fromApplyError(result.code, result.message);
  // A key reused for a different kind of write returns that write's first result.
  if (result.type !== expected) {
    throw new ApiError(409, "idempotency_key_reused", `this Idempotency-Key was already used for a different request (${result.type})`);
  }
  return result as Extract<Applied, { type: T }>;
}
