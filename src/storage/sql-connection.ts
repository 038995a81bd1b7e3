import Database from "libsql";

/** A value bound to or read from SQLite. Integers come back as JS numbers (ids and indexes are far below 2^53). */
export type SqlValue = null | number | bigint | string | Uint8Array;
/** A result row in column order. */
export type SqlRow = readonly unknown[];

type Statement = ReturnType<Database.Database["prepare"]>;

/** Statements kept prepared at most; past it the cache starts over (only generated SQL could get there). */
const STATEMENT_CACHE_MAX = 512;

/**
 * A synchronous connection to a node's database through the `libsql` binding, with every
 * statement prepared once and reused: `@libsql/client` prepares each statement anew on
 * every call, which cost more than running it on the hot paths (raft writes and apply).
 *
 * Everything runs on the caller's thread: a COMMIT that fsyncs blocks the event loop for
 * its duration, exactly as `@libsql/client`'s "file:" connections do.
 */
export class SqlConnection {
  private readonly db: Database.Database;
  private readonly statements = new Map<string, Statement>();
  private readonly readers = new Map<string, Statement>();
  private closed = false;

  constructor(readonly path: string) {
    this.db = new Database(path, { timeout: 5000 });
  }

  /** Run a statement that returns no rows; returns the number of rows it changed. */
  run(sql: string, args: readonly SqlValue[] = []): number {
    return this.statement(sql).run(args as SqlValue[]).changes;
  }

  /** Every row a query returns, each as an array in column order. */
  all(sql: string, args: readonly SqlValue[] = []): SqlRow[] {
    return this.reader(sql).all(args as SqlValue[]) as SqlRow[];
  }

  /** The first row a query returns, or undefined. */
  get(sql: string, args: readonly SqlValue[] = []): SqlRow | undefined {
    return (this.reader(sql).get(args as SqlValue[]) ?? undefined) as SqlRow | undefined;
  }

  /** Run SQL text, compiled afresh each time: pragmas act when compiled, so they must never be cached. */
  exec(sql: string): void {
    this.db.exec(sql);
  }

  /** Run `body` in a write transaction: committed when it returns, rolled back when it throws. */
  transaction<T>(body: () => T): T {
    this.run("BEGIN IMMEDIATE");
    let result: T;
    try {
      result = body();
    } catch (error) {
      if (this.db.inTransaction) this.run("ROLLBACK");
      throw error;
    }
    this.run("COMMIT");
    return result;
  }

  get inTransaction(): boolean {
    return this.db.inTransaction;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.statements.clear();
    this.readers.clear();
    this.db.close();
  }

  private statement(sql: string): Statement {
    let statement = this.statements.get(sql);
    if (statement === undefined) {
      if (this.statements.size >= STATEMENT_CACHE_MAX) this.statements.clear();
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  private reader(sql: string): Statement {
    let statement = this.readers.get(sql);
    if (statement === undefined) {
      if (this.readers.size >= STATEMENT_CACHE_MAX) this.readers.clear();
      statement = this.db.prepare(sql).raw(true);
      this.readers.set(sql, statement);
    }
    return statement;
  }
}

/** Bind bytes without copying them (the binding takes Buffers). */
export function blobArg(bytes: Uint8Array): Uint8Array {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
