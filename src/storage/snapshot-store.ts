import { memorySnapshotSink, readWholeSnapshot, snapshotFromBytes } from "../raft/snapshot-bytes.ts";
import type { SnapshotBytes, SnapshotMeta, SnapshotSink } from "../raft/types.ts";

/** Where a node keeps the bytes of its latest snapshot, to send to followers that need it. */
export interface SnapshotStore {
  /**
   * Keep `data` as the snapshot at `meta`, durably, replacing any older one. `data` may be
   * moved rather than copied: read the snapshot afterwards through what this returns.
   */
  save(meta: SnapshotMeta, data: SnapshotBytes): Promise<SnapshotBytes>;
  /** The bytes of the snapshot at `index`, or null when it is not the one kept. */
  load(index: number): Promise<SnapshotBytes | null>;
  /** Somewhere to receive a snapshot of `size` bytes from the leader (save() then keeps it cheaply). */
  incoming(size: number): Promise<SnapshotSink>;
}

export class MemorySnapshotStore implements SnapshotStore {
  private latest: { index: number; data: Uint8Array } | null = null;

  async save(meta: SnapshotMeta, data: SnapshotBytes): Promise<SnapshotBytes> {
    const bytes = await readWholeSnapshot(data);
    await data.release?.();
    this.latest = { index: meta.index, data: bytes };
    return snapshotFromBytes(bytes);
  }

  async load(index: number): Promise<SnapshotBytes | null> {
    return this.latest !== null && this.latest.index === index ? snapshotFromBytes(this.latest.data) : null;
  }

  async incoming(size: number): Promise<SnapshotSink> {
    return memorySnapshotSink(size);
  }
}
