// One simulated machine's disk: what outlives the node process. It holds the raft
// state (through MemoryRaftStorage's validation), the kept snapshot files and the chat
// state machine's SQLite database, and it models what a crash keeps of work under way.
//
// Like the SQLite write-ahead log a node writes, the disk is one ordered stream: raft
// writes, compactions and snapshot files complete in the order issued, each fsync'd
// before its promise resolves. A crash keeps a prefix of what was in flight (an fsync
// may have finished without the process hearing of it) and never a later write without
// an earlier one. Apply transactions are not fsync'd (a node replays them from its
// log), so a power loss rolls the chat state back to what the last fsync covered.

import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { Entry, HardState, SnapshotMeta } from "../../../src/raft/types.ts";
import { MIGRATIONS_DIR } from "../../../src/storage/node-database.ts";
import { SqlConnection } from "../../../src/storage/sql-connection.ts";
import type { SimRandom } from "../sim-random.ts";
import type { SimScheduler } from "./scheduler.ts";

/** MemoryRaftStorage's disk: the raft log, hard state and snapshot record. */
export interface RaftDiskState {
  hardState: HardState;
  snapshot: SnapshotMeta | null;
  entries: Entry[];
}

/** Work handed to the disk and not yet durable. */
interface DiskOp {
  readonly what: string;
  /** Make the op's effects durable (runs at completion, or at a crash that keeps it). */
  readonly land: () => void;
  /** Tell the process (only when it completes while the process lives). */
  readonly done: (error: unknown) => void;
  /** A raft write or compaction: its fsync also covers the chat state applied before it. */
  readonly syncsState: boolean;
  /** When its fsync would finish, stalls aside. */
  readonly dueMs: number;
}

export type CrashKind = "process" | "power";

let schemaSql: string[] | null = null;
/** The node database's schema, from the same migrations a node runs at start. */
function schemaStatements(): string[] {
  if (schemaSql === null) {
    const files = readdirSync(MIGRATIONS_DIR)
      .filter((f) => f.endsWith(".sql"))
      .sort();
    schemaSql = files.flatMap((f) =>
      readFileSync(join(MIGRATIONS_DIR, f), "utf8")
        .split("--> statement-breakpoint")
        .map((s) => s.trim())
        .filter((s) => s.length > 0),
    );
  }
  return schemaSql;
}

/** Emptied databases of finished runs: creating the schema anew was a tenth of a run's time. */
const spareDatabases: SqlConnection[] = [];
const MAX_SPARE_DATABASES = 16;

export function openStateDatabase(): SqlConnection {
  const spare = spareDatabases.pop();
  if (spare !== undefined) return spare;
  const db = new SqlConnection(":memory:");
  for (const statement of schemaStatements()) db.exec(statement);
  return db;
}

/** Hand a database back, emptied, for a later run (or close it when enough are spare). */
export function releaseStateDatabase(db: SqlConnection): void {
  if (spareDatabases.length >= MAX_SPARE_DATABASES) return db.close();
  const tables = db.all("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'");
  db.transaction(() => {
    for (const [name] of tables) db.run(`DELETE FROM "${String(name)}"`);
  });
  spareDatabases.push(db);
}

export class NodeDisk {
  readonly raft: RaftDiskState = { hardState: { term: 0, vote: 0, commit: 0 }, snapshot: null, entries: [] };
  /** Snapshot files by index, as kept (durably) by the snapshot store. */
  readonly snapshotFiles = new Map<number, Uint8Array>();
  /** The chat state machine's tables (a process crash keeps them; see powerLoss). */
  state: SqlConnection = openStateDatabase();
  /** The applied index the last fsync covered: what a power loss keeps of the chat state. */
  syncedAppliedIndex = 0;
  /** The chat state as rows at some durable applied index, to rebuild from after a power loss. */
  checkpoint: { index: number; rows: Uint8Array | null } = { index: 0, rows: null };
  /** fsyncs stall until this virtual time (Infinity: until healed). */
  stalledUntilMs = 0;
  private readonly inFlight: DiskOp[] = [];
  /** Checks what is on the disk after every op that lands (the world's rules). */
  afterLanding: (() => void) | null = null;
  private busyUntilMs = 0;

