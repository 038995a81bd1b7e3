import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LibsqlRaftStorage } from "./libsql-storage.ts";
import { closeNodeDatabase, openNodeDatabase, WAL_STEADY_BYTES } from "./node-database.ts";
import { StorageError } from "./storage-error.ts";

describe("opening a node's data directory", () => {
  let dir = "";
  let path = "";
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "concord-db-"));
    path = join(dir, "node.db");
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  async function refusal(open: Promise<unknown>): Promise<StorageError> {
    const error = await open.then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StorageError);
    return error as StorageError;
  }

  async function createdBy(cluster: string, nodeId: number): Promise<Buffer> {
    await closeNodeDatabase(await openNodeDatabase({ path, cluster, nodeId }));
    return readFileSync(path);
  }

  test("a new directory is created, migrated and claimed; reopening as the same node works", async () => {
    await createdBy("alpha", 1);
    const again = await openNodeDatabase({ path, cluster: "alpha", nodeId: 1 });
    const tables = await again.client.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name");
    expect(tables.rows.map((r) => r[0])).toContain("raft_log");
    again.writer.close();
    again.client.close();
  });

  test("another cluster's data is refused with wrong_cluster and left untouched", async () => {
    const before = await createdBy("alpha", 1);
    const error = await refusal(openNodeDatabase({ path, cluster: "beta", nodeId: 1 }));
    expect(error.code).toBe("wrong_cluster");
    expect(error.message).toContain("alpha");
    expect(readFileSync(path).equals(before)).toBe(true);
  });

  test("another node's data is refused with wrong_node and left untouched", async () => {
    const before = await createdBy("alpha", 2);
    const error = await refusal(openNodeDatabase({ path, cluster: "alpha", nodeId: 3 }));
    expect(error.code).toBe("wrong_node");
    expect(readFileSync(path).equals(before)).toBe(true);
  });

  test("a file that is not a database is refused with corrupt and left untouched", async () => {
    writeFileSync(path, "this is not sqlite, just some text that happens to be here");
    const before = readFileSync(path);
    const error = await refusal(openNodeDatabase({ path, cluster: "alpha", nodeId: 1 }));
    expect(error.code).toBe("corrupt");
    expect(readFileSync(path).equals(before)).toBe(true);
  });

  test("a database damaged inside is refused with corrupt", async () => {
    const good = await createdBy("alpha", 1);
    const damaged = Buffer.from(good);
    // Keep the header, smash the pages that hold the schema and tables.
    for (let i = 100; i < damaged.length; i++) damaged[i] = (i * 7) & 0xff;
    writeFileSync(path, damaged);
    const error = await refusal(openNodeDatabase({ path, cluster: "alpha", nodeId: 1 }));
    expect(error.code).toBe("corrupt");
    expect(readFileSync(path).equals(damaged)).toBe(true);
  });

  test("a database from a newer schema is refused with newer_schema", async () => {
    const database = await openNodeDatabase({ path, cluster: "alpha", nodeId: 1 });
    await database.client.execute({
      sql: "INSERT INTO __drizzle_migrations (hash, created_at) VALUES (?, ?)",
      args: ["from-the-future", Date.now() + 365 * 24 * 3600 * 1000],
    });
    database.writer.close();
    database.client.close();
    const before = readFileSync(path);
    const error = await refusal(openNodeDatabase({ path, cluster: "alpha", nodeId: 1 }));
    expect(error.code).toBe("newer_schema");
    expect(readFileSync(path).equals(before)).toBe(true);
  });

  test("a node preallocates its WAL, and a crash copy of it loses no committed write", async () => {
    const database = await openNodeDatabase({ path, cluster: "alpha", nodeId: 1, preallocateWal: true });
    expect(statSync(`${path}-wal`).size).toBeGreaterThanOrEqual(WAL_STEADY_BYTES);
    const storage = new LibsqlRaftStorage(database);
    await storage.load();
    const entries = Array.from({ length: 300 }, (_, i) => ({ index: i + 1, term: 2, kind: "normal" as const, data: new TextEncoder().encode(`entry ${i + 1}`) }));
    for (let at = 0; at < entries.length; at += 50) {
      await storage.write({ hardState: { term: 2, vote: 1, commit: at }, snapshot: null, entries: entries.slice(at, at + 50) });
    }
    // What a power cut leaves: the database and its WAL (zeros past the last frame) as
    // they are on disk now, with no checkpoint and no shared-memory index.
    const crashed = join(dir, "crashed");
    mkdirSync(crashed);
    copyFileSync(path, join(crashed, "node.db"));
    copyFileSync(`${path}-wal`, join(crashed, "node.db-wal"));
    database.writer.close();
    database.client.close();

    const recovered = await openNodeDatabase({ path: join(crashed, "node.db"), cluster: "alpha", nodeId: 1, preallocateWal: true });
    try {
      const state = await new LibsqlRaftStorage(recovered).load();
      expect(state.hardState).toEqual({ term: 2, vote: 1, commit: 250 });
      expect(state.entries.map((e) => new TextDecoder().decode(e.data))).toEqual(entries.map((e) => `entry ${e.index}`));
    } finally {
      await closeNodeDatabase(recovered);
    }
  });
});
