import { createHash } from "node:crypto";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import type { Client, InStatement } from "@libsql/client";
import type { Entry, SnapshotBytes, SnapshotMeta } from "../raft/types.ts";
import { FileSnapshotBytes, temporarySnapshotPath, writeSnapshotFile } from "../storage/file-snapshot-store.ts";
import type { NodeDatabase } from "../storage/node-database.ts";
import { withRelaxedDurabilitySync } from "../storage/relaxed-durability.ts";
import type { SqlConnection } from "../storage/sql-connection.ts";
import type { StateMachine } from "./state-machine.ts";
import { copyStateOffThread, restoreStateOffThread, verifySnapshotOffThread } from "./state-copy.ts";

/**
 * Applies one command inside the apply transaction (synchronously, on the writer
 * connection); returns the proposer's result.
 */
export type ApplyCommand = (sql: SqlConnection, index: number, data: Uint8Array) => unknown;

export interface LibsqlStateMachineOptions {
  database: NodeDatabase;
  /** The tables that make up the replicated state (copied by snapshots). */
  tables: readonly string[];
  applyCommand: ApplyCommand;
  /**
   * Called once per batch after its last command and before the commit: a state machine
   * that defers writes (to batch them into multi-row statements) writes them here.
   */
  finishBatch?: (sql: SqlConnection) => void;
  /**
   * Called when a batch's transaction rolls back, and after a snapshot replaced the
   * tables: deferred writes are void, and whatever the applier remembers about the tables.
   */
  abortBatch?: () => void;
  /** Where state copies are written (a node's data directory; defaults to the OS temp dir). */
  scratchDir?: string;
}

/**
 * A state machine whose state is a set of tables in the node's libSQL file. Each batch
 * of entries is applied in one transaction together with the applied index, so a
 * crash never applies an entry twice. A snapshot is a `VACUUM INTO` copy.
 */
export class LibsqlStateMachine implements StateMachine {
  private readonly options: LibsqlStateMachineOptions;
  /** The chained digest as of the applied index (null until read from the database). */
  private digestHex: string | null = null;

  constructor(options: LibsqlStateMachineOptions) {
    for (const table of options.tables) {
      if (!/^[a-z_][a-z0-9_]*$/.test(table)) throw new Error(`invalid table name ${table}`);
    }
    this.options = options;
  }

  async appliedIndex(): Promise<number> {
    return (await this.appliedState()).index;
  }

  /**
   * The applied index and the SHA-256 chained over every entry applied up to it. Two
   * nodes at the same index with different digests diverged: that is a bug to report.
   */
  async appliedState(): Promise<{ index: number; digest: string }> {
    return readAppliedState(this.options.database.client);
  }

  async apply(entries: readonly Entry[]): Promise<unknown[]> {
    const last = entries[entries.length - 1];
    if (last === undefined) return [];
    const digestBefore = this.digestHex ?? (await this.appliedState()).digest;
    const writer = this.options.database.writer;
    // Applying is redone from the durable log after a crash, so it needs no fsync.
    return withRelaxedDurabilitySync(writer, () => this.applyInTransaction(writer, entries, last.index, digestBefore));
  }

  private applyInTransaction(writer: SqlConnection, entries: readonly Entry[], lastIndex: number, digestBefore: string): unknown[] {
    try {
      const { results, digest } = applyBatch(writer, this.options, entries, lastIndex, digestBefore);
      this.digestHex = digest;
      return results;
    } catch (error) {
      this.digestHex = null;
      throw error;
    }
  }

  /**
   * A copy of the state (the raft log left out) at whatever index was applied when the
   * copy began: a worker thread does the copying, so applies go on meanwhile. The copy is
   * a temporary file in the scratch directory (a node's data directory, where its
   * snapshot store keeps it by renaming); it is never read into memory whole.
   */
  async snapshot(): Promise<{ index: number; data: SnapshotBytes }> {
    const file = temporarySnapshotPath(this.options.scratchDir ?? tmpdir());
    try {
      const index = await copyStateOffThread(this.options.database.path, file, this.options.tables);
      return { index, data: await FileSnapshotBytes.of(file, true) };
    } catch (error) {
      await rm(file, { force: true });
      throw error;
    }
  }

  async verify(meta: SnapshotMeta, data: SnapshotBytes): Promise<void> {
    const inFile = data instanceof FileSnapshotBytes ? data.path : null;
    const file = inFile ?? temporarySnapshotPath(this.options.scratchDir ?? tmpdir());
    if (inFile === null) await writeSnapshotFile(file, data);
    try {
      const index = await verifySnapshotOffThread(file);
      if (index !== meta.index) throw new Error(`snapshot bytes hold the state at ${index}, not at ${meta.index}`);
    } finally {
      if (inFile === null) await rm(file, { force: true });
    }
  }

