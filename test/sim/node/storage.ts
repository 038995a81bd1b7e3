// The RaftStorage and SnapshotStore a simulated node runs on: MemoryRaftStorage's
// validation over the machine's NodeDisk, each write or compaction a disk op with
// latency, stalls and crash semantics (see disk.ts).

import { memorySnapshotSink, readWholeSnapshot, snapshotFromBytes } from "../../../src/raft/snapshot-bytes.ts";
import type { SnapshotBytes, SnapshotMeta, SnapshotSink } from "../../../src/raft/types.ts";
import { MemoryRaftStorage } from "../../../src/storage/memory-storage.ts";
import type { RaftStorage, RaftWrite, StoredRaftState } from "../../../src/storage/raft-storage.ts";
import type { SnapshotStore } from "../../../src/storage/snapshot-store.ts";
import type { NodeDisk } from "./disk.ts";

/** Observes what reaches the disk (the invariant checker). */
export interface DiskObserver {
  snapshotRecorded(meta: SnapshotMeta): void;
  /** A write that records a new vote was handed to the disk (a favourite crash point). */
  voteWriteBegun(): void;
}

export class SimRaftStorage implements RaftStorage {
  private readonly durable: MemoryRaftStorage;
  private synced = 0;

  constructor(
    private readonly disk: NodeDisk,
    /** False once this process is dead: it touches the disk no more. */
    private readonly alive: () => boolean,
    private readonly observer: DiskObserver,
    /** After a compaction lands: record the chat state as a point to rebuild from. */
    private readonly checkpoint: () => void,
  ) {
    this.durable = new MemoryRaftStorage(disk.raft);
  }

  load(): Promise<StoredRaftState> {
    return this.durable.load();
  }

  write(write: RaftWrite): Promise<void> {
    if (!this.alive()) return NEVER;
    const hs = write.hardState;
    const durable = this.disk.raft.hardState;
    if (hs !== null && hs.vote !== 0 && (hs.vote !== durable.vote || hs.term !== durable.term)) this.observer.voteWriteBegun();
    const what = `write(${write.entries.length} entries${write.snapshot !== null ? `, snapshot ${write.snapshot.index}` : ""}${write.hardState !== null ? `, hs t${write.hardState.term}/v${write.hardState.vote}` : ""})`;
    return this.disk.submit(what, true, () => {
      this.durable.writeNow(write);
      if (write.snapshot !== null) this.observer.snapshotRecorded(write.snapshot);
      this.synced++;
    });
  }

  compact(snapshot: SnapshotMeta): Promise<void> {
    if (!this.alive()) return NEVER;
    return this.disk.submit(`compact(${snapshot.index}/${snapshot.term})`, true, () => {
      this.durable.compactNow(snapshot);
      this.checkpoint();
      this.observer.snapshotRecorded(snapshot);
    });
  }

  async close(): Promise<void> {}

  syncedWrites(): number {
    return this.synced;
  }
}

/** What a dead process waits on. */
export const NEVER: Promise<never> = new Promise<never>(() => {});

export class SimSnapshotStore implements SnapshotStore {
  constructor(
    private readonly disk: NodeDisk,
    private readonly alive: () => boolean,
  ) {}

  async save(meta: SnapshotMeta, data: SnapshotBytes): Promise<SnapshotBytes> {
    const bytes = await readWholeSnapshot(data);
    await data.release?.();
    if (!this.alive()) return NEVER;
    await this.disk.submit(`save snapshot ${meta.index}`, false, () => this.disk.snapshotFiles.set(meta.index, bytes));
    return snapshotFromBytes(bytes);
  }

  prune(keepIndex: number): Promise<void> {
    if (!this.alive()) return NEVER;
    return this.disk.submit(`prune snapshots but ${keepIndex}`, false, () => {
      for (const index of [...this.disk.snapshotFiles.keys()]) if (index !== keepIndex) this.disk.snapshotFiles.delete(index);
    });
  }

  async load(index: number): Promise<SnapshotBytes | null> {
    const bytes = this.disk.snapshotFiles.get(index);
    return bytes === undefined ? null : snapshotFromBytes(bytes);
  }

  async incoming(size: number): Promise<SnapshotSink> {
    return memorySnapshotSink(size);
  }
}
