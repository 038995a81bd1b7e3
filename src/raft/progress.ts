import { invariant } from "./errors.ts";
import type { NodeId, ProgressState } from "./types.ts";

/**
 * A ring of the "app" messages in flight to one follower: their last index and size.
 * Bounded by count and bytes, so a slow follower cannot make the leader queue without end.
 */
export class Inflights {
  private readonly lastIndexes: Float64Array;
  private readonly sizes: Float64Array;
  private start = 0;
  count = 0;
  bytes = 0;

  constructor(
    readonly maxCount: number,
    readonly maxBytes: number,
  ) {
    invariant(maxCount > 0 && maxBytes > 0, "inflight limits must be positive");
    this.lastIndexes = new Float64Array(maxCount);
    this.sizes = new Float64Array(maxCount);
  }

  full(): boolean {
    return this.count === this.maxCount || this.bytes >= this.maxBytes;
  }

  add(lastIndex: number, size: number): void {
    invariant(!this.full(), "inflights overflow");
    const at = (this.start + this.count) % this.maxCount;
    this.lastIndexes[at] = lastIndex;
    this.sizes[at] = size;
    this.count++;
    this.bytes += size;
  }

  /** The follower acknowledged everything up to `index`: free those slots. */
  freeLE(index: number): void {
    while (this.count > 0 && this.lastIndexes[this.start]! <= index) {
      this.bytes -= this.sizes[this.start]!;
      this.start = (this.start + 1) % this.maxCount;
      this.count--;
    }
    if (this.count === 0) {
      this.start = 0;
      this.bytes = 0;
    }
  }

  /** Give up on the oldest message (it or its answer was probably lost). */
  freeFirstOne(): void {
    if (this.count === 0) return;
    this.freeLE(this.lastIndexes[this.start]!);
  }

  reset(): void {
    this.start = 0;
    this.count = 0;
    this.bytes = 0;
  }
}

/**
 * The leader's view of one member (itself included).
 *   probe:     we don't know where the logs agree; one "app" per heartbeat until we do.
 *   replicate: logs agree up to match; stream entries optimistically (pipelining).
 *   snapshot:  the follower needs entries we compacted; wait for it to install ours.
 * Invariant: match < next.
 */
export class Progress {
  match = 0;
  next: number;
  state: ProgressState = "probe";
  /** In probe state: an "app" was sent since the last heartbeat, so wait. */
  probeSent = false;
  /** The snapshot index sent while in snapshot state. */
  pendingSnapshot = 0;
  /** Heard from since the last check-quorum round. */
  recentActive = false;
  /** Ticks since the leader last heard from this member. */
  lastContactTicks = 0;
  /** Ticks spent waiting in snapshot state; past a limit the snapshot is sent again. */
  snapshotElapsedTicks = 0;
  /** The commit index last sent, so an unchanged commit costs no message. */
  sentCommit = 0;
  /** Highest read round this member has acknowledged (ReadIndex). */
  ackedReadRound = 0;
  readonly inflights: Inflights;

  constructor(
    readonly id: NodeId,
    public voter: boolean,
    next: number,
    maxInflightMsgs: number,
    maxInflightBytes: number,
  ) {
    this.next = next;
    this.inflights = new Inflights(maxInflightMsgs, maxInflightBytes);
  }

  becomeProbe(): void {
    // Coming back from a snapshot, resume after it: the follower has at least that.
    if (this.state === "snapshot") {
      this.next = Math.max(this.match + 1, this.pendingSnapshot + 1);
    } else {
      this.next = this.match + 1;
    }
    this.state = "probe";
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.inflights.reset();
  }

  becomeReplicate(): void {
    this.state = "replicate";
    this.next = this.match + 1;
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.inflights.reset();
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.state = "snapshot";
    this.pendingSnapshot = snapshotIndex;
    this.snapshotElapsedTicks = 0;
    this.probeSent = false;
    this.inflights.reset();
  }

  /** An acknowledgement up to `index`; returns whether it told us something new. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (this.match < index) {
      this.match = index;
      updated = true;
      this.probeSent = false;
    }
    if (this.next < index + 1) this.next = index + 1;
    return updated;
  }

  /**
   * A rejection of the "app" after `rejected`, with the follower's hint of where to
   * look next. Returns false when the rejection is stale (answers an older message).
   */
  maybeDecrease(rejected: number, hint: number): boolean {
    if (this.state === "snapshot") return false;
    if (this.state === "replicate") {
      // In replicate state every message after match was sent optimistically;
      // only a rejection above match is news.
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    // In probe state only the latest probe (at next - 1) counts.
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, hint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  /** Can the leader send another "app" now? */
  paused(): boolean {
    switch (this.state) {
      case "probe":
        return this.probeSent;
      case "replicate":
        return this.inflights.full();
      case "snapshot":
        return true;
    }
  }
}
