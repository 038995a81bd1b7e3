// What survives a crash. The driver hands a Ready's write here only when the
// simulated disk latency has elapsed; a crash before that simply never calls
// `commitWrite`, which is exactly "the write was lost".

import type { Entry, HardState, RestoredState, SnapshotMeta } from "../../src/raft/types.ts";
import { LogView } from "./log-view.ts";

export interface StoredSnapshot {
  readonly meta: SnapshotMeta;
  readonly bytes: Uint8Array;
}

/** One Ready's durable part, written atomically. */
export interface DiskWrite {
  readonly snapshot: StoredSnapshot | null;
  readonly entries: readonly Entry[];
  readonly hardState: HardState | null;
}

export function isEmptyWrite(w: DiskWrite): boolean {
  return w.snapshot === null && w.entries.length === 0 && w.hardState === null;
}

export class SimDisk {
  hardState: HardState = { term: 0, vote: 0, commit: 0 };
  snapshot: StoredSnapshot | null = null;
  readonly log = new LogView();

  commitWrite(w: DiskWrite): void {
    if (w.snapshot !== null) {
      this.snapshot = w.snapshot;
      this.log.installSnapshot(w.snapshot.meta.index, w.snapshot.meta.term);
    }
    this.log.append(w.entries);
    if (w.hardState !== null) this.hardState = w.hardState;
  }

  /** The driver's own snapshot of its state machine; written synchronously because
   *  it is a local checkpoint that must exist before the log below it is dropped. */
  saveSnapshot(snap: StoredSnapshot): void {
    this.snapshot = snap;
    this.log.compact(snap.meta.index, snap.meta.term);
  }

  /** The state a restarted node boots from. The in-memory state machine died with the
   *  process, so applied restarts at the snapshot and committed entries are replayed. */
  restoredState(): RestoredState {
    return {
      hardState: this.hardState,
      snapshot: this.snapshot?.meta ?? null,
      entries: this.log.entriesAfterSnapshot().slice(),
      applied: this.snapshot?.meta.index ?? 0,
    };
  }
}
