import type { Entry, SnapshotBytes, SnapshotMeta } from "../raft/types.ts";

/**
 * The replicated state machine a node drives. `apply` must be deterministic: every
 * node applies the same entries in the same order and must reach the same state.
 */
export interface StateMachine {
  /** The last index whose effects are durable (read once at start). */
  appliedIndex(): Promise<number>;
  /**
   * Apply committed entries in order, writing their effects and the new applied
   * index in one transaction, so a crash can never apply an entry twice.
   * Returns one result per entry, handed to whoever proposed it.
   */
  apply(entries: readonly Entry[]): Promise<unknown[]>;
  /**
   * A consistent copy of the state as of some applied index. The caller owns the bytes:
   * it keeps them in its snapshot store or releases them.
   */
  snapshot(): Promise<{ index: number; data: SnapshotBytes }>;
  /**
   * Replace the whole state with a snapshot from the leader. Must record `meta` as the
   * node's latest snapshot in the same transaction (the raft log before it is gone).
   */
  restore(meta: SnapshotMeta, data: SnapshotBytes): Promise<void>;
  /**
   * Check snapshot bytes from the leader before the node acts on them (the core commits to
   * installing a snapshot when it steps its message): rejects, with the reason, bytes that
   * are torn, corrupt, or not a state at `meta.index`. Nothing is changed either way.
   */
  verify(meta: SnapshotMeta, data: SnapshotBytes): Promise<void>;
}
