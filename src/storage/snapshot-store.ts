import { memorySnapshotSink, readWholeSnapshot, snapshotFromBytes } from "../raft/snapshot-bytes.ts";
import type { SnapshotBytes, SnapshotMeta, SnapshotSink } from "../raft/types.ts";

/** Where a node keeps the bytes of its latest snapshot, to send to followers that need it. */
export interface SnapshotStore {
  /**
   * Keep `data` as the snapshot at `meta`, durably, beside the ones kept before: the log's
   * snapshot record still points at an older one until it is compacted, and a crash in
   * between must find those bytes (see prune). `data` may be moved rather than copied:
   * read the snapshot afterwards through what this returns.
   */
  save(meta: SnapshotMeta, data: SnapshotBytes): Promise<SnapshotBytes>;
  /** Delete every kept snapshot but the one at `keepIndex` (the log's snapshot record now points there). */
  prune(keepIndex: number): Promise<void>;
  /** The bytes of the snapshot at `index`, or null when it is not the one kept. */
  load(index: number): Promise<SnapshotBytes | null>;
  /** Somewhere to receive a snapshot of `size` bytes from the leader (save() then keeps it cheaply). */
  incoming(size: number): Promise<SnapshotSink>;
}

export class MemorySnapshotStore implements SnapshotStore {
  private readonly kept = new Map<number, Uint8Array>();

  async save(meta: SnapshotMeta, data: SnapshotBytes): Promise<SnapshotBytes> {
    const bytes = await readWholeSnapshot(data);
    await data.release?.();
    this.kept.set(meta.index, bytes);
    return snapshotFromBytes(bytes);
  }

  async prune(keepIndex: number): Promise<void> {
    for (const index of [...this.kept.keys()]) if (index !== keepIndex) this.kept.delete(index);
  }

  async load(index: number): Promise<SnapshotBytes | null> {
    const bytes = this.kept.get(index);
    return bytes === undefined ? null : snapshotFromBytes(bytes);
  }

  async incoming(size: number): Promise<SnapshotSink> {
    return memorySnapshotSink(size);
  }
}
