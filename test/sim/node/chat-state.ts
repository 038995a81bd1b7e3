// The chat state machine a simulated node applies to: the real ChatStateMachine's
// commands, applied through the node's own applyBatch into an in-memory SQLite database
// that lives on the machine's NodeDisk. Snapshots are the state tables' rows (the node
// copies them into a SQLite file instead; the simulator leaves the file format and the
// worker thread out), copied in the background over a stretch of virtual time.

import { ChatStateMachine } from "../../../src/chat/chat-state-machine.ts";
import { applyBatch, SET_APPLIED_STATE } from "../../../src/node/libsql-state-machine.ts";
import type { StateMachine } from "../../../src/node/state-machine.ts";
import { readWholeSnapshot, snapshotFromBytes } from "../../../src/raft/snapshot-bytes.ts";
import type { Entry, SnapshotBytes, SnapshotMeta } from "../../../src/raft/types.ts";
import type { SqlConnection, SqlValue } from "../../../src/storage/sql-connection.ts";
import type { SimRandom } from "../sim-random.ts";
import { type NodeDisk, openStateDatabase, releaseStateDatabase } from "./disk.ts";
import { NEVER } from "./storage.ts";
import type { SimScheduler } from "./scheduler.ts";

/** What the checker sees of every applied batch and restore. */
export interface StateObserver {
  applied(entries: readonly Entry[], digest: string): void;
  restored(meta: SnapshotMeta, digest: string): void;
}

interface StateRows {
  readonly index: number;
  readonly digest: string;
  readonly tables: Record<string, SqlValue[][]>;
}

export function appliedStateOf(db: SqlConnection): { index: number; digest: string } {
  const row = db.get("SELECT applied_index, digest FROM state_machine_meta WHERE singleton = 1");
  return { index: Number(row?.[0] ?? 0), digest: String(row?.[1] ?? "") };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function dumpRows(db: SqlConnection, tables: readonly string[]): Uint8Array {
  const { index, digest } = appliedStateOf(db);
  const rows: StateRows = { index, digest, tables: {} };
  for (const table of tables) rows.tables[table] = db.all(`SELECT * FROM ${table}`) as SqlValue[][];
  return encoder.encode(JSON.stringify(rows));
}

/** The rows in snapshot bytes, if they are a state at `index` (what verify checks). */
function rowsAt(bytes: Uint8Array, index: number): StateRows {
  const rows = JSON.parse(decoder.decode(bytes)) as StateRows;
  // The snapshot's own record of where it stands must agree with what raft says it is.
  if (rows.index !== index) throw new Error(`snapshot bytes hold index ${rows.index}, the message says ${index}`);
  return rows;
}

function loadRows(db: SqlConnection, tables: readonly string[], bytes: Uint8Array, index: number): string {
  const rows = rowsAt(bytes, index);
  db.transaction(() => {
    for (const table of tables) {
      db.run(`DELETE FROM ${table}`);
      for (const row of rows.tables[table] ?? []) db.run(`INSERT INTO ${table} VALUES (${row.map(() => "?").join(", ")})`, row);
    }
    db.run(SET_APPLIED_STATE, [rows.index, rows.digest]);
  });
  return rows.digest;
}

export interface ChatStateTiming {
  /** How long a background state copy takes. */
  readonly copyMs: { readonly min: number; readonly max: number };
}

export class SimChatStateMachine implements StateMachine {
  /** This process's chat applier (its caches die with the process). */
  readonly chat = new ChatStateMachine();
  private digest: string;

  constructor(
    private readonly disk: NodeDisk,
    private readonly scheduler: SimScheduler,
    private readonly rng: SimRandom,
    private readonly timing: ChatStateTiming,
    private readonly alive: () => boolean,
    private readonly observer: StateObserver,
  ) {
    this.digest = appliedStateOf(disk.state).digest;
  }

  async appliedIndex(): Promise<number> {
    return appliedStateOf(this.disk.state).index;
  }

  async apply(entries: readonly Entry[]): Promise<unknown[]> {
    if (!this.alive()) return NEVER;
    const last = entries[entries.length - 1];
    if (last === undefined) return [];
    const { results, digest } = applyBatch(this.disk.state, this.chat, entries, last.index, this.digest);
    this.digest = digest;
    this.chat.drainEvents();
    this.observer.applied(entries, digest);
    return results;
  }

  /** The rows as of a moment somewhere in the copy's stretch of virtual time. */
  snapshot(): Promise<{ index: number; data: SnapshotBytes }> {
    const copyMs = this.rng.between(this.timing.copyMs.min, this.timing.copyMs.max);
    const takenAtMs = this.rng.int(copyMs + 1);
    return new Promise((resolve) => {
      let rows: Uint8Array | null = null;
      this.scheduler.at(takenAtMs, () => {
        if (this.alive()) rows = dumpRows(this.disk.state, this.chat.tables);
      });
      this.scheduler.at(copyMs, () => {
        if (!this.alive() || rows === null) return;
        const index = (JSON.parse(decoder.decode(rows)) as StateRows).index;
        resolve({ index, data: snapshotFromBytes(rows) });
      });
    });
  }

  /** Checks the rows' index, over a stretch of virtual time (a real check reads the whole file). */
  async verify(meta: SnapshotMeta, data: SnapshotBytes): Promise<void> {
    const bytes = await readWholeSnapshot(data);
    await new Promise<void>((resolve) => this.scheduler.at(this.rng.between(0, this.timing.copyMs.max), resolve));
    if (!this.alive()) return NEVER;
    rowsAt(bytes, meta.index);
  }

  /**
   * Replace the state, and (as LibsqlStateMachine does, in the same transaction) the raft
   * log before the snapshot: durable when it resolves.
   */
  async restore(meta: SnapshotMeta, data: SnapshotBytes): Promise<void> {
    const bytes = await readWholeSnapshot(data);
    if (!this.alive()) return NEVER;
    await this.disk.submit(`restore ${meta.index}`, true, () => {
      this.digest = loadRows(this.disk.state, this.chat.tables, bytes, meta.index);
      this.chat.abortBatch();
      this.disk.raft.snapshot = meta;
      this.disk.raft.entries = [];
      this.disk.checkpoint = { index: meta.index, rows: bytes };
      this.observer.restored(meta, this.digest);
    });
  }

  /** A durable point to rebuild from after a power loss (taken when the log is compacted). */
  checkpointNow(): void {
    const rows = dumpRows(this.disk.state, this.chat.tables);
    this.disk.checkpoint = { index: appliedStateOf(this.disk.state).index, rows };
  }
}

/**
 * After a power loss: the chat state as of `upToIndex`, rebuilt from the last checkpoint
 * and the durable log with the same apply code, into a fresh database.
 */
export function rebuildChatState(disk: NodeDisk, upToIndex: number): void {
  const db = openStateDatabase();
  const chat = new ChatStateMachine();
  const { index, rows } = disk.checkpoint;
  let digest = "";
  if (rows !== null) digest = loadRows(db, chat.tables, rows, index);
  const entries = disk.raft.entries.filter((e) => e.index > index && e.index <= upToIndex);
  const expected = upToIndex - index;
  if (entries.length !== expected) {
    throw new Error(`power loss rebuild: the durable log holds ${entries.length} of the ${expected} entries ${index + 1}..${upToIndex}`);
  }
  if (entries.length > 0) applyBatch(db, chat, entries, upToIndex, digest);
  releaseStateDatabase(disk.state);
  disk.state = db;
}
