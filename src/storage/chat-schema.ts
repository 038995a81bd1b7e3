import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

// The replicated chat state. Every node writes these tables only from apply, in log
// order, so they are identical on every node at the same applied index; snapshots copy
// them whole (ChatStateMachine.tables lists them). Times are the proposing leader's clock
// as ISO 8601 text; `*_index` columns are log indexes, which order things
// deterministically where two leader clocks could tie or run backwards.

export const accounts = sqliteTable("accounts", {
  username: text("username").primaryKey(),
  /** A slow salted hash made by the API before proposing; plain passwords never reach the log. */
  passwordHash: text("password_hash").notNull(),
  createdAt: text("created_at").notNull(),
  createdIndex: integer("created_index").notNull(),
});

/** Only a hash of each token is kept, so a copy of the database grants no logins. */
export const sessions = sqliteTable(
  "sessions",
  {
    tokenHash: text("token_hash").primaryKey(),
    username: text("username").notNull(),
    createdAt: text("created_at").notNull(),
    /** Orders an account's sessions for evicting the oldest past the per-account cap. */
    createdIndex: integer("created_index").notNull(),
    /**
     * The leader's time of the last touchSession (ISO 8601), or of the login; NULL for
     * sessions made before lifetimes existed (their idle time counts from created_at).
     * Idle and absolute lifetimes (chat-limits.ts) are judged against it and created_at.
     */
    lastSeenAt: text("last_seen_at"),
  },
  (t) => [
    index("sessions_by_username").on(t.username, t.createdIndex),
    // The expiry sweeps (session-commands.ts) find the oldest sessions by each lifetime.
    index("sessions_by_created").on(t.createdAt),
    index("sessions_by_last_seen").on(t.lastSeenAt),
  ],
);

export const messages = sqliteTable(
  "messages",
  {
    /** The log index of the sendMessage entry: unique and increasing. */
    id: integer("id").primaryKey(),
    sender: text("sender").notNull(),
    recipient: text("recipient").notNull(),
    content: text("content").notNull(),
    sentAt: text("sent_at").notNull(),
    readAt: text("read_at"),
    /** 1 once the sender's account is deleted; `sender` keeps the name it had. */
    senderDeleted: integer("sender_deleted").notNull().default(0),
  },
  (t) => [
    // Three account-keyed b-trees, each gaining one entry per message (every one costs
    // apply a page write per message, so there are no more than these):
    // A conversation, both directions, is one range scan on the unordered pair, newest first.
    // (CASE, not min()/max(): drizzle-kit splits index expressions at commas.)
    index("messages_by_pair").on(sql`(CASE WHEN ${t.sender} <= ${t.recipient} THEN ${t.sender} ELSE ${t.recipient} END)`, sql`(CASE WHEN ${t.sender} <= ${t.recipient} THEN ${t.recipient} ELSE ${t.sender} END)`, t.id),
    // What an account sent, by id: its `message` events (replay), its conversations, its deletion.
    index("messages_sent").on(t.sender, t.id),
    // What an account received, unread first-class: the unread inbox and count are the
    // range (recipient, 1), everything received is both ranges (replay, conversations).
    // Queries must spell the middle column `(read_at IS NULL)` for SQLite to use it.
    index("messages_received").on(t.recipient, sql`(${t.readAt} IS NULL)`, t.id),
  ],
);

/** First results of commands that carried an Idempotency-Key (Raft dissertation §6.3). */
export const idempotency = sqliteTable(
  "idempotency",
  {
    account: text("account").notNull(),
    key: text("key").notNull(),
    /** The log index that first applied the command. */
    index: integer("idx").notNull(),
    /** The ApplyResult as JSON, returned again to every retry. */
    result: text("result").notNull(),
    /** The leader's time (ms since the epoch) of the entry that wrote it: retention is 24 hours of it. */
    at: integer("at").notNull().default(0),
    /** The account's count of keyed commands when this one ran: the per-account cap drops seq - cap. */
    seq: integer("seq").notNull().default(0),
    /** SHA-256 of the request the key was first used with (null before digests existed). */
    digest: text("digest"),
  },
  // Retention by leader time, and the per-account cap by seq (idempotency-store.ts).
  (t) => [primaryKey({ columns: [t.account, t.key] }), index("idempotency_by_time").on(t.at), index("idempotency_by_account_seq").on(t.account, t.seq)],
);

/**
 * The SSE replay store: what each account was told, by the log index that caused it,
 * except `message` events, which replay reads from the messages table itself (a message's
 * id is the index of its event): storing them again cost two more rows and index entries
 * per message. Rows of type 'message' written by older versions are ignored.
 */
export const events = sqliteTable(
  "events",
  {
    index: integer("idx").notNull(),
    /** Order of the event among those of the same entry. */
    seq: integer("seq").notNull(),
    account: text("account").notNull(),
    type: text("type").notNull(),
    /** The event's `data` as JSON. */
    data: text("data").notNull(),
  },
  (t) => [primaryKey({ columns: [t.index, t.seq, t.account] }), index("events_by_account").on(t.account, t.index, t.seq)],
);
