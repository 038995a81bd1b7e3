import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LibsqlRaftStorage } from "./libsql-storage.ts";
import type { Entry } from "../raft/types.ts";
import { closeNodeDatabase, openNodeDatabase } from "./node-database.ts";
import { describeRaftStorage } from "./raft-storage.conformance.ts";

describeRaftStorage("libSQL", async () => {
  const dir = mkdtempSync(join(tmpdir(), "concord-storage-"));
  const path = join(dir, "node.db");
  let database = await openNodeDatabase({ path, cluster: "test", nodeId: 1 });
  const storage = new LibsqlRaftStorage(database);
  return {
    storage,
    reopen: async () => {
      database.writer.close();
      database.client.close();
      database = await openNodeDatabase({ path, cluster: "test", nodeId: 1 });
      return new LibsqlRaftStorage(database);
    },
    cleanup: async () => {
      database.writer.close();
      database.client.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe("LibsqlRaftStorage compaction", () => {
  test("a long log is compacted in chunks while the event loop keeps running", async () => {
    const dir = mkdtempSync(join(tmpdir(), "concord-compact-"));
    const database = await openNodeDatabase({ path: join(dir, "node.db"), cluster: "test", nodeId: 1 });
    try {
      const storage = new LibsqlRaftStorage(database);
      await storage.load();
      const data = new Uint8Array(100).fill(7);
      const entries: Entry[] = Array.from({ length: 20_000 }, (_, i) => ({ index: i + 1, term: 1, kind: "normal", data }));
      await storage.write({ hardState: { term: 1, vote: 1, commit: 20_000 }, snapshot: null, entries });

      let turns = 0;
      let counting = true;
      const count = () => {
        if (!counting) return;
        turns++;
        setImmediate(count);
      };
      setImmediate(count);
      await storage.compact({ index: 19_000, term: 1, conf: { voters: [1], learners: [] } });
      counting = false;
      // Other callbacks ran between the chunks: the deletion never held the loop throughout.
      expect(turns).toBeGreaterThan(3);

      const loaded = await new LibsqlRaftStorage(database).load();
      expect(loaded.snapshot?.index).toBe(19_000);
      expect(loaded.entries.map((e) => e.index)).toEqual(Array.from({ length: 1_000 }, (_, i) => 19_001 + i));
      const rows = database.writer.get("SELECT count(*) FROM raft_log");
      expect(Number(rows?.[0])).toBe(1_000);
    } finally {
      await closeNodeDatabase(database);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
