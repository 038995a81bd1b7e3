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
  },
  (t) => [index("sessions_by_username").on(t.username, t.createdIndex)],
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
    // A conversation is two range scans, one per direction, newest first.
    index("messages_by_sender").on(t.sender, t.recipient, t.id),
    index("messages_by_recipient").on(t.recipient, t.sender, t.id),
    // The unread inbox and unread counts touch only unread rows.
    index("messages_unread").on(t.recipient, t.id).where(sql`read_at IS NULL`),
  ],
);

/** First results of commands that carried an Idempotency-Key (Raft dissertation §6.3). */
export const idempotency = sqliteTable(
  "idempotency",
  {
    account: text("account").notNull(),
    key: text("key").notNull(),
    /** The log index that first applied the command: drives retention. */
    index: integer("idx").notNull(),
    /** The ApplyResult as JSON, returned again to every retry. */
    result: text("result").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.account, t.key] }),
    index("idempotency_by_index").on(t.index),
    index("idempotency_by_account").on(t.account, t.index),
  ],
);

/** The SSE replay store: what each account was told, by the log index that caused it. */
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
