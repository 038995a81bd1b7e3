import type { Client, Row } from "@libsql/client";
import type { NodeDatabase } from "../storage/node-database.ts";
import { SqlConnection } from "../storage/sql-connection.ts";
import { accountGlob } from "./account-glob.ts";
import type { AccountPage, ChatQueries, Conversation, EventsAfter, MessagePage, SessionRecord } from "./chat-queries.ts";
import { ACCOUNT_TOTAL_MAX, CONVERSATIONS_MAX, EVENT_RETENTION_INDEXES } from "./chat-limits.ts";
import type { AccountView, ChatEvent, ChatMessage } from "./commands.ts";
import { PRUNED_THROUGH_SQL } from "./event-log.ts";
import { MESSAGE_COLUMNS, PAIR_HIGH, PAIR_LOW, toChatMessage, UNREAD } from "./message-rows.ts";
import { clampPageLimit } from "./page-limit.ts";
import { integerAt, textAt, textOrNullAt, type RowValues } from "./row-values.ts";

/** Larger than any log index: "no upper bound" for `id < before`. */
const NO_BEFORE = Number.MAX_SAFE_INTEGER;

/**
 * ChatQueries over a node's libSQL file. Each answer that takes more than one statement
 * reads them in one read transaction, so it sees a single applied state even while
 * apply commits on another connection.
 *
 * A message a deleted account sent keeps the sender's name with sender_deleted = 1; the
 * name may be taken again. Such messages show to their recipient (fromDeleted: true,
 * under the old name) but never count as sent by the new holder of the name.
 */
export class LibsqlChatQueries implements ChatQueries {
  private readonly client: Client;
  private readonly path: string;
  /**
   * Single-row lookups by key (the session of every authenticated request) run on a
   * synchronous read-only connection with their statements prepared once: through
   * `client`, which prepares each statement anew, one cost ~25 µs of CPU; here ~5 µs.
   * Opened on first use.
   */
  private lookups: SqlConnection | null = null;

  constructor(database: Pick<NodeDatabase, "client" | "db" | "path">) {
    this.client = database.client;
    this.path = database.path;
  }

  async account(username: string): Promise<AccountView | null> {
    const row = this.lookup().get("SELECT username, created_at FROM accounts WHERE username = ?", [username]);
    return row === undefined ? null : toAccountView(row);
  }

  async passwordHash(username: string): Promise<string | null> {
    const row = this.lookup().get("SELECT password_hash FROM accounts WHERE username = ?", [username]);
    return row === undefined ? null : textAt(row, 0);
  }

  /** Close the lookup connection (the client belongs to the caller). */
  close(): void {
    this.lookups?.close();
    this.lookups = null;
  }

  private lookup(): SqlConnection {
    if (this.lookups === null) {
      const connection = new SqlConnection(this.path);
      try {
        connection.exec("PRAGMA query_only=1");
      } catch (error) {
        connection.close();
        throw error;
      }
      this.lookups = connection;
    }
    return this.lookups;
  }

  async listAccounts(pattern: string, limit: number, cursor: string | null): Promise<AccountPage> {
    const glob = accountGlob(pattern);
    if (glob === null) return { accounts: [], total: 0, totalCapped: false, nextCursor: null };
    const pageSize = clampPageLimit(limit);
    // Every username is non-empty, so "" as the cursor starts at the first. The count stops
    // one past ACCOUNT_TOTAL_MAX: counting every match was a full scan (32-63 ms at 1M accounts).
    const [page, total] = await this.client.batch(
      [
        { sql: "SELECT username, created_at FROM accounts WHERE username GLOB ? AND username > ? ORDER BY username LIMIT ?", args: [glob, cursor ?? "", pageSize + 1] },
        { sql: "SELECT count(*) FROM (SELECT 1 FROM accounts WHERE username GLOB ? LIMIT ?)", args: [glob, ACCOUNT_TOTAL_MAX + 1] },
      ],
      "read",
    );
    const accounts = (page?.rows ?? []).slice(0, pageSize).map(toAccountView);
    const more = (page?.rows.length ?? 0) > pageSize;
    const counted = countOf(total?.rows[0]);
    return { accounts, total: Math.min(counted, ACCOUNT_TOTAL_MAX), totalCapped: counted > ACCOUNT_TOTAL_MAX, nextCursor: more ? (accounts[accounts.length - 1]?.username ?? null) : null };
  }

