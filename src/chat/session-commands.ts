import type { SqlConnection } from "../storage/sql-connection.ts";
import { accountExists, refusal, type ApplyContext, type CommandOf } from "./apply-context.ts";
import { SESSION_ABSOLUTE_LIFETIME_MS, SESSION_IDLE_LIFETIME_MS, SESSIONS_PER_ACCOUNT_MAX, SWEEP_CHUNK_ROWS } from "./chat-limits.ts";
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
    tx.run("INSERT INTO sessions (token_hash, username, created_at, created_index, last_seen_at) VALUES (?, ?, ?, ?, ?)", [tokenHash, username, time, index, time]);
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

/**
 * The session was used (the API proposes this at most about once an hour per session):
 * its idle lifetime restarts at this entry's leader time. A session that is gone stays
 * gone (touched: false), never an error: the touch raced a logout or an expiry.
 */
export function touchSession(context: ApplyContext, command: CommandOf<"touchSession">): ApplyResult {
  const touched = context.tx.run("UPDATE sessions SET last_seen_at = ? WHERE token_hash = ? AND username = ?", [context.time, command.tokenHash, command.username]);
  return { ok: true, type: "sessionTouched", touched: touched > 0 };
}

/** The API checked the old password and hashed the new one; every session but the asking one ends. */
export function changePassword(context: ApplyContext, command: CommandOf<"changePassword">): ApplyResult {
  const { tx } = context;
  const { username, passwordHash, keepTokenHash } = command;
  if (!accountExists(tx, username)) return refusal("no_such_account", `there is no account '${username}'`);
  tx.run("UPDATE accounts SET password_hash = ? WHERE username = ?", [passwordHash, username]);
  const revoked =
    keepTokenHash === null
      ? tx.run("DELETE FROM sessions WHERE username = ?", [username])
      : tx.run("DELETE FROM sessions WHERE username = ? AND token_hash <> ?", [username, keepTokenHash]);
  return { ok: true, type: "passwordChanged", revoked };
}

/**
 * Drop up to SWEEP_CHUNK_ROWS sessions past each lifetime, judged by this entry's leader
 * time (the API already refuses them at read; this only reclaims their rows). ISO 8601
 * times of the same format compare as text in time order.
 */
export function sweepSessions(tx: SqlConnection, leaderTimeMs: number): number {
  const absolute = new Date(leaderTimeMs - SESSION_ABSOLUTE_LIFETIME_MS).toISOString();
  const idle = new Date(leaderTimeMs - SESSION_IDLE_LIFETIME_MS).toISOString();
  return (
    tx.run("DELETE FROM sessions WHERE rowid IN (SELECT rowid FROM sessions WHERE created_at < ? ORDER BY created_at LIMIT ?)", [absolute, SWEEP_CHUNK_ROWS]) +
    tx.run("DELETE FROM sessions WHERE rowid IN (SELECT rowid FROM sessions WHERE last_seen_at < ? ORDER BY last_seen_at LIMIT ?)", [idle, SWEEP_CHUNK_ROWS])
  );
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
