import type { SnapshotMeta } from "../raft/types.ts";

/** Where a node keeps the bytes of its latest snapshot, to send to followers that need it. */
export interface SnapshotStore {
  /** Durable on return; replaces any older snapshot. */
  save(meta: SnapshotMeta, data: Uint8Array): Promise<void>;
  /** The bytes of the snapshot at `index`, or null when it is not the one kept. */
  load(index: number): Promise<Uint8Array | null>;
}

export class MemorySnapshotStore implements SnapshotStore {
  private latest: { index: number; data: Uint8Array } | null = null;

  async save(meta: SnapshotMeta, data: Uint8Array): Promise<void> {
    this.latest = { index: meta.index, data };
  }

  async load(index: number): Promise<Uint8Array | null> {
    return this.latest !== null && this.latest.index === index ? this.latest.data : null;
  }
}
