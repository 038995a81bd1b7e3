// A node's log as the driver sees it: a snapshot point plus the contiguous entries
// after it. Used twice per node — once for what is durable on the simulated disk and
// once for what the core holds in memory (durable + the write still in flight) — so
// the checks can look at logs without the core exposing its internals.

import type { Entry } from "../../src/raft/types.ts";
import { sameEntry } from "./payload.ts";
import { RuleBroken } from "./violation.ts";

const NOTHING_OVERWRITTEN: readonly Entry[] = [];

export class LogView {
  private snapIndex = 0;
  private snapTerm = 0;
  /** entries[k].index === snapIndex + 1 + k */
  private entries: Entry[] = [];

  get snapshotIndex(): number {
    return this.snapIndex;
  }

  get snapshotTerm(): number {
    return this.snapTerm;
  }

  lastIndex(): number {
    return this.snapIndex + this.entries.length;
  }

  /** The entry at `index`, or undefined when it is compacted away or beyond the end. */
  entryAt(index: number): Entry | undefined {
    return this.entries[index - this.snapIndex - 1];
  }

  /** Term at `index`, including the snapshot point; undefined when unknown. */
  termAt(index: number): number | undefined {
    if (index === this.snapIndex) return this.snapTerm;
    return this.entryAt(index)?.term;
  }

  entriesAfterSnapshot(): readonly Entry[] {
    return this.entries;
  }

  /**
   * Stores `batch`, replacing everything from batch[0].index on (the driver contract).
   * Returns the entries that were replaced by *different* ones, so callers can tell a
   * harmless re-append from a rewrite.
   */
  append(batch: readonly Entry[]): readonly Entry[] {
    const first = batch[0];
    if (first === undefined) return NOTHING_OVERWRITTEN;
    for (let k = 1; k < batch.length; k++) {
      if ((batch[k] as Entry).index !== first.index + k) {
        throw new RuleBroken("driver contract", `Ready.entries not contiguous at ${first.index + k}`);
      }
    }
    if (first.index <= this.snapIndex) {
      throw new RuleBroken(
        "driver contract",
        `Ready.entries start at ${first.index}, at or below the snapshot ${this.snapIndex}`,
      );
    }
    if (first.index > this.lastIndex() + 1) {
      throw new RuleBroken(
        "driver contract",
        `Ready.entries start at ${first.index}, leaving a gap after last index ${this.lastIndex()}`,
      );
    }
    let overwritten: Entry[] | null = null;
    const keep = first.index - this.snapIndex - 1;
    for (let k = keep; k < this.entries.length; k++) {
      const old = this.entries[k] as Entry;
      const replacement = batch[k - keep];
      if (replacement === undefined || !sameEntry(old, replacement)) (overwritten ??= []).push(old);
    }
    this.entries.length = keep;
    for (const e of batch) this.entries.push(e);
    return overwritten ?? NOTHING_OVERWRITTEN;
  }

  /** A snapshot received from a leader replaces the whole log (what the core does too:
   *  it only installs a snapshot its log does not already cover). */
  installSnapshot(index: number, term: number): void {
    this.snapIndex = index;
    this.snapTerm = term;
    this.entries = [];
  }

  /** Local compaction: drop entries up to `index`, keep the suffix. */
  compact(index: number, term: number): void {
    if (index <= this.snapIndex) return;
    const drop = Math.min(index - this.snapIndex, this.entries.length);
    this.entries = this.entries.slice(drop);
    this.snapIndex = index;
    this.snapTerm = term;
  }

  clone(): LogView {
    const copy = new LogView();
    copy.snapIndex = this.snapIndex;
    copy.snapTerm = this.snapTerm;
    copy.entries = this.entries.slice();
    return copy;
  }
}
