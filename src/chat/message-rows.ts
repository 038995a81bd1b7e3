import type { ChatMessage } from "./commands.ts";
import { integerAt, textAt, textOrNullAt, type RowValues } from "./row-values.ts";

/** The columns `toChatMessage` reads, in its order; select them as `SELECT ${MESSAGE_COLUMNS} ...`. */
export const MESSAGE_COLUMNS = "id, sender, recipient, content, sent_at, read_at, sender_deleted";

/**
 * The keys of the message indexes (chat-schema.ts), spelled as SQLite must see them in a
 * WHERE clause to use those indexes: the conversation's unordered pair, and whether a
 * received message is unread.
 */
export const PAIR_LOW = "(CASE WHEN sender <= recipient THEN sender ELSE recipient END)";
export const PAIR_HIGH = "(CASE WHEN sender <= recipient THEN recipient ELSE sender END)";
export const UNREAD = "(read_at IS NULL)";

export function toChatMessage(row: RowValues): ChatMessage {
  return {
    id: integerAt(row, 0),
    from: textAt(row, 1),
    fromDeleted: integerAt(row, 6) !== 0,
    to: textAt(row, 2),
    content: textAt(row, 3),
    sentAt: textAt(row, 4),
    readAt: textOrNullAt(row, 5),
  };
}
