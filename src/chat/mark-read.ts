import { accountExists, refusal, type ApplyContext, type CommandOf } from "./apply-context.ts";
import { MARK_READ_RANGE_MAX } from "./chat-limits.ts";
import type { ApplyResult } from "./commands.ts";
import { UNREAD } from "./message-rows.ts";
import { integerAt, textAt, type RowValues } from "./row-values.ts";

/**
 * Mark messages the reader received as read, at the leader's time: either the listed
 * ids (others are ignored: not theirs, already read, or gone), or every unread message
 * from `with` with id <= upTo, oldest first and at most MARK_READ_RANGE_MAX of them.
 * The reader and each (live) sender hear `messages_read` with the ids that concern them.
 */
export function markRead(context: ApplyContext, command: CommandOf<"markRead">): ApplyResult {
  const { tx, time } = context;
  const reader = command.username;
  if (!(accountExists(tx, reader))) return refusal("no_such_account", `there is no account '${reader}'`);
  // Each query walks only what it may return: the listed ids by primary key (`+` keeps
  // SQLite from scanning everything the reader received instead), or the reader's unread.
  const unread =
    command.ids !== null
      ? tx.all(
          `SELECT id, sender, sender_deleted FROM messages
           WHERE id IN (SELECT value FROM json_each(?)) AND +recipient = ? AND read_at IS NULL ORDER BY id`,
          [JSON.stringify(command.ids), reader],
        )
      : tx.all(
          `SELECT id, sender, sender_deleted FROM messages
           WHERE recipient = ? AND ${UNREAD} = 1 AND id <= ? AND +sender = ? ORDER BY id LIMIT ?`,
          [reader, command.upTo, command.with, MARK_READ_RANGE_MAX],
        );
  const ids = unread.map((row) => integerAt(row, 0));
  if (ids.length > 0) {
    tx.run("UPDATE messages SET read_at = ? WHERE id IN (SELECT value FROM json_each(?))", [time, JSON.stringify(ids)]);
    context.emit({ account: reader, type: "messages_read", data: { ids, by: reader } });
    for (const [sender, theirs] of idsByLiveSender(unread, reader)) {
      context.emit({ account: sender, type: "messages_read", data: { ids: theirs, by: reader } });
    }
  }
  return { ok: true, type: "messagesMarked", marked: ids.length, ids };
}

/** Ids grouped by sender, senders in name order; the reader and deleted senders are left out. */
function idsByLiveSender(rows: readonly RowValues[], reader: string): Map<string, number[]> {
  const bySender = new Map<string, number[]>();
  for (const row of rows) {
    const sender = textAt(row, 1);
    if (sender === reader || integerAt(row, 2) !== 0) continue;
    const ids = bySender.get(sender) ?? [];
    ids.push(integerAt(row, 0));
    bySender.set(sender, ids);
  }
  return new Map([...bySender].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