  async sessionAccount(tokenHash: string): Promise<string | null> {
    return (await this.session(tokenHash))?.account ?? null;
  }

  async session(tokenHash: string): Promise<SessionRecord | null> {
    const row = this.lookup().get("SELECT username, created_at, last_seen_at FROM sessions WHERE token_hash = ?", [tokenHash]);
    return row === undefined ? null : { account: textAt(row, 0), createdAt: textAt(row, 1), lastSeenAt: textOrNullAt(row, 2) };
  }

  async conversation(username: string, other: string, limit: number, before: number | null): Promise<MessagePage> {
    const pageSize = clampPageLimit(limit);
    // One bounded range scan of the pair's index, both directions at once. What this
    // name sent under a previous (deleted) holder is not this account's.
    const rows = await this.client.execute({
      sql: `SELECT ${MESSAGE_COLUMNS} FROM messages
            WHERE ${PAIR_LOW} = (CASE WHEN ?1 <= ?2 THEN ?1 ELSE ?2 END) AND ${PAIR_HIGH} = (CASE WHEN ?1 <= ?2 THEN ?2 ELSE ?1 END)
              AND id < ?3 AND (sender <> ?1 OR sender_deleted = 0)
            ORDER BY id DESC LIMIT ?4`,
      args: [username, other, before ?? NO_BEFORE, pageSize + 1],
    });
    return toMessagePage(rows.rows, pageSize);
  }

  async unread(username: string, limit: number, before: number | null): Promise<MessagePage> {
    const pageSize = clampPageLimit(limit);
    const rows = await this.client.execute({
      sql: `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE recipient = ? AND ${UNREAD} = 1 AND id < ? ORDER BY id DESC LIMIT ?`,
      args: [username, before ?? NO_BEFORE, pageSize + 1],
    });
    return toMessagePage(rows.rows, pageSize);
  }

  async unreadCount(username: string): Promise<number> {
    const rows = await this.client.execute({ sql: `SELECT count(*) FROM messages WHERE recipient = ? AND ${UNREAD} = 1`, args: [username] });
    return countOf(rows.rows[0]);
  }

  /** The CONVERSATIONS_MAX partners with the newest last messages, newest first. */
  async conversations(username: string): Promise<readonly Conversation[]> {
    const rows = await this.client.execute({
      sql: `WITH mine AS (
              SELECT recipient AS partner, id, 0 AS unread FROM messages WHERE sender = ?1 AND sender_deleted = 0
              UNION ALL
              SELECT sender, id, read_at IS NULL FROM messages WHERE recipient = ?1
            ),
            latest AS (
              SELECT partner, max(id) AS last_id, sum(unread) AS unread FROM mine GROUP BY partner ORDER BY last_id DESC LIMIT ?2
            )
            SELECT ${MESSAGE_COLUMNS}, latest.partner, latest.unread FROM latest JOIN messages ON messages.id = latest.last_id
            ORDER BY latest.last_id DESC`,
      args: [username, CONVERSATIONS_MAX],
    });
    return rows.rows.map((row) => ({ with: textAt(row, 7), lastMessage: toChatMessage(row), unread: integerAt(row, 8) }));
  }

