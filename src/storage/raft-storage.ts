import type { Entry, HardState, SnapshotMeta } from "../raft/types.ts";

/**
 * One Ready's worth of durable changes, written atomically. A hard state whose term and
 * vote are unchanged and that comes without entries or a snapshot is not written at
 * all: only its commit moved, and commit is re-derived on restart (see RaftNode.start).
 */
export interface RaftWrite {
  readonly hardState: HardState | null;
  /** A snapshot installed from the leader: the whole log before it is gone. */
  readonly snapshot: SnapshotMeta | null;
  /** Replace the stored log from entries[0].index on with these. */
  readonly entries: readonly Entry[];
}

export interface StoredRaftState {
  readonly hardState: HardState;
  readonly snapshot: SnapshotMeta | null;
  readonly entries: readonly Entry[];
}

/**
 * The raft half of a node's durable state. The core keeps the log in memory; storage
 * is written once per Ready and read once at start.
 */
export interface RaftStorage {
  load(): Promise<StoredRaftState>;
  /** Resolves once the write is durable (fsync'd). */
  write(write: RaftWrite): Promise<void>;
  /** The state machine holds everything up to `snapshot.index`: drop those entries. */
  compact(snapshot: SnapshotMeta): Promise<void>;
  close(): Promise<void>;
  /** How many writes were made durable with an fsync so far (for benchmarks). */
  syncedWrites(): number;
}