  constructor(
    private readonly scheduler: SimScheduler,
    private readonly rng: SimRandom,
    /** Latency of one fsync'd op, drawn per op. */
    private readonly latencyMs: { readonly min: number; readonly max: number },
    /** The state machine's applied index now (the disk cannot see it otherwise). */
    private readonly currentAppliedIndex: () => number,
  ) {}

  get stalled(): boolean {
    return this.stalledUntilMs > this.scheduler.nowMs;
  }

  get pendingOps(): number {
    return this.inFlight.length;
  }

  /** Raft writes in flight: the node's Ready loop waits on each (snapshot files and pruning run beside it). */
  get pendingRaftWrites(): number {
    let n = 0;
    for (const op of this.inFlight) if (op.what.startsWith("write(")) n++;
    return n;
  }

  /**
   * Queue a durable op; it completes after the ops before it, its own latency and any
   * stall. The promise never settles if the process dies first (the disk keeps or loses
   * the op at the crash, see crash()).
   */
  submit(what: string, syncsState: boolean, land: () => void): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const startMs = Math.max(this.scheduler.nowMs, this.busyUntilMs);
      this.busyUntilMs = startMs + this.rng.between(this.latencyMs.min, this.latencyMs.max);
      const op: DiskOp = { what, land, syncsState, dueMs: this.busyUntilMs, done: (error) => (error === null ? resolve() : reject(error)) };
      this.inFlight.push(op);
      this.scheduler.at(op.dueMs - this.scheduler.nowMs, () => this.completeDue());
    });
  }

  /** Complete, in order, every op whose time has come; a stall holds the first and all behind it. */
  private completeDue(): void {
    for (;;) {
      const head = this.inFlight[0];
      if (head === undefined || head.dueMs > this.scheduler.nowMs) return;
      if (this.stalled) {
        const resumeMs = Number.isFinite(this.stalledUntilMs) ? this.stalledUntilMs - this.scheduler.nowMs : 50;
        this.scheduler.at(resumeMs, () => this.completeDue());
        return;
      }
      this.inFlight.shift();
      head.done(this.land(head));
    }
  }

  /** The stall ended early (healed): finish what waited behind it. */
  unstall(): void {
    this.stalledUntilMs = Math.min(this.stalledUntilMs, this.scheduler.nowMs);
    this.scheduler.at(0, () => this.completeDue());
  }

  private land(op: DiskOp): unknown {
    try {
      op.land();
    } catch (error) {
      return error; // refused (e.g. log_gap): nothing changed, the process hears why
    }
    if (op.syncsState) this.syncedAppliedIndex = this.currentAppliedIndex();
    this.afterLanding?.();
    return null;
  }

  /**
   * The process died (or the machine lost power) with `inFlight` ops under way: a
   * random prefix of them landed. A power loss also loses chat state no fsync covered.
   */
  crash(kind: CrashKind, rebuildState: (checkpoint: NodeDisk["checkpoint"], upToIndex: number) => void): string {
    const ops = this.inFlight.splice(0);
    let kept = 0;
    while (kept < ops.length && this.rng.chance(0.5)) {
      this.land(ops[kept]!);
      kept++;
    }
    this.busyUntilMs = this.scheduler.nowMs;
    const summary = ops.length === 0 ? "" : ` (${kept} of ${ops.length} ops in flight kept: ${ops.map((o) => o.what).join(", ")})`;
    if (kind === "process") return summary;
    const applied = this.currentAppliedIndex();
    if (applied > this.syncedAppliedIndex) rebuildState(this.checkpoint, this.syncedAppliedIndex);
    return `${summary}; power loss: chat state back from ${applied} to ${this.syncedAppliedIndex}`;
  }
}
