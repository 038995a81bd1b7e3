import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readWholeSnapshot, snapshotFromBytes } from "../raft/snapshot-bytes.ts";
import type { Entry } from "../raft/types.ts";
import type { FileSnapshotBytes } from "../storage/file-snapshot-store.ts";
import { LibsqlRaftStorage } from "../storage/libsql-storage.ts";
import { closeNodeDatabase, openNodeDatabase, type NodeDatabase } from "../storage/node-database.ts";
import type { SqlConnection } from "../storage/sql-connection.ts";
import { LibsqlStateMachine } from "./libsql-state-machine.ts";

// A register table made for this test: each command "key=value" sets a key.
function setRegister(sql: SqlConnection, index: number, data: Uint8Array): unknown {
  const [key, value] = new TextDecoder().decode(data).split("=");
  sql.run("INSERT INTO test_register (k, v, idx) VALUES (?, ?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v, idx = excluded.idx", [key!, value!, index]);
  return { key, index };
}

const encode = (text: string) => new TextEncoder().encode(text);
const normal = (index: number, text: string): Entry => ({ index, term: 1, kind: "normal", data: encode(text) });

describe("LibsqlStateMachine", () => {
  let dir = "";
  const opened: NodeDatabase[] = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "concord-sm-"));
  });
  afterEach(async () => {
    for (const d of opened.splice(0)) await closeNodeDatabase(d);
    rmSync(dir, { recursive: true, force: true });
  });

  async function machine(name: string): Promise<{ sm: LibsqlStateMachine; database: NodeDatabase }> {
    const database = await openNodeDatabase({ path: join(dir, `${name}.db`), cluster: "t", nodeId: 1 });
    opened.push(database);
    await database.client.execute("CREATE TABLE IF NOT EXISTS test_register (k TEXT PRIMARY KEY, v TEXT NOT NULL, idx INTEGER NOT NULL)");
    return { sm: new LibsqlStateMachine({ database, tables: ["test_register"], applyCommand: setRegister, scratchDir: dir }), database };
  }

  test("apply writes effects and the applied index together, returning each result", async () => {
    const { sm } = await machine("a");
    const results = await sm.apply([normal(1, "x=1"), { index: 2, term: 1, kind: "normal", data: new Uint8Array() }, normal(3, "y=2")]);
    expect(results).toEqual([{ key: "x", index: 1 }, null, { key: "y", index: 3 }]);
    expect(await sm.appliedIndex()).toBe(3);
  });

  test("verify accepts a state copy at its index and refuses torn, corrupt or mislabelled bytes", async () => {
    const { sm } = await machine("a");
    await sm.apply([normal(1, "x=1"), normal(2, "y=2")]);
    const { index, data } = await sm.snapshot();
    const meta = { index, term: 1, conf: { voters: [1], learners: [] } };
    const bytes = await readWholeSnapshot(data);
    await data.release?.();
    await sm.verify(meta, snapshotFromBytes(bytes));
    await expect(sm.verify({ ...meta, index: index + 1 }, snapshotFromBytes(bytes))).rejects.toThrow(`not at ${index + 1}`);
    await expect(sm.verify(meta, snapshotFromBytes(bytes.slice(0, Math.floor(bytes.length / 2))))).rejects.toThrow();
    const corrupt = bytes.slice();
    for (let i = 4096; i < corrupt.length; i += 7) corrupt[i] = corrupt[i]! ^ 0x5a;
    await expect(sm.verify(meta, snapshotFromBytes(corrupt))).rejects.toThrow();
  });

  test("nodes that apply the same entries have the same digest; a different entry changes it", async () => {
    const a = await machine("a");
    const b = await machine("b");
    const c = await machine("c");
    await a.sm.apply([normal(1, "x=1"), normal(2, "y=2")]);
    await b.sm.apply([normal(1, "x=1")]);
    await b.sm.apply([normal(2, "y=2")]);
    await c.sm.apply([normal(1, "x=1"), normal(2, "y=3")]);
    const digestA = await a.sm.appliedState();
    expect(digestA.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(await b.sm.appliedState()).toEqual(digestA);
    expect((await c.sm.appliedState()).digest).not.toBe(digestA.digest);
  });

  test("a snapshot restored elsewhere reproduces the state and records the raft snapshot", async () => {
    const a = await machine("a");
    await a.sm.apply([normal(1, "x=1"), normal(2, "y=2"), normal(3, "x=3")]);
    const snapshot = await a.sm.snapshot();
    expect(snapshot.index).toBe(3);

    const b = await machine("b");
    await b.sm.apply([normal(1, "stale=yes")]);
    const storage = new LibsqlRaftStorage(b.database);
    await storage.write({ hardState: { term: 1, vote: 0, commit: 1 }, snapshot: null, entries: [normal(1, "stale=yes")] });
    const meta = { index: 3, term: 1, conf: { voters: [1, 2, 3], learners: [] } };
    await b.sm.restore(meta, snapshot.data);

    const rows = await b.database.client.execute("SELECT k, v FROM test_register ORDER BY k");
    expect(rows.rows.map((r) => `${r[0]}=${r[1]}`)).toEqual(["x=3", "y=2"]);
    expect(await b.sm.appliedState()).toEqual(await a.sm.appliedState());
    const loaded = await new LibsqlRaftStorage(b.database).load();
    expect(loaded.snapshot).toEqual(meta);
    expect(loaded.entries).toEqual([]);

    // The copy is a temporary file its holder releases; the same bytes restore from memory too.
    const file = (snapshot.data as FileSnapshotBytes).path;
    expect(existsSync(file)).toBe(true);
    const inMemory = snapshotFromBytes(await readWholeSnapshot(snapshot.data));
    await snapshot.data.release?.();
    expect(existsSync(file)).toBe(false);
    const c = await machine("c");
    await c.sm.restore(meta, inMemory);
    expect(await c.sm.appliedState()).toEqual(await a.sm.appliedState());
  });
});
