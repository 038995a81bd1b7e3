import { invariant } from "./errors.ts";
import type { Entry, SnapshotMeta } from "./types.ts";

/**
 * The node's log as the core sees it: a snapshot (index, term) followed by the entries
 * after it, all in memory. The driver persists what `unstableEntries()` returns and
 * reports it back through `stableTo`.
 *
 * Invariants:
 *   snapshotIndex <= committed <= lastIndex
 *   entries[i].index === snapshotIndex + 1 + i
 *   snapshotIndex < stableLimit <= lastIndex + 1  (entries below stableLimit are durable)
 */
export class RaftLog {
  private entries: Entry[];
  private snapshotIndexValue: number;
  private snapshotTermValue: number;
  /** The first index that is not yet durable. */
  private unstableFrom: number;
  committed: number;
  /** The newest snapshot the driver has reported (from compaction or installation). */
  snapshot: SnapshotMeta | null;
  /** A snapshot received from a leader that the driver has not yet installed. */
  pendingSnapshot: SnapshotMeta | null = null;

  constructor(snapshot: SnapshotMeta | null, entries: readonly Entry[], committed: number) {
    this.snapshot = snapshot;
    this.snapshotIndexValue = snapshot?.index ?? 0;
    this.snapshotTermValue = snapshot?.term ?? 0;
    this.entries = entries.slice();
    for (let i = 0; i < this.entries.length; i++) {
      invariant(this.entries[i]!.index === this.snapshotIndexValue + 1 + i, "restored log is not contiguous");
    }
    this.unstableFrom = this.lastIndex() + 1;
    this.committed = Math.max(committed, this.snapshotIndexValue);
    invariant(this.committed <= this.lastIndex(), () => `restored commit ${committed} beyond last index ${this.lastIndex()}`);
  }

  snapshotIndex(): number {
    return this.snapshotIndexValue;
  }

  firstIndex(): number {
    return this.snapshotIndexValue + 1;
  }

  lastIndex(): number {
    return this.snapshotIndexValue + this.entries.length;
  }

  lastTerm(): number {
    const n = this.entries.length;
    return n === 0 ? this.snapshotTermValue : this.entries[n - 1]!.term;
  }

  /** The term at `index`, or -1 when it is compacted away or beyond the end. */
  term(index: number): number {
    if (index === this.snapshotIndexValue) return this.snapshotTermValue;
    if (index < this.snapshotIndexValue || index > this.lastIndex()) return -1;
    return this.entries[index - this.snapshotIndexValue - 1]!.term;
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  entryAt(index: number): Entry {
    const entry = this.entries[index - this.snapshotIndexValue - 1];
    invariant(entry !== undefined, () => `no entry at ${index} (log ${this.firstIndex()}..${this.lastIndex()})`);
    return entry;
  }

  /** Entries in [lo, hi], stopping after `maxBytes` of data (always at least one). */
  slice(lo: number, hi: number, maxBytes: number): Entry[] {
    invariant(lo > this.snapshotIndexValue, () => `slice from ${lo} reaches into the snapshot at ${this.snapshotIndexValue}`);
    const base = this.snapshotIndexValue + 1;
    const from = lo - base;
    const last = Math.min(hi, this.lastIndex()) - base;
    // Find where the byte budget ends, then copy once (far cheaper than pushing).
    let to = from;
    let bytes = 0;
    while (to <= last) {
      bytes += this.entries[to]!.data.length;
      if (to > from && bytes > maxBytes) break;
      to++;
    }
    return this.entries.slice(from, to);
  }

  /**
   * The largest index <= `index` whose term is <= `term`: where a log holding `term`
   * at `index` can still agree with ours. Used for the conflict hint in both directions.
   */
  findConflictByTerm(index: number, term: number): number {
    let i = Math.min(index, this.lastIndex());
    while (i > this.snapshotIndexValue && this.term(i) > term) i--;
    return i;
  }

  /** Is a log ending at (index, term) at least as up-to-date as ours? (§5.4.1) */
  isUpToDate(index: number, term: number): boolean {
    const lastTerm = this.lastTerm();
    return term > lastTerm || (term === lastTerm && index >= this.lastIndex());
  }

  /** Leader path: append new entries at the end. */
  append(entry: Entry): void {
    invariant(entry.index === this.lastIndex() + 1, "append out of order");
    this.entries.push(entry);
  }

  /**
   * Follower path (§5.3): given that our log matches the leader's at `prevIndex`,
   * take `incoming`, skipping entries we already hold and truncating from the first
   * conflict. Returns the index of the last entry now known to match the leader.
   */
  mergeFromLeader(prevIndex: number, incoming: readonly Entry[]): number {
    let i = 0;
    // Skip what we already have (duplicates and reordered retries are common).
    while (i < incoming.length) {
      const entry = incoming[i]!;
      if (entry.index <= this.snapshotIndexValue) {
        i++;
        continue;
      }
      if (this.term(entry.index) !== entry.term) break;
      i++;
    }
    if (i < incoming.length) {
      const first = incoming[i]!;
      invariant(first.index > this.committed, () => `leader entry ${first.index}/${first.term} conflicts with committed ${this.committed}`);
      if (first.index <= this.lastIndex()) {
        this.entries.length = first.index - this.snapshotIndexValue - 1;
        if (first.index < this.unstableFrom) this.unstableFrom = first.index;
      }
      for (; i < incoming.length; i++) this.entries.push(incoming[i]!);
    }
    return prevIndex + incoming.length;
  }

  commitTo(index: number): void {
    if (index <= this.committed) return; // commit never goes backwards
    invariant(index <= this.lastIndex(), () => `commit ${index} beyond last index ${this.lastIndex()}`);
    this.committed = index;
  }

  hasUnstable(): boolean {
    return this.unstableFrom <= this.lastIndex();
  }

  unstableEntries(): Entry[] {
    return this.unstableFrom > this.lastIndex() ? [] : this.entries.slice(this.unstableFrom - this.snapshotIndexValue - 1);
  }

  /** The last index that is durable. */
  stableIndex(): number {
    return this.unstableFrom - 1;
  }

  /**
   * The driver made entries up to (index, term) durable. Ignored when the log has
   * since been truncated below it: then what was written is not what we hold.
   */
  stableTo(index: number, term: number): void {
    if (this.term(index) === term && index >= this.unstableFrom) this.unstableFrom = index + 1;
  }

  /** Replace everything with a snapshot from the leader (the log did not contain it). */
  restore(snapshot: SnapshotMeta): void {
    this.entries = [];
    this.snapshotIndexValue = snapshot.index;
    this.snapshotTermValue = snapshot.term;
    this.committed = snapshot.index;
    this.unstableFrom = snapshot.index + 1;
    this.pendingSnapshot = snapshot;
    this.snapshot = snapshot;
  }

  /** Drop entries up to a snapshot the driver took (the state machine holds them). */
  compact(snapshot: SnapshotMeta): void {
    if (snapshot.index <= this.snapshotIndexValue) return;
    invariant(snapshot.index <= this.committed, () => `compaction at ${snapshot.index} beyond commit ${this.committed}`);
    invariant(this.term(snapshot.index) === snapshot.term, () => `snapshot term ${snapshot.term} does not match log at ${snapshot.index}`);
    this.entries = this.entries.slice(snapshot.index - this.snapshotIndexValue);
    this.snapshotIndexValue = snapshot.index;
    this.snapshotTermValue = snapshot.term;
    if (this.unstableFrom < snapshot.index + 1) this.unstableFrom = snapshot.index + 1;
    this.snapshot = snapshot;
  }
}
