// Every bound the chat state machine enforces. Apply checks them again even though the
// API validates first, because a log entry may come from any version of any node.
// Changing a retention or cap number changes what apply writes: every node of a
// cluster must run the same numbers (treat a change like a new command version).

/** Usernames: 1-32 of A-Za-z0-9_.- (API.md). */
export const USERNAME_PATTERN = /^[A-Za-z0-9_.-]{1,32}$/;
export const USERNAME_MAX_CHARS = 32;

/** Message content, counted in code points after trimming (API.md says 1-4000 chars). */
export const CONTENT_MAX_CHARS = 4000;

/** Idempotency-Key header values (API.md). */
export const IDEMPOTENCY_KEY_MAX_CHARS = 64;

/** A stored password hash (argon2id / PBKDF2 strings are ~100 chars). */
export const PASSWORD_HASH_MAX_CHARS = 512;

/** A session token's hash (hex SHA-256 is 64 chars). */
export const TOKEN_HASH_MAX_CHARS = 128;

/** Ids in one markRead or deleteMessages command. */
export const IDS_PER_COMMAND_MAX = 1000;

/**
 * Messages one markRead `{with, upTo}` marks at most, oldest first. A backlog larger
 * than this takes several commands (`marked` equals the cap when more may remain).
 */
export const MARK_READ_RANGE_MAX = 10_000;

/** Sessions per account; creating one more evicts the oldest. */
export const SESSIONS_PER_ACCOUNT_MAX = 100;

/** An idempotency record is dropped once this many log indexes have passed since it was written. */
export const IDEMPOTENCY_RETENTION_INDEXES = 100_000;

/** Events are kept for replay while they are among the last this many log indexes. */
export const EVENT_RETENTION_INDEXES = 100_000;

/** Retention pruning runs on every index divisible by this (not on every entry: cost). */
export const PRUNE_EVERY_INDEXES = 1024;

/** Bytes of one encoded command; anything larger is refused as invalid. */
export const COMMAND_BYTES_MAX = 256 * 1024;

/** Page sizes of queries are clamped to 1..this. */
export const PAGE_LIMIT_MAX = 200;

/** Conversations listed at most (the newest). */
export const CONVERSATIONS_MAX = 200;

/** Events held in memory between drains; the oldest are dropped past it (clients replay from the table). */
export const PENDING_EVENTS_MAX = 10_000;
