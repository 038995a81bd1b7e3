import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LibsqlRaftStorage } from "./libsql-storage.ts";
import { openNodeDatabase } from "./node-database.ts";
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
