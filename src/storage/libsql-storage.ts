import type { Client, InStatement } from "@libsql/client";
import type { Entry, HardState, SnapshotMeta } from "../raft/types.ts";
import type { NodeDatabase } from "./node-database.ts";
import type { RaftStorage, RaftWrite, StoredRaftState } from "./raft-storage.ts";
import { rowChunks, valuesSql } from "./row-chunks.ts";
import { blobArg, type SqlConnection, type SqlValue } from "./sql-connection.ts";
import { StorageError } from "./storage-error.ts";

/** Log rows one compaction statement deletes at most (a few milliseconds of work). */
const COMPACTION_CHUNK_ENTRIES = 2_000;

const HARD_STATE_UPSERT =
  "INSERT INTO raft_hard_state (singleton, term, vote, commit_index) VALUES (1, ?, ?, ?) ON CONFLICT(singleton) DO UPDATE SET term = excluded.term, vote = excluded.vote, commit_index = excluded.commit_index";

/**
 * Raft storage in the node's libSQL file. The hot path (one fsync'd transaction per
 * Ready) runs on the synchronous writer connection with statements prepared once:
 * building Drizzle queries, or preparing SQL per call, would cost more than the write
 * itself. Drizzle owns the schema and migrations.
 */
export class LibsqlRaftStorage implements RaftStorage {
  private readonly client: Client;
  private readonly writer: SqlConnection;
  private closed = false;
  /** The stored log's extent, known after the first load or write. */
  private extent: { snapshotIndex: number; lastIndex: number } | null = null;
  /** Term and vote as last written; a write that changes neither (nor the log) needs no fsync. */
  private durableTermVote: { term: number; vote: number } | null = null;
  private synced = 0;

  constructor(database: NodeDatabase) {
    this.client = database.client;
    this.writer = database.writer;
  }

  async load(): Promise<StoredRaftState> {
    this.assertOpen();
    const [hard, snap, log] = await this.client.batch(
      [
        "SELECT term, vote, commit_index FROM raft_hard_state WHERE singleton = 1",
        "SELECT idx, term, voters, learners FROM raft_snapshot WHERE singleton = 1",
        "SELECT idx, term, kind, data FROM raft_log ORDER BY idx",
      ],
      "read",
    );
    const h = hard!.rows[0];
    const hardState: HardState =
      h === undefined ? { term: 0, vote: 0, commit: 0 } : { term: Number(h[0]), vote: Number(h[1]), commit: Number(h[2]) };
    const s = snap!.rows[0];
    const snapshot: SnapshotMeta | null =
      s === undefined
        ? null
        : {
            index: Number(s[0]),
            term: Number(s[1]),
            conf: { voters: JSON.parse(String(s[2])) as number[], learners: JSON.parse(String(s[3])) as number[] },
          };
    const entries: Entry[] = [];
    let expected = (snapshot?.index ?? 0) + 1;
    for (const row of log!.rows) {
      const index = Number(row[0]);
      if (index <= (snapshot?.index ?? 0)) continue; // compaction finished its meta but not its delete
      if (index !== expected) throw new StorageError("corrupt", `raft log has a hole at ${expected} (found ${index})`);
      const data = row[3] as ArrayBuffer;
      entries.push({ index, term: Number(row[1]), kind: Number(row[2]) === 1 ? "conf" : "normal", data: new Uint8Array(data) });
      expected++;
    }
    this.extent = { snapshotIndex: snapshot?.index ?? 0, lastIndex: expected - 1 };
    this.durableTermVote = { term: hardState.term, vote: hardState.vote };
    return { hardState, snapshot, entries };
  }

