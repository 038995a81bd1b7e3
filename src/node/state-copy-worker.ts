// Runs in a worker thread (see state-copy.ts): copies a node's database with
// VACUUM INTO on a connection of its own, then drops the raft log from the copy, so the
// node's event loop keeps running while a large state is copied.
import { createClient } from "@libsql/client";
import type { StateCopyReply, StateCopyRequest } from "./state-copy.ts";

declare const self: Worker;

self.onmessage = async (event: MessageEvent<StateCopyRequest>) => {
  const { source, target } = event.data;
  let reply: StateCopyReply;
  try {
    const from = createClient({ url: `file:${source}` });
    try {
      // VACUUM INTO reads one consistent version of the database (WAL: writers go on).
      await from.execute({ sql: "VACUUM INTO ?", args: [target] });
    } finally {
      from.close();
    }
    const copy = createClient({ url: `file:${target}` });
    try {
      const row = (await copy.execute("SELECT applied_index FROM state_machine_meta WHERE singleton = 1")).rows[0];
      // The log is not part of the state; drop it so the snapshot is only the state.
      await copy.execute("DELETE FROM raft_log");
      await copy.execute("VACUUM");
      reply = { ok: true, index: Number(row?.[0] ?? 0) };
    } finally {
      copy.close();
    }
  } catch (error) {
    reply = { ok: false, message: (error as Error).message };
  }
  postMessage(reply);
};
