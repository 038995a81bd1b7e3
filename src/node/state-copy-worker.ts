// Runs in a worker thread (see state-copy.ts): copies a node's state tables into a new
// file, or restores them from a snapshot file, on a connection of its own, so the node's
// event loop keeps running while a large state is copied.
import { type Client, createClient } from "@libsql/client";
import type { StateWorkerReply, StateWorkerRequest } from "./state-copy.ts";

declare const self: Worker;

self.onmessage = async (event: MessageEvent<StateWorkerRequest>) => {
  let reply: StateWorkerReply;
  try {
    const request = event.data;
    const index = request.kind === "copy" ? await copy(request) : request.kind === "restore" ? await restore(request) : await verify(request);
    reply = { ok: true, index };
  } catch (error) {
    reply = { ok: false, message: (error as Error).message };
  }
  // libsql closes a connection only when its prepared statements are finalized, and it
  // finalizes them when they are garbage-collected; ending the worker does not. Without
  // this collection every copy and verify left its connections open: file descriptors,
  // and the disk space of snapshot files deleted since (8 such on a node after 100
  // snapshots in `concord bench --snapshot-every 300`). It runs after a turn of the event
  // loop, so that no stack frame of the work still holds a statement.
  await new Promise((resolve) => setTimeout(resolve, 0));
  Bun.gc(true);
  postMessage(reply);
};

async function copy({ source, target, tables }: Extract<StateWorkerRequest, { kind: "copy" }>): Promise<number> {
  return withClient(source, async (from) => {
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
    return Number(results[results.length - 1]!.rows[0]?.[0] ?? 0);
  });
}

async function restore({ database, snapshotFile, statements }: Extract<StateWorkerRequest, { kind: "restore" }>): Promise<number> {
  return withClient(database, async (db) => {
    // The restore drops the raft log and records the snapshot: it must be durable. The
    // node's writer is idle meanwhile (the driver awaits the install), but may be
    // finishing a statement: wait for it rather than fail.
    await db.execute("PRAGMA synchronous=FULL");
    await db.execute("PRAGMA busy_timeout=10000");
    await db.execute({ sql: "ATTACH DATABASE ? AS snap", args: [snapshotFile] });
    await db.batch([...statements], "write");
    return 0;
  });
}

async function verify({ snapshotFile }: Extract<StateWorkerRequest, { kind: "verify" }>): Promise<number> {
  return withClient(snapshotFile, async (db) => {
    const check = await db.execute("PRAGMA quick_check");
    const verdict = check.rows.map((row) => String(row[0])).join("; ");
    if (verdict !== "ok") throw new Error(`snapshot file fails quick_check: ${verdict.slice(0, 200)}`);
    const meta = await db.execute("SELECT applied_index, digest FROM state_machine_meta WHERE singleton = 1");
    const row = meta.rows[0];
    if (row === undefined) throw new Error("snapshot file has no state_machine_meta row");
    const index = Number(row[0]);
    if (index > 0 && String(row[1]).length !== 64) throw new Error(`snapshot at ${index} carries no digest`);
    return index;
  });
}

async function withClient<T>(path: string, body: (client: Client) => Promise<T>): Promise<T> {
  const client = createClient({ url: `file:${path}` });
  try {
    return await body(client);
  } finally {
    client.close();
  }
}
