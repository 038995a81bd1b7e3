import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createClient, type Client } from "@libsql/client";
import { eq } from "drizzle-orm";
import { drizzle, type LibSQLDatabase } from "drizzle-orm/libsql";
import { migrate } from "drizzle-orm/libsql/migrator";
import * as schema from "./schema.ts";
import { SqlConnection } from "./sql-connection.ts";
import { StorageError } from "./storage-error.ts";
import { preallocateWal } from "./wal-preallocation.ts";

export const MIGRATIONS_DIR = fileURLToPath(new URL("../../migrations", import.meta.url));

export interface NodeDatabase {
  readonly client: Client;
  /**
   * The hot-path writer: raft writes and apply run here, with statements prepared once
   * (see SqlConnection). It is a second connection to the same file, used by the same
   * driver loop one transaction at a time, so it never waits on `client`. Its
   * `synchronous` is FULL except inside withRelaxedDurabilitySync.
   */
  readonly writer: SqlConnection;
  readonly db: LibSQLDatabase<typeof schema>;
  readonly path: string;
}

export interface OpenNodeDatabaseOptions {
  /** The database file; its directory is created when missing. */
  path: string;
  cluster: string;
  nodeId: number;
  /**
   * Extend the write-ahead log to the size it reaches between checkpoints (WAL_STEADY_BYTES)
   * before the first write, so raft writes fsync overwrites (see preallocateWal). Nodes
   * do; in-process tests that open many small databases need not.
   */
  preallocateWal?: boolean;
}

const SQLITE_HEADER = "SQLite format 3\u0000";

/**
 * Pages the write-ahead log may hold before a commit folds it into the database file
 * (SQLite's default is 1000). Every apply batch rewrites the same hot b-tree pages (the
 * tails of the message indexes, the raft log's end), and a checkpoint copies each page
 * once however often it was rewritten, then fsyncs: checkpointing a tenth as often cut
 * apply CPU by ~6 µs per message in bench:http. The log is at most ~40 MB.
 */
const WAL_AUTOCHECKPOINT_PAGES = 10_000;

/** SQLite's page size (its default; we never change it). */
const PAGE_BYTES = 4096;
/**
 * What the WAL holds when a checkpoint starts it over: its 32-byte header and
 * WAL_AUTOCHECKPOINT_PAGES frames of a 24-byte header and a page each, plus room for the
 * transaction that crosses the threshold (a raft write or an apply batch, well under 4 MB).
 */
export const WAL_STEADY_BYTES = 32 + WAL_AUTOCHECKPOINT_PAGES * (24 + PAGE_BYTES) + 4 * 1024 * 1024;

/**
 * Open a node's database: refuse files that are corrupt, from a newer schema, or
 * another cluster's or node's; apply pending migrations; record the identity of a new one.
 * Nothing is overwritten on refusal.
 */
