// Runs in a worker thread (see state-copy.ts): copies the state tables of a node's
// database into a new file on a connection of its own, so the node's event loop keeps
// running while a large state is copied.
import { createClient } from "@libsql/client";
import type { StateCopyReply, StateCopyRequest } from "./state-copy.ts";

declare const self: Worker;

self.onmessage = async (event: MessageEvent<StateCopyRequest>) => {
  const { source, target, tables } = event.data;
  let reply: StateCopyReply;
  try {
    const from = createClient({ url: `file:${source}` });
    try {
      await from.execute({ sql: "ATTACH DATABASE ? AS snap", args: [target] });
      // One read transaction: every table as of one version of the database (WAL:
      // writers go on). Rows only, no indexes and no raft log: restore reads the tables
      // with SELECT * and its own tables index them. VACUUM INTO copied everything,
      // raft log and indexes included, and the log then had to be vacuumed out again:
      // several times the state's size in writes, which stalled every node's fsyncs.
      const statements = [...tables, "state_machine_meta"].map((table) => `CREATE TABLE snap.${table} AS SELECT * FROM main.${table}`);
      // Deferred, not "write": BEGIN IMMEDIATE would take the write lock on every attached
      // database, main included, and hold the node's own writer off for the whole copy.
      const results = await from.batch([...statements, "SELECT applied_index FROM main.state_machine_meta WHERE singleton = 1"], "deferred");
      const row = results[results.length - 1]!.rows[0];
      reply = { ok: true, index: Number(row?.[0] ?? 0) };
    } finally {
      from.close();
    }
  } catch (error) {
    reply = { ok: false, message: (error as Error).message };
  }
  postMessage(reply);
};
