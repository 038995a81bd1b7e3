import { accountExists, refusal, type ApplyContext, type CommandOf } from "./apply-context.ts";
import type { ApplyResult } from "./commands.ts";
import { integerAt, textAt, type RowValues } from "./row-values.ts";

/**
 * Delete messages the user sent or received: gone for both sides. Ids that do not exist
 * or belong to others are reported as notFound (indistinguishable, so ids of other
 * people's messages leak nothing). Both sides hear `messages_deleted`.
 */
export function deleteMessages(context: ApplyContext, command: CommandOf<"deleteMessages">): ApplyResult {
  const { tx } = context;
  const user = command.username;
  if (!(accountExists(tx, user))) return refusal("no_such_account", `there is no account '${user}'`);
  const requested = [...new Set(command.ids)].sort((a, b) => a - b);
  // A sender_deleted row was sent by a previous holder of the name, not by this user.
  // By primary key only (`+`: not a scan of everything the user sent or received).
  const owned = tx.all(
    `SELECT id, sender, recipient, sender_deleted FROM messages
     WHERE id IN (SELECT value FROM json_each(?)) AND (+recipient = ? OR (+sender = ? AND sender_deleted = 0))
     ORDER BY id`,
    [JSON.stringify(requested), user, user],
  );
  const deleted = owned.map((row) => integerAt(row, 0));
  const deletedSet = new Set(deleted);
  const notFound = requested.filter((id) => !deletedSet.has(id));
  if (deleted.length > 0) {
    tx.run("DELETE FROM messages WHERE id IN (SELECT value FROM json_each(?))", [JSON.stringify(deleted)]);
    context.emit({ account: user, type: "messages_deleted", data: { ids: deleted } });
    for (const [partner, ids] of idsByLivePartner(owned, user)) {
      context.emit({ account: partner, type: "messages_deleted", data: { ids } });
    }
  }
  return { ok: true, type: "messagesDeleted", deleted, notFound };
}

/** The other side of each message, in name order; the user and deleted senders are left out. */
function idsByLivePartner(rows: readonly RowValues[], user: string): Map<string, number[]> {
  const byPartner = new Map<string, number[]>();
  for (const row of rows) {
    const sender = textAt(row, 1);
    const recipient = textAt(row, 2);
    const partner = recipient === user ? (integerAt(row, 3) === 0 ? sender : null) : recipient;
    if (partner === null || partner === user) continue;
    const ids = byPartner.get(partner) ?? [];
    ids.push(integerAt(row, 0));
    byPartner.set(partner, ids);
  }
  return new Map([...byPartner].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