export async function openNodeDatabase(options: OpenNodeDatabaseOptions): Promise<NodeDatabase> {
  const { path, cluster, nodeId } = options;
  const existed = existsSync(path);
  if (existed) assertSqliteHeader(path);
  else mkdirSync(dirname(path), { recursive: true });

  // One client connection, on purpose: PRAGMA synchronous is per connection, and our
  // durability depends on knowing which mode each write runs in (see relaxed-durability.ts).
  // With a pool, a toggle and the transaction after it could land on different connections.
  // Only the driver loop writes (here or on `writer`), one operation at a time; readers use openReader().
  const client = createClient({ url: `file:${path}`, concurrency: 1 });
  try {
    await client.execute("PRAGMA journal_mode=WAL");
    // FULL: a committed transaction survives power loss, which an acknowledgement promises.
    await client.execute("PRAGMA synchronous=FULL");
    await client.execute(`PRAGMA wal_autocheckpoint=${WAL_AUTOCHECKPOINT_PAGES}`);
    if (existed) {
      const check = await client.execute("PRAGMA quick_check");
      const verdict = String(check.rows[0]?.[0] ?? "");
      if (verdict !== "ok") throw new StorageError("corrupt", `${path} failed its integrity check: ${verdict}`);
      await assertNotNewerSchema(client, path);
    }
    const db = drizzle(client, { schema });
    await migrate(db, { migrationsFolder: MIGRATIONS_DIR });
    await claimIdentity(db, path, cluster, nodeId);
    const writer = new SqlConnection(path);
    try {
      // FULL, as above: the writer commits raft entries and votes that are acknowledged.
      writer.exec("PRAGMA synchronous=FULL");
      writer.exec(`PRAGMA wal_autocheckpoint=${WAL_AUTOCHECKPOINT_PAGES}`);
    } catch (error) {
      writer.close();
      throw error;
    }
    // Nothing has written through `writer` yet and `client` is idle: the WAL's end is ours.
    if (options.preallocateWal === true) preallocateWal(path, WAL_STEADY_BYTES);
    return { client, db, path, writer };
  } catch (error) {
    client.close();
    if (error instanceof StorageError) throw error;
    throw new StorageError("corrupt", `cannot open ${path}: ${(error as Error).message}`);
  }
}

function assertSqliteHeader(path: string): void {
  const fd = openSync(path, "r");
  try {
    const header = Buffer.alloc(16);
    const read = readSync(fd, header, 0, 16, 0);
    // An empty file is what an interrupted first start leaves; SQLite treats it as new.
    if (read > 0 && header.toString("latin1", 0, read) !== SQLITE_HEADER.slice(0, read)) {
      throw new StorageError("corrupt", `${path} is not a Concord database (bad SQLite header)`);
    }
  } finally {
    closeSync(fd);
  }
}

async function assertNotNewerSchema(client: Client, path: string): Promise<void> {
  const table = await client.execute("SELECT name FROM sqlite_master WHERE type='table' AND name='__drizzle_migrations'");
  if (table.rows.length === 0) return;
  const applied = await client.execute("SELECT max(created_at) AS newest FROM __drizzle_migrations");
  const newest = Number(applied.rows[0]?.["newest"] ?? 0);
  const journal = JSON.parse(readFileSync(join(MIGRATIONS_DIR, "meta", "_journal.json"), "utf8")) as { entries: { when: number }[] };
  const known = Math.max(0, ...journal.entries.map((e) => e.when));
  if (newest > known) {
    throw new StorageError("newer_schema", `${path} was written by a newer Concord (schema ${newest} > ${known}); upgrade this node`);
  }
}

async function claimIdentity(db: LibSQLDatabase<typeof schema>, path: string, cluster: string, nodeId: number): Promise<void> {
  const rows = await db.select().from(schema.nodeIdentity).where(eq(schema.nodeIdentity.singleton, 1));
  const current = rows[0];
  if (current === undefined) {
    await db.insert(schema.nodeIdentity).values({ singleton: 1, cluster, nodeId, createdAt: new Date().toISOString() });
    return;
  }
  if (current.cluster !== cluster) {
    throw new StorageError("wrong_cluster", `${path} belongs to cluster '${current.cluster}', not '${cluster}'`);
  }
  if (current.nodeId !== nodeId) {
    throw new StorageError("wrong_node", `${path} belongs to node ${current.nodeId}, not node ${nodeId}`);
  }
}

/** Fold the write-ahead log into the main file and close (a clean shutdown). */
export async function closeNodeDatabase(database: NodeDatabase): Promise<void> {
  database.writer.close();
  await database.client.execute("PRAGMA wal_checkpoint(TRUNCATE)");
  database.client.close();
}

/**
 * A read-only connection to a node's database for queries. Under WAL it sees only
 * committed transactions, never an apply in progress on the writer.
 */
export async function openReader(path: string): Promise<Client> {
  const reader = createClient({ url: `file:${path}`, concurrency: 1 });
  await reader.execute("PRAGMA query_only=1");
  return reader;
}
