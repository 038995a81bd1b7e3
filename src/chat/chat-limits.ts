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

/**
 * An idempotency record is kept at least this long, in the leader's time stamped into the
 * entries: the first entry whose leader time is this much later may drop it (the sweep
 * below). A retry within it returns the first result; a later one runs again.
 */
export const IDEMPOTENCY_RETENTION_MS = 24 * 60 * 60 * 1000;

/**
 * Idempotency records kept per account at most: the account's oldest goes when it makes
 * one more. So the table holds at most this many per account whatever the write rate
 * (an account sending more than this many keyed writes a day keeps dedup for its latest
 * 1,000 only).
 */
export const IDEMPOTENCY_RECORDS_PER_ACCOUNT_MAX = 1000;

/**
 * Sessions end this long after the login, however active (the absolute lifetime), and
 * this long after they were last seen (the idle lifetime; see touchSession). Expiry is
 * judged at read against the node's clock (so a read never needs a write), and apply
 * sweeps expired rows away by the leader time of its entries.
 */
export const SESSION_ABSOLUTE_LIFETIME_MS = 30 * 24 * 60 * 60 * 1000;
export const SESSION_IDLE_LIFETIME_MS = 7 * 24 * 60 * 60 * 1000;

/**
 * Time-based retention (expired idempotency records and sessions) runs on every index
 * divisible by this, deleting at most SWEEP_CHUNK_ROWS of each kind: each entry adds at
 * most one record and one session, so a sweep of 256 every 128 indexes keeps up, and no
 * single apply ever deletes a backlog at once.
 */
export const SWEEP_EVERY_INDEXES = 128;
export const SWEEP_CHUNK_ROWS = 256;

/** Digests of requests stored with idempotency records: hex SHA-256. */
export const REQUEST_DIGEST_PATTERN = /^[0-9a-f]{64}$/;

/** Events are kept for replay while they are among the last this many log indexes. */
export const EVENT_RETENTION_INDEXES = 100_000;

/** Retention pruning runs on every index divisible by this (not on every entry: cost). */
export const PRUNE_EVERY_INDEXES = 1024;

/** Bytes of one encoded command; anything larger is refused as invalid. */
export const COMMAND_BYTES_MAX = 256 * 1024;

/** GET /v1/accounts counts matches up to this many, then says "this many or more" (totalCapped). */
export const ACCOUNT_TOTAL_MAX = 1000;

/** Page sizes of queries are clamped to 1..this. */
export const PAGE_LIMIT_MAX = 200;

/** Conversations listed at most (the newest). */
export const CONVERSATIONS_MAX = 200;

/** Events held in memory between drains; the oldest are dropped past it (clients replay from the table). */
export const PENDING_EVENTS_MAX = 10_000;
