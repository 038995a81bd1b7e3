import { accountExists, refusal, type ApplyContext, type CommandOf } from "./apply-context.ts";
import type { ApplyResult } from "./commands.ts";
import { forgetAccountEvents } from "./event-log.ts";
import { textAt } from "./row-values.ts";

export function createAccount(context: ApplyContext, command: CommandOf<"createAccount">): ApplyResult {
  const { tx, index, time } = context;
  if (accountExists(tx, command.username)) return refusal("username_taken", `the username '${command.username}' is taken`);
  tx.run("INSERT INTO accounts (username, password_hash, created_at, created_index) VALUES (?, ?, ?, ?)", [command.username, command.passwordHash, time, index]);
  return { ok: true, type: "accountCreated", account: { username: command.username, createdAt: time } };
}

/**
 * The account, its sessions and the messages it received are gone; the messages it sent
 * stay with their recipients, marked as from a deleted account (API.md). The name is
 * free again, so nothing left behind may be mistaken for a later account of that name:
 * its sent messages carry sender_deleted = 1, and its event stream is dropped.
 */
export function deleteAccount(context: ApplyContext, command: CommandOf<"deleteAccount">): ApplyResult {
  const { tx } = context;
  const username = command.username;
  if (!accountExists(tx, username)) return refusal("no_such_account", `there is no account '${username}'`);

  // Partners are live accounts it exchanged messages with; a sender_deleted row names a
  // previous holder of a name, not the account living under it now.
  const partners = tx.all(
    `SELECT recipient AS partner FROM messages WHERE sender = ?1 AND sender_deleted = 0
     UNION SELECT sender FROM messages WHERE recipient = ?1 AND sender_deleted = 0
     ORDER BY partner`,
    [username],
  );
  tx.run("DELETE FROM messages WHERE recipient = ?", [username]);
  tx.run("UPDATE messages SET sender_deleted = 1 WHERE sender = ? AND sender_deleted = 0", [username]);
  tx.run("DELETE FROM sessions WHERE username = ?", [username]);
  tx.run("DELETE FROM accounts WHERE username = ?", [username]);
  context.accounts.forget(username);
  forgetAccountEvents(tx, username);
  for (const row of partners) {
    const partner = textAt(row, 0);
    if (partner !== username) context.emit({ account: partner, type: "account_deleted", data: { username } });
  }
  return { ok: true, type: "accountDeleted", username };
}
