import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@libsql/client";
import { SqlConnection } from "../storage/sql-connection.ts";
import { copyStateOffThread, restoreStateOffThread, verifySnapshotOffThread } from "./state-copy.ts";

const dir = mkdtempSync(join(tmpdir(), "concord-state-copy-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("copyStateOffThread", () => {
  test("copies the state tables' rows with the applied index, and nothing else, while the caller's loop runs", async () => {
    const source = join(dir, "node.db");
    const db = createClient({ url: `file:${source}` });
    await db.execute("PRAGMA journal_mode=WAL");
    await db.execute("CREATE TABLE state_machine_meta (singleton INTEGER PRIMARY KEY, applied_index INTEGER)");
    await db.execute("CREATE TABLE raft_log (idx INTEGER PRIMARY KEY, data BLOB)");
    await db.execute("CREATE TABLE messages (id INTEGER PRIMARY KEY, content TEXT, data BLOB)");
    await db.execute("CREATE INDEX messages_by_content ON messages (content)");
    await db.execute("INSERT INTO state_machine_meta VALUES (1, 4242)");
    await db.execute("INSERT INTO raft_log (data) SELECT zeroblob(100) FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000) SELECT x FROM c)");
    await db.execute("INSERT INTO messages (content, data) SELECT 'hello', NULL FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5000) SELECT x FROM c)");

    let turns = 0;
    const ticking = setInterval(() => turns++, 1);
    const target = join(dir, "copy.db");
    const index = await copyStateOffThread(source, target, ["messages"]);
    clearInterval(ticking);
    // Writes after the copy do not reach it.
    await db.execute("INSERT INTO messages (content) VALUES ('later')");
    db.close();

    expect(index).toBe(4242);
    expect(turns).toBeGreaterThan(0);
    const copy = createClient({ url: `file:${target}` });
    expect(Number((await copy.execute("SELECT count(*) FROM messages")).rows[0]?.[0])).toBe(5000);
    // Rows keep their storage classes; indexes and the raft log stay behind.
    const types = (await copy.execute("SELECT typeof(id), typeof(content), typeof(data) FROM messages LIMIT 1")).rows[0];
    expect([types?.[0], types?.[1], types?.[2]]).toEqual(["integer", "text", "null"]);
    const schema = (await copy.execute("SELECT type, name FROM sqlite_master ORDER BY name")).rows.map((r) => `${r[0]} ${r[1]}`);
    expect(schema).toEqual(["table messages", "table state_machine_meta"]);
    copy.close();
  });

  test("restore runs its statements in one transaction with the snapshot attached, while the caller's loop runs", async () => {
    const snapshotFile = join(dir, "restore-from.db");
    const snap = createClient({ url: `file:${snapshotFile}` });
    await snap.execute("CREATE TABLE messages (id INTEGER PRIMARY KEY, content TEXT)");
    await snap.execute("INSERT INTO messages (content) SELECT 'restored' FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 20000) SELECT x FROM c)");
    snap.close();
    const database = join(dir, "restore-into.db");
    const db = createClient({ url: `file:${database}` });
    await db.execute("PRAGMA journal_mode=WAL");
    await db.execute("CREATE TABLE messages (id INTEGER PRIMARY KEY, content TEXT)");
    await db.execute("INSERT INTO messages (content) VALUES ('stale')");

    let turns = 0;
    const ticking = setInterval(() => turns++, 1);
    await restoreStateOffThread(database, snapshotFile, ["DELETE FROM main.messages", "INSERT INTO main.messages SELECT * FROM snap.messages"]);
    clearInterval(ticking);
    expect(turns).toBeGreaterThan(0);
    const rows = (await db.execute("SELECT content, count(*) FROM messages GROUP BY content")).rows.map((r) => `${r[0]} ${r[1]}`);
    expect(rows).toEqual(["restored 20000"]);
    // A failing statement rolls the whole restore back.
    await expect(restoreStateOffThread(database, snapshotFile, ["DELETE FROM main.messages", "INSERT INTO main.nowhere SELECT 1"])).rejects.toThrow("state restore failed");
    expect(Number((await db.execute("SELECT count(*) FROM messages")).rows[0]?.[0])).toBe(20000);
    db.close();
  });

  test("copies and verifies leave no file open: a deleted snapshot's disk space is freed", async () => {
    const source = join(dir, "leak-source.db");
    // Made with exec only: a prepared statement would keep this connection open (see the worker).
    const db = new SqlConnection(source);
    db.exec("CREATE TABLE state_machine_meta (singleton INTEGER PRIMARY KEY, applied_index INTEGER, digest TEXT)");
    db.exec("INSERT INTO state_machine_meta VALUES (1, 0, '')");
    db.exec("CREATE TABLE messages (id INTEGER PRIMARY KEY, content TEXT)");
    db.close();
    for (let copyNumber = 0; copyNumber < 5; copyNumber++) {
      const target = join(dir, `leak-copy-${copyNumber}.db`);
      expect(await copyStateOffThread(source, target, ["messages"])).toBe(0);
      expect(await verifySnapshotOffThread(target)).toBe(0);
      rmSync(target);
    }
    // Linux names each descriptor's file in /proc/self/fd.
    const openFiles = readdirSync("/proc/self/fd").map((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`);
      } catch {
        return ""; // closed while listing (the directory's own descriptor)
      }
    });
    expect(openFiles.filter((file) => file.startsWith(join(dir, "leak-")))).toEqual([]);
  });

  test("a database that cannot be copied rejects with the reason", async () => {
    await expect(copyStateOffThread(join(dir, "missing", "node.db"), join(dir, "x.db"), ["messages"])).rejects.toThrow("state copy failed");
  });
});