  async write(write: RaftWrite): Promise<void> {
    this.assertOpen();
    const hs = write.hardState;
    const termOrVoteChanged = hs !== null && (this.durableTermVote === null || hs.term !== this.durableTermVote.term || hs.vote !== this.durableTermVote.vote);
    // Only the commit index moved: nothing to write (see RaftWrite).
    if (write.entries.length === 0 && write.snapshot === null && !termOrVoteChanged) return;
    const extent = this.extent ?? (await this.readExtent());
    let { snapshotIndex, lastIndex } = extent;
    if (write.snapshot !== null) {
      snapshotIndex = write.snapshot.index;
      lastIndex = snapshotIndex;
    }
    const first = write.entries[0];
    if (first !== undefined && (first.index <= snapshotIndex || first.index > lastIndex + 1)) {
      throw new StorageError("log_gap", `entries start at ${first.index}; the stored log covers ${snapshotIndex + 1}..${lastIndex}`);
    }
    const writer = this.writer;
    writer.transaction(() => {
      if (write.snapshot !== null) {
        writer.run("DELETE FROM raft_log");
        const { sql, args } = snapshotUpsert(write.snapshot);
        writer.run(sql, args);
      }
      if (first !== undefined) {
        // Only a follower overwriting a conflicting suffix has anything to delete.
        if (first.index <= lastIndex) writer.run("DELETE FROM raft_log WHERE idx >= ?", [first.index]);
        for (const [at, count] of rowChunks(write.entries.length)) {
          const args: SqlValue[] = [];
          for (let i = at; i < at + count; i++) {
            const e = write.entries[i]!;
            args.push(e.index, e.term, e.kind === "conf" ? 1 : 0, blobArg(e.data));
          }
          writer.run(`INSERT INTO raft_log (idx, term, kind, data) VALUES ${valuesSql(4, count)}`, args);
        }
      }
      if (write.hardState !== null) {
        const { term, vote, commit } = write.hardState;
        writer.run(HARD_STATE_UPSERT, [term, vote, commit]);
      }
    });
    this.synced++;
    if (hs !== null) this.durableTermVote = { term: hs.term, vote: hs.vote };
    const last = write.entries[write.entries.length - 1];
    this.extent = { snapshotIndex, lastIndex: last?.index ?? lastIndex };
  }

  syncedWrites(): number {
    return this.synced;
  }

  async compact(snapshot: SnapshotMeta): Promise<void> {
    this.assertOpen();
    const extent = this.extent ?? (await this.readExtent());
    if (snapshot.index <= extent.snapshotIndex) return;
    // The snapshot's record first: load() skips entries at or below it, so a crash
    // between the two steps leaves only rows nobody reads (the next compaction deletes them).
    const { sql, args } = snapshotUpsert(snapshot);
    this.writer.run(sql, args);
    this.extent = { snapshotIndex: snapshot.index, lastIndex: Math.max(extent.lastIndex, snapshot.index) };
    // The log below a snapshot can hold hundreds of thousands of entries. Deleted in one
    // statement, they held the event loop for seconds: a leader missed its heartbeats and
    // lost an election under load. A bounded chunk at a time, other work runs in between.
    for (;;) {
      if (this.closed) return;
      const deleted = this.writer.run(
        "DELETE FROM raft_log WHERE idx IN (SELECT idx FROM raft_log WHERE idx <= ? ORDER BY idx LIMIT ?)",
        [snapshot.index, COMPACTION_CHUNK_ENTRIES],
      );
      if (deleted < COMPACTION_CHUNK_ENTRIES) return;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  private async readExtent(): Promise<{ snapshotIndex: number; lastIndex: number }> {
    const [snap, last] = await this.client.batch(
      ["SELECT idx FROM raft_snapshot WHERE singleton = 1", "SELECT max(idx) FROM raft_log"],
      "read",
    );
    const snapshotIndex = Number(snap!.rows[0]?.[0] ?? 0);
    const lastIndex = Math.max(snapshotIndex, Number(last!.rows[0]?.[0] ?? 0));
    this.extent = { snapshotIndex, lastIndex };
    return this.extent;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private assertOpen(): void {
    if (this.closed) throw new StorageError("closed", "storage is closed");
  }
}

function snapshotUpsert(snapshot: SnapshotMeta): { sql: string; args: SqlValue[] } {
  return {
    sql: "INSERT INTO raft_snapshot (singleton, idx, term, voters, learners) VALUES (1, ?, ?, ?, ?) ON CONFLICT(singleton) DO UPDATE SET idx = excluded.idx, term = excluded.term, voters = excluded.voters, learners = excluded.learners",
    args: [snapshot.index, snapshot.term, JSON.stringify(snapshot.conf.voters), JSON.stringify(snapshot.conf.learners)],
  };
}
