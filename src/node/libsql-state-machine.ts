import { randomUUID } from "node:crypto";
import { readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient, type InStatement, type Transaction } from "@libsql/client";
import type { Entry, SnapshotMeta } from "../raft/types.ts";
import type { NodeDatabase } from "../storage/node-database.ts";
import type { StateMachine } from "./state-machine.ts";

/** Applies one command inside the apply transaction; returns the proposer's result. */
export type ApplyCommand = (tx: Transaction, index: number, data: Uint8Array) => Promise<unknown>;

export interface LibsqlStateMachineOptions {
  database: NodeDatabase;
  /** The tables that make up the replicated state (copied by snapshots). */
  tables: readonly string[];
  applyCommand: ApplyCommand;
  /** Where snapshot files are staged (defaults to the OS temp dir). */
  scratchDir?: string;
}

/**
 * A state machine whose state is a set of tables in the node's libSQL file. Each batch
 * of entries is applied in one transaction together with the applied index, so a
 * crash never applies an entry twice. A snapshot is a `VACUUM INTO` copy.
 */
export class LibsqlStateMachine implements StateMachine {
  private readonly options: LibsqlStateMachineOptions;

  constructor(options: LibsqlStateMachineOptions) {
    for (const table of options.tables) {
      if (!/^[a-z_][a-z0-9_]*$/.test(table)) throw new Error(`invalid table name ${table}`);
    }
    this.options = options;
  }

  async appliedIndex(): Promise<number> {
    const rows = await this.options.database.client.execute("SELECT applied_index FROM state_machine_meta WHERE singleton = 1");
    return Number(rows.rows[0]?.[0] ?? 0);
  }

  async apply(entries: readonly Entry[]): Promise<unknown[]> {
    const last = entries[entries.length - 1];
    if (last === undefined) return [];
    const tx = await this.options.database.client.transaction("write");
    try {
      const results: unknown[] = [];
      for (const entry of entries) {
        // Leader no-ops and membership entries change no table.
        results.push(entry.kind === "normal" && entry.data.length > 0 ? await this.options.applyCommand(tx, entry.index, entry.data) : null);
      }
      await tx.execute(setAppliedIndex(last.index));
      await tx.commit();
      return results;
    } finally {
      tx.close();
    }
  }

  async snapshot(): Promise<{ index: number; data: Uint8Array }> {
    const file = join(this.options.scratchDir ?? tmpdir(), `concord-snapshot-${randomUUID()}.db`);
    try {
      // VACUUM INTO reads one consistent version of the database.
      await this.options.database.client.execute({ sql: "VACUUM INTO ?", args: [file] });
      const copy = createClient({ url: `file:${file}` });
      let index: number;
      try {
        index = Number((await copy.execute("SELECT applied_index FROM state_machine_meta WHERE singleton = 1")).rows[0]?.[0] ?? 0);
        // The log is not part of the state; drop it so the snapshot is only the state.
        await copy.execute("DELETE FROM raft_log");
        await copy.execute("VACUUM");
      } finally {
        copy.close();
      }
      return { index, data: new Uint8Array(await readFile(file)) };
    } finally {
      await rm(file, { force: true });
    }
  }

  async restore(meta: SnapshotMeta, data: Uint8Array): Promise<void> {
    const file = join(this.options.scratchDir ?? tmpdir(), `concord-restore-${randomUUID()}.db`);
    await writeFile(file, data);
    const client = this.options.database.client;
    try {
      await client.execute({ sql: "ATTACH DATABASE ? AS snap", args: [file] });
      try {
        const statements: InStatement[] = [];
        for (const table of this.options.tables) {
          statements.push(`DELETE FROM main.${table}`, `INSERT INTO main.${table} SELECT * FROM snap.${table}`);
        }
        statements.push(setAppliedIndex(meta.index));
        // The raft log before the snapshot is gone, in the same transaction as the state.
        statements.push("DELETE FROM main.raft_log");
        statements.push({
          sql: "INSERT INTO main.raft_snapshot (singleton, idx, term, voters, learners) VALUES (1, ?, ?, ?, ?) ON CONFLICT(singleton) DO UPDATE SET idx = excluded.idx, term = excluded.term, voters = excluded.voters, learners = excluded.learners",
          args: [meta.index, meta.term, JSON.stringify(meta.conf.voters), JSON.stringify(meta.conf.learners)],
        });
        await client.batch(statements, "write");
      } finally {
        await client.execute("DETACH DATABASE snap");
      }
    } finally {
      await rm(file, { force: true });
    }
  }
}

function setAppliedIndex(index: number): InStatement {
  return {
    sql: "INSERT INTO state_machine_meta (singleton, applied_index) VALUES (1, ?) ON CONFLICT(singleton) DO UPDATE SET applied_index = excluded.applied_index",
    args: [index],
  };
}