  async restore(meta: SnapshotMeta, data: SnapshotBytes): Promise<void> {
    // A snapshot in a file is attached where it lies; bytes from elsewhere go to a file first.
    const inFile = data instanceof FileSnapshotBytes ? data.path : null;
    const file = inFile ?? temporarySnapshotPath(this.options.scratchDir ?? tmpdir());
    if (inFile === null) await writeSnapshotFile(file, data);
    try {
      const statements: InStatement[] = [];
      for (const table of this.options.tables) {
        statements.push(`DELETE FROM main.${table}`, `INSERT INTO main.${table} SELECT * FROM snap.${table}`);
      }
      statements.push({
        sql: "UPDATE main.state_machine_meta SET applied_index = ?, digest = (SELECT digest FROM snap.state_machine_meta WHERE singleton = 1) WHERE singleton = 1",
        args: [meta.index],
      });
      // The raft log before the snapshot is gone, in the same transaction as the state.
      statements.push("DELETE FROM main.raft_log");
      statements.push({
        sql: "INSERT INTO main.raft_snapshot (singleton, idx, term, voters, learners) VALUES (1, ?, ?, ?, ?) ON CONFLICT(singleton) DO UPDATE SET idx = excluded.idx, term = excluded.term, voters = excluded.voters, learners = excluded.learners",
        args: [meta.index, meta.term, JSON.stringify(meta.conf.voters), JSON.stringify(meta.conf.learners)],
      });
      // The row must exist for the UPDATE above to land.
      statements.unshift(setAppliedState(0, ""));
      this.digestHex = null;
      try {
        // Inserting a large state takes seconds (6.8 s for 250 MB): off the event loop.
        await restoreStateOffThread(this.options.database.path, file, statements);
      } finally {
        this.options.abortBatch?.();
      }
    } finally {
      if (inFile === null) await rm(file, { force: true });
    }
  }
}

/**
 * Apply a batch in one transaction on `writer`: each command, the batch's deferred
 * writes, and the new applied index with the digest chained over the entries. Rolled
 * back whole (and the applier told) when anything throws. The node and the whole-node
 * simulator both apply through this.
 */
export function applyBatch(
  writer: SqlConnection,
  applier: Pick<LibsqlStateMachineOptions, "applyCommand" | "finishBatch" | "abortBatch">,
  entries: readonly Entry[],
  lastIndex: number,
  digestBefore: string,
): { results: unknown[]; digest: string } {
  let digest = digestBefore;
  try {
    return writer.transaction(() => {
      const results: unknown[] = [];
      for (const entry of entries) {
        // Leader no-ops and membership entries change no table.
        results.push(entry.kind === "normal" && entry.data.length > 0 ? applier.applyCommand(writer, entry.index, entry.data) : null);
        digest = chainDigest(digest, entry);
      }
      applier.finishBatch?.(writer);
      writer.run(SET_APPLIED_STATE, [lastIndex, digest]);
      return { results, digest };
    });
  } catch (error) {
    applier.abortBatch?.();
    throw error;
  }
}

export const SET_APPLIED_STATE =
  "INSERT INTO state_machine_meta (singleton, applied_index, digest) VALUES (1, ?, ?) ON CONFLICT(singleton) DO UPDATE SET applied_index = excluded.applied_index, digest = excluded.digest";

function setAppliedState(index: number, digest: string): InStatement {
  return { sql: SET_APPLIED_STATE, args: [index, digest] };
}

const KIND_BYTE = { normal: 0, conf: 1 } as const;

/** Reused for every entry: allocating it (and a DataView on it) per entry cost as much as hashing. */
const DIGEST_HEADER = Buffer.alloc(9);

function chainDigest(previousHex: string, entry: Entry): string {
  const header = DIGEST_HEADER;
  header.writeDoubleBE(entry.index, 0);
  header[8] = KIND_BYTE[entry.kind];
  return createHash("sha256").update(previousHex).update(header).update(entry.data).digest("hex");
}

/** The applied index and digest as committed, read through any connection to the database. */
export async function readAppliedState(client: Pick<Client, "execute">): Promise<{ index: number; digest: string }> {
  const rows = await client.execute("SELECT applied_index, digest FROM state_machine_meta WHERE singleton = 1");
  const row = rows.rows[0];
  return { index: Number(row?.[0] ?? 0), digest: String(row?.[1] ?? "") };
}
