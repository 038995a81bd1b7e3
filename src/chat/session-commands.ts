import type { SqlConnection } from "../storage/sql-connection.ts";
import { accountExists, refusal, type ApplyContext, type CommandOf } from "./apply-context.ts";
import { SESSIONS_PER_ACCOUNT_MAX } from "./chat-limits.ts";
import type { ApplyResult } from "./commands.ts";
import { UNREAD } from "./message-rows.ts";
import { integerAt, textAt } from "./row-values.ts";

/** A login. The password was checked by the API before proposing; only the token's hash is stored. */
export function createSession(context: ApplyContext, command: CommandOf<"createSession">): ApplyResult {
  const { tx, index, time } = context;
  const { username, tokenHash } = command;
  if (!accountExists(tx, username)) return refusal("no_such_account", `there is no account '${username}'`);
  const owner = tx.get("SELECT username FROM sessions WHERE token_hash = ?", [tokenHash]);
  if (owner === undefined) {
    tx.run("INSERT INTO sessions (token_hash, username, created_at, created_index) VALUES (?, ?, ?, ?)", [tokenHash, username, time, index]);
    evictOldestSessions(tx, username);
  } else if (textAt(owner, 0) !== username) {
    // Random tokens do not collide; a repeat means a broken proposer, which must not take over a session.
    return refusal("invalid_command", "the token hash belongs to another session");
  }
  return { ok: true, type: "sessionCreated", username, unread: unreadCount(tx, username) };
}

/** Logout of one token, or of every session of the account when tokenHash is null. */
export function revokeSessions(context: ApplyContext, command: CommandOf<"revokeSessions">): ApplyResult {
  const { tx } = context;
  const { username, tokenHash } = command;
  if (tokenHash !== null) {
    const deleted = tx.run("DELETE FROM sessions WHERE token_hash = ? AND username = ?", [tokenHash, username]);
    if (deleted === 0) return refusal("no_such_session", "the session does not exist or was already revoked");
    return { ok: true, type: "sessionsRevoked", count: deleted };
  }
  if (!accountExists(tx, username)) return refusal("no_such_account", `there is no account '${username}'`);
  const deleted = tx.run("DELETE FROM sessions WHERE username = ?", [username]);
  return { ok: true, type: "sessionsRevoked", count: deleted };
}

/** Past SESSIONS_PER_ACCOUNT_MAX the oldest logins end (by log index, which never ties). */
function evictOldestSessions(tx: SqlConnection, username: string): void {
  const oldestKept = tx.get("SELECT created_index FROM sessions WHERE username = ? ORDER BY created_index DESC LIMIT 1 OFFSET ?", [username, SESSIONS_PER_ACCOUNT_MAX - 1]);
  if (oldestKept === undefined) return;
  tx.run("DELETE FROM sessions WHERE username = ? AND created_index < ?", [username, integerAt(oldestKept, 0)]);
}

function unreadCount(tx: SqlConnection, username: string): number {
  const row = tx.get(`SELECT count(*) FROM messages WHERE recipient = ? AND ${UNREAD} = 1`, [username]);
  return row === undefined ? 0 : integerAt(row, 0);
}
