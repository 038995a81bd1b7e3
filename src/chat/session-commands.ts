import type { Transaction } from "@libsql/client";
import { accountExists, refusal, type ApplyContext, type CommandOf } from "./apply-context.ts";
import { SESSIONS_PER_ACCOUNT_MAX } from "./chat-limits.ts";
import type { ApplyResult } from "./commands.ts";
import { integerAt, textAt } from "./row-values.ts";

/** A login. The password was checked by the API before proposing; only the token's hash is stored. */
export async function createSession(context: ApplyContext, command: CommandOf<"createSession">): Promise<ApplyResult> {
  const { tx, index, time } = context;
  const { username, tokenHash } = command;
  if (!(await accountExists(tx, username))) return refusal("no_such_account", `there is no account '${username}'`);
  const existing = await tx.execute({ sql: "SELECT username FROM sessions WHERE token_hash = ?", args: [tokenHash] });
  const owner = existing.rows[0];
  if (owner === undefined) {
    await tx.execute({
      sql: "INSERT INTO sessions (token_hash, username, created_at, created_index) VALUES (?, ?, ?, ?)",
      args: [tokenHash, username, time, index],
    });
    await evictOldestSessions(tx, username);
  } else if (textAt(owner, 0) !== username) {
    // Random tokens do not collide; a repeat means a broken proposer, which must not take over a session.
    return refusal("invalid_command", "the token hash belongs to another session");
  }
  return { ok: true, type: "sessionCreated", username, unread: await unreadCount(tx, username) };
}

/** Logout of one token, or of every session of the account when tokenHash is null. */
export async function revokeSessions(context: ApplyContext, command: CommandOf<"revokeSessions">): Promise<ApplyResult> {
  const { tx } = context;
  const { username, tokenHash } = command;
  if (tokenHash !== null) {
    const deleted = await tx.execute({ sql: "DELETE FROM sessions WHERE token_hash = ? AND username = ?", args: [tokenHash, username] });
    if (deleted.rowsAffected === 0) return refusal("no_such_session", "the session does not exist or was already revoked");
    return { ok: true, type: "sessionsRevoked", count: deleted.rowsAffected };
  }
  if (!(await accountExists(tx, username))) return refusal("no_such_account", `there is no account '${username}'`);
  const deleted = await tx.execute({ sql: "DELETE FROM sessions WHERE username = ?", args: [username] });
  return { ok: true, type: "sessionsRevoked", count: deleted.rowsAffected };
}

/** Past SESSIONS_PER_ACCOUNT_MAX the oldest logins end (by log index, which never ties). */
async function evictOldestSessions(tx: Transaction, username: string): Promise<void> {
  const kept = await tx.execute({
    sql: "SELECT created_index FROM sessions WHERE username = ? ORDER BY created_index DESC LIMIT 1 OFFSET ?",
    args: [username, SESSIONS_PER_ACCOUNT_MAX - 1],
  });
  const oldestKept = kept.rows[0];
  if (oldestKept === undefined) return;
  await tx.execute({ sql: "DELETE FROM sessions WHERE username = ? AND created_index < ?", args: [username, integerAt(oldestKept, 0)] });
}

async function unreadCount(tx: Transaction, username: string): Promise<number> {
  const rows = await tx.execute({ sql: "SELECT count(*) FROM messages WHERE recipient = ? AND read_at IS NULL", args: [username] });
  const row = rows.rows[0];
  return row === undefined ? 0 : integerAt(row, 0);
}