  /**
   * Events for `account` with index > afterIndex, oldest first, at most `limit` (clamped
   * to 1..200). Each account has at most one event per index, so a page never splits
   * an index: the next page starts after the last event's index.
   *
   * Retention: applying entry i deletes events at indexes <= i - EVENT_RETENTION_INDEXES.
   * So at applied index A everything above the horizon H = A - EVENT_RETENTION_INDEXES is
   * kept, and `complete` is true exactly when no pruned event can lie after afterIndex:
   * afterIndex >= H, or the account was created after H (none of its events are older).
   * Deleting messages or accounts also removes events on purpose; that is not a gap.
   *
   * `message` events come from the messages table (event-log.ts): what the account sent
   * (under this holder of the name) or received, with id > afterIndex and above what
   * retention has pruned, as the event told it when sent (unread, from a live account). The other events come from the events
   * table. Both are read `limit` deep and merged by index.
   */
  async eventsAfter(account: string, afterIndex: number, limit: number): Promise<EventsAfter> {
    const pageSize = clampPageLimit(limit);
    // UNION, not UNION ALL: a note to oneself is found as sent and as received, and is one event.
    const [events, messages, applied, created] = await this.client.batch(
      [
        { sql: "SELECT idx, type, data FROM events WHERE account = ? AND idx > ? AND type <> 'message' ORDER BY idx, seq LIMIT ?", args: [account, afterIndex, pageSize] },
        {
          sql: `WITH after(i) AS (SELECT max(?2, ${PRUNED_THROUGH_SQL}))
                SELECT * FROM (SELECT ${MESSAGE_COLUMNS} FROM messages WHERE sender = ?1 AND sender_deleted = 0 AND id > (SELECT i FROM after) ORDER BY id LIMIT ?3)
                UNION
                SELECT * FROM (SELECT ${MESSAGE_COLUMNS} FROM messages WHERE recipient = ?1 AND ${UNREAD} = 0 AND id > (SELECT i FROM after) ORDER BY id LIMIT ?3)
                UNION
                SELECT * FROM (SELECT ${MESSAGE_COLUMNS} FROM messages WHERE recipient = ?1 AND ${UNREAD} = 1 AND id > (SELECT i FROM after) ORDER BY id LIMIT ?3)
                ORDER BY id LIMIT ?3`,
          args: [account, afterIndex, pageSize],
        },
        "SELECT applied_index FROM state_machine_meta WHERE singleton = 1",
        { sql: "SELECT created_index FROM accounts WHERE username = ?", args: [account] },
      ],
      "read",
    );
    const appliedRow = applied?.rows[0];
    const createdRow = created?.rows[0];
    const horizon = (appliedRow === undefined ? 0 : integerAt(appliedRow, 0)) - EVENT_RETENTION_INDEXES;
    const complete = afterIndex >= horizon || (createdRow !== undefined && integerAt(createdRow, 0) > horizon);
    const merged = mergeByIndex(
      (events?.rows ?? []).map((row) => toChatEvent(account, row)),
      (messages?.rows ?? []).map((row): ChatEvent => ({ index: integerAt(row, 0), account, type: "message", data: asSent(toChatMessage(row)) })),
    );
    return { events: merged.slice(0, pageSize), complete };
  }
}

function toAccountView(row: RowValues): AccountView {
  return { username: textAt(row, 0), createdAt: textAt(row, 1) };
}

function toMessagePage(rows: readonly Row[], pageSize: number): MessagePage {
  const messages = rows.slice(0, pageSize).map(toChatMessage);
  return { messages, nextBefore: rows.length > pageSize ? (messages[messages.length - 1]?.id ?? null) : null };
}

/** A message as its `message` event carried it: sent a moment ago, so unread, and by a live account. */
function asSent(message: ChatMessage): ChatMessage {
  return { ...message, fromDeleted: false, readAt: null };
}

/** Two lists ordered by index (never sharing one: a message's index has only message events) as one. */
function mergeByIndex(a: readonly ChatEvent[], b: readonly ChatEvent[]): ChatEvent[] {
  if (a.length === 0) return [...b];
  if (b.length === 0) return [...a];
  const out: ChatEvent[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && a[i]!.index <= b[j]!.index)) out.push(a[i++]!);
    else out.push(b[j++]!);
  }
  return out;
}

function toChatEvent(account: string, row: Row): ChatEvent {
  return { index: integerAt(row, 0), account, type: textAt(row, 1), data: JSON.parse(textAt(row, 2)) } as ChatEvent;
}

function countOf(row: Row | undefined): number {
  return row === undefined ? 0 : integerAt(row, 0);
}
