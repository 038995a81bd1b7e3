import type { Entry, HardState, SnapshotMeta } from "../raft/types.ts";
import { StorageError } from "./storage-error.ts";
import type { RaftStorage, RaftWrite, StoredRaftState } from "./raft-storage.ts";

/** What a memory "disk" holds; it outlives the storage handles opened on it. */
interface MemoryDisk {
  hardState: HardState;
  snapshot: SnapshotMeta | null;
  entries: Entry[];
}

/** Raft storage in memory: for the simulator, unit tests and benchmarks. */
export class MemoryRaftStorage implements RaftStorage {
  private closed = false;
  private synced = 0;

  constructor(private readonly disk: MemoryDisk = { hardState: { term: 0, vote: 0, commit: 0 }, snapshot: null, entries: [] }) {}

  /** A new handle on the same data, as a restarted process would open its disk. */
  reopen(): MemoryRaftStorage {
    return new MemoryRaftStorage(this.disk);
  }

  private get hardState(): HardState {
    return this.disk.hardState;
  }
  private set hardState(value: HardState) {
    this.disk.hardState = value;
  }
  private get snapshot(): SnapshotMeta | null {
    return this.disk.snapshot;
  }
  private set snapshot(value: SnapshotMeta | null) {
    this.disk.snapshot = value;
  }
  private get entries(): Entry[] {
    return this.disk.entries;
  }
  private set entries(value: Entry[]) {
    this.disk.entries = value;
  }

  async load(): Promise<StoredRaftState> {
    this.assertOpen();
    return { hardState: this.hardState, snapshot: this.snapshot, entries: this.entries.slice() };
  }

  async write(write: RaftWrite): Promise<void> {
    this.writeNow(write);
  }

  /** write(), done before returning (throws a StorageError where write() rejects): for a simulated disk that lands ops itself. */
  writeNow(write: RaftWrite): void {
    this.assertOpen();
    // Validate before changing anything: a refused write loses nothing.
    const snapshotIndex = write.snapshot?.index ?? this.snapshot?.index ?? 0;
    const storedCount = write.snapshot !== null ? 0 : this.entries.length;
    const first = write.entries[0];
    if (first !== undefined && (first.index <= snapshotIndex || first.index > snapshotIndex + storedCount + 1)) {
      throw new StorageError("log_gap", `entries start at ${first.index}; the stored log covers ${snapshotIndex + 1}..${snapshotIndex + storedCount}`);
    }
    const hs = write.hardState;
    const termOrVoteChanged = hs !== null && (hs.term !== this.hardState.term || hs.vote !== this.hardState.vote);
    if (first === undefined && write.snapshot === null && !termOrVoteChanged) return; // commit-only
    this.synced++;
    if (write.snapshot !== null) {
      this.snapshot = write.snapshot;
      this.entries = [];
    }
    if (first !== undefined) {
      this.entries.length = first.index - snapshotIndex - 1;
      for (const entry of write.entries) this.entries.push(entry);
    }
    if (write.hardState !== null) this.hardState = write.hardState;
  }

  syncedWrites(): number {
    return this.synced;
  }

  async compact(snapshot: SnapshotMeta): Promise<void> {
    this.compactNow(snapshot);
  }

  /** compact(), done before returning. */
  compactNow(snapshot: SnapshotMeta): void {
    this.assertOpen();
    const offset = (this.snapshot?.index ?? 0) + 1;
    if (snapshot.index < offset) return;
    this.entries = this.entries.slice(snapshot.index - offset + 1);
    this.snapshot = snapshot;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private assertOpen(): void {
    if (this.closed) throw new StorageError("closed", "storage is closed");
  }
}
