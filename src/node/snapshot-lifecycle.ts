import type { Raft } from "../raft/raft.ts";
import type { Entry, Message, NodeId, SnapshotBytes, SnapshotMeta } from "../raft/types.ts";
import type { RaftStorage } from "../storage/raft-storage.ts";
import type { SnapshotStore } from "../storage/snapshot-store.ts";
import type { IncomingSnapshot, Transport } from "../transport/transport.ts";
import { assert } from "./invariant.ts";
import type { Logger } from "./logger.ts";
import type { NodeClock } from "./node-clock.ts";
import type { DriverTestingFaults } from "./driver-faults.ts";
import type { StateMachine } from "./state-machine.ts";

/** A snapshot waits until the entries applied since the last one reach this fraction of its size. */
const SNAPSHOT_LOG_TO_STATE_RATIO = 0.5;

/** What the snapshot lifecycle needs from the Ready loop that owns it. */
export interface SnapshotLoop {
  /** The node stopped (or failed): start nothing new. */
  isStopped(): boolean;
  appliedIndex(): number;
  /** An installed snapshot is the new applied position (set under the snapshot lock). */
  installed(index: number, term: number): void;
  /** The driver cannot go on (the core threw). */
  fail(error: unknown): void;
  /** The core may have something new in its Ready. */
  notify(): void;
}

export interface SnapshotLifecycleOptions {
  readonly raft: Raft;
  readonly stateMachine: StateMachine;
  readonly snapshots: SnapshotStore;
  readonly storage: RaftStorage;
  readonly transport: Transport;
  readonly logger: Logger;
  readonly clock: NodeClock;
  readonly faults: DriverTestingFaults;
  readonly snapshotEveryEntries: number;
  /** The index of the snapshot the log holds at start (0: none). */
  readonly lastSnapshotIndex: number;
  readonly loop: SnapshotLoop;
}

/**
 * Snapshots, from taking one to installing one: the background copy and compaction
 * (maybeSnapshot), sending ours to a lagging follower, checking and staging one that
 * arrives from the leader until the core asks to install it, and pruning old bytes.
 * Saving-and-compacting and installing take turns under one lock.
 *
 * The loop calls in at fixed points of each Ready (noteApplied, install, send,
 * maybeSnapshot); the applied position stays the loop's, moved here only by an install.
 */
export class SnapshotLifecycle {
  private readonly raft: Raft;
  private readonly options: SnapshotLifecycleOptions;
  private readonly loop: SnapshotLoop;
  private readonly logger: Logger;
  private readonly faults: DriverTestingFaults;

  private lastSnapshotIndex: number;
  private snapshotting = false;
  /** A snapshot being copied in the background: what was applied meanwhile (see maybeSnapshot). */
  private snapshotTracking: { readonly terms: Map<number, number>; confChanged: boolean; invalidated: boolean } | null = null;
  /** The background snapshot, so stop() can wait for it. */
  private snapshotDone: Promise<void> = Promise.resolve();
  /** Size of the latest snapshot, and the entry bytes applied since it (see maybeSnapshot). */
  private lastSnapshotBytes = 0;
  private bytesAppliedSinceSnapshot = 0;
  /** Saving a snapshot file and compacting, or installing one, happen one at a time. */
  private snapshotLock: Promise<void> = Promise.resolve();
  /**
   * Snapshot bytes that arrived beside "snap" messages the core took, by term and index,
   * until it asks to install them. A deposed leader's late snapshot that the core refuses
   * is never staged, so it cannot displace the one the core is about to install.
   */
  private readonly stagedSnapshots = new Map<string, { meta: SnapshotMeta; data: SnapshotBytes }>();
  private readonly snapshotsInFlight = new Set<NodeId>();

  constructor(options: SnapshotLifecycleOptions) {
    this.options = options;
    this.raft = options.raft;
    this.loop = options.loop;
    this.logger = options.logger;
    this.faults = options.faults;
    this.lastSnapshotIndex = options.lastSnapshotIndex;
  }

  /** Resolves once no background snapshot is running (stop() waits for it). */
  idle(): Promise<void> {
    return this.snapshotDone;
  }

  /** Entries just applied (in order): they count towards the next snapshot, and a running copy learns their terms. */
  noteApplied(entries: readonly Entry[]): void {
    for (const entry of entries) this.bytesAppliedSinceSnapshot += entry.data.length;
    const tracking = this.snapshotTracking;
    if (tracking !== null) {
      for (const entry of entries) {
        tracking.terms.set(entry.index, entry.term);
        if (entry.kind === "conf") tracking.confChanged = true;
      }
    }
  }

  // ───────────────────────────── receiving ─────────────────────────────

  /** The transport's onSnapshot: check the bytes, step the message, stage what the core took. */
  async receive(snapshot: IncomingSnapshot): Promise<void> {
    if (this.loop.isStopped()) {
      await snapshot.data.release?.();
      return;
    }
    const meta = snapshot.meta;
    const key = snapshotKey(meta);
    const before = this.raft.status();
    if (snapshot.message.to !== before.id) {
      // The transport checked the sender, not the receiver: stepped, a message for
      // another node breaks the core's first invariant and stops this one.
      this.logger.log("debug", "snapshot_misaddressed", { to: snapshot.message.to, from: snapshot.message.from, index: meta.index });
      await snapshot.data.release?.();
      return;
    }
    // (The old bug staged whatever arrived, stale or not: its switch skips this path.)
    if (this.faults.stageBeforeCoreChecks !== true && (snapshot.message.term < before.term || meta.index <= before.commit)) {
      // The core will not install it (a stale term, or nothing it lacks): no bytes to
      // check or keep, but its answer tells the sender where this node stands.
      await snapshot.data.release?.();
      this.stepSnapshotMessage(snapshot.message);
      return;
    }
    // Torn or corrupt bytes must never reach the core: once it steps the message it has
    // given up its log for this snapshot. Refused, the transfer fails and is sent again.
    try {
      await this.options.stateMachine.verify(meta, snapshot.data);
    } catch (error) {
      this.logger.log("warn", "snapshot_refused", { index: meta.index, term: meta.term, error: (error as Error).message });
      await snapshot.data.release?.();
      throw error;
    }
    if (this.loop.isStopped()) {
      await snapshot.data.release?.();
      return;
    }
    if (this.faults.stageBeforeCoreChecks === true) {
      // The old bug: whatever arrived last is staged, whether or not the core takes it.
      await this.releaseStaged(() => true);
      this.stagedSnapshots.set(key, { meta, data: snapshot.data });
      this.stepSnapshotMessage(snapshot.message);
      return;
    }
    // Staged only if the core takes it (it then restores its log to the snapshot, and asks
    // to install it in a coming Ready); a stale term, a snapshot behind what the node has,
    // or one whose last entry it already holds is answered without an install.
    const snapshotIndexBefore = this.raft.status().snapshotIndex;
    if (!this.stepSnapshotMessage(snapshot.message)) {
      await snapshot.data.release?.();
      return;
    }
    const taken = snapshotIndexBefore < meta.index && this.raft.status().snapshotIndex === meta.index;
    if (taken) {
      const previous = this.stagedSnapshots.get(key);
      this.stagedSnapshots.set(key, { meta, data: snapshot.data });
      if (previous !== undefined) await previous.data.release?.();
      // Only the newest taken snapshot can still be asked for.
      await this.releaseStaged((staged) => staged.meta.index < meta.index);
    } else {
      await snapshot.data.release?.();
    }
    this.loop.notify();
  }

  /** Step a "snap" message; false (and the node stopped) when the core threw. */
  private stepSnapshotMessage(message: Message): boolean {
    try {
      this.raft.step(message);
    } catch (error) {
      this.loop.fail(error);
      return false;
    }
    this.loop.notify();
    return true;
  }

  /** Release every staged snapshot (at stop: bytes the core never asked to install). */
  releaseAllStaged(): Promise<void> {
    return this.releaseStaged(() => true);
  }

  /** Release staged snapshots that `which` picks. */
  private async releaseStaged(which: (staged: { meta: SnapshotMeta }) => boolean): Promise<void> {
    for (const [key, staged] of [...this.stagedSnapshots]) {
      if (!which(staged)) continue;
      this.stagedSnapshots.delete(key);
      await staged.data.release?.();
    }
  }

  // ───────────────────────────── installing ─────────────────────────────

  /** A Ready's snapshot: restore the state machine from the staged bytes, before the Ready is persisted. */
  async install(meta: SnapshotMeta): Promise<void> {
    const key = snapshotKey(meta);
    const staged = this.stagedSnapshots.get(key);
    // The core asks only for a snapshot it accepted from a "snap" message, whose bytes
    // were staged then: anything else is a driver bug.
    assert(staged !== undefined, () => `snapshot ${key} to install has no staged bytes (staged: ${[...this.stagedSnapshots.keys()].join(", ") || "none"})`);
    this.stagedSnapshots.delete(key);
    // A state copy running now reflects the state from before the install (or a mix of
    // both): its configuration is not the one this snapshot brings. Drop it.
    if (this.snapshotTracking !== null && this.faults.keepCopyAcrossInstall !== true) this.snapshotTracking.invalidated = true;
    await this.withSnapshotLock(async () => {
      // Keep the bytes first (as a leader later, we may need to send them on); the store
      // may move them, so the state is restored from what it kept.
      const kept = await this.options.snapshots.save(meta, staged.data);
      await this.options.stateMachine.restore(meta, kept);
      assert(meta.index > this.loop.appliedIndex(), () => `installed snapshot ${key} is not ahead of applied ${this.loop.appliedIndex()}`);
      // The restore moved the log's snapshot record in its own durable transaction: the
      // bytes of older snapshots can go (a follower that keeps falling behind would
      // otherwise keep one state-sized file per install).
      await this.options.snapshots.prune(meta.index);
      this.loop.installed(meta.index, meta.term);
      this.lastSnapshotIndex = meta.index;
      this.lastSnapshotBytes = kept.size;
      this.bytesAppliedSinceSnapshot = 0;
    });
    // Older ones can never be asked for now.
    await this.releaseStaged((other) => other.meta.index <= meta.index);
    this.logger.log("info", "snapshot_installed", { index: meta.index, bytes: staged.data.size });
  }

  // ───────────────────────────── sending ─────────────────────────────

  /** A "snap" message from the core: send our stored snapshot's bytes with it, one transfer per follower. */
  async send(m: Message): Promise<void> {
    const meta = m.snapshot;
    if (meta === null || this.snapshotsInFlight.has(m.to)) return;
    this.snapshotsInFlight.add(m.to);
    try {
      const data = await this.options.snapshots.load(meta.index);
      if (data === null) {
        this.logger.log("error", "snapshot_bytes_missing", { index: meta.index, to: m.to });
        return;
      }
      this.logger.log("info", "snapshot_send", { to: m.to, index: meta.index, bytes: data.size });
      await this.options.transport.sendSnapshot(m.to, m, data);
    } catch (error) {
      // The core resends after its snapshot timeout.
      this.logger.log("warn", "snapshot_send_failed", { to: m.to, error: (error as Error).message });
    } finally {
      this.snapshotsInFlight.delete(m.to);
    }
  }

  // ───────────────────────────── taking ─────────────────────────────

  private withSnapshotLock(body: () => Promise<void>): Promise<void> {
    const run = this.snapshotLock.then(body);
    this.snapshotLock = run.catch(() => {});
    return run;
  }

  /**
   * Take a snapshot every `snapshotEveryEntries` applied entries, in the background: the
   * state machine copies its state off the event loop (seconds, for a large state), and
   * the driver keeps ticking, replicating and applying meanwhile — a node that stopped for
   * the copy would miss heartbeats and cause elections. The copy reflects some index at
   * or after the one applied when it started; its term is recorded as entries are applied
   * meanwhile. A configuration change applied meanwhile makes the snapshot's
   * configuration uncertain, so that copy is dropped and the next trigger tries again.
   *
   * Called between advance() and the next ready(), with the applied index and term then:
   * applied index, term and configuration agree.
   */
  maybeSnapshot(appliedIndex: number, appliedTerm: number): void {
    if (this.snapshotting || this.loop.isStopped() || appliedIndex - this.lastSnapshotIndex < this.options.snapshotEveryEntries) return;
    // Each snapshot copies the whole state, so with a large state a fixed entry count
    // would spend most of the machine copying (100 MB every 10,000 messages). Waiting
    // until the log since the last snapshot is a fraction of the state keeps the copying
    // proportional to the writes, at the price of a longer log to keep and replay.
    if (this.bytesAppliedSinceSnapshot < this.lastSnapshotBytes * SNAPSHOT_LOG_TO_STATE_RATIO) return;
    // The core has taken a leader's snapshot it has not asked us to install yet: its
    // configuration is already that snapshot's, while our state is still the old one, so
    // a copy now would be recorded with a configuration it does not hold.
    const core = this.raft.status();
    if (core.snapshotIndex > appliedIndex) return;
    // Nor while the core has handed out entries the state machine holds back for a later
    // batch (a follower's): the core's configuration already counts their conf entries,
    // and would be recorded for an index before them.
    if (core.applied !== appliedIndex && this.faults.snapshotWhileApplyHeld !== true) return;
    this.snapshotting = true;
    const bytesAtStart = this.bytesAppliedSinceSnapshot;
    const tracking = { terms: new Map([[appliedIndex, appliedTerm]]), confChanged: false, invalidated: false };
    const conf = core.conf;
    this.snapshotTracking = tracking;
    const startedMs = this.options.clock.monotonicMs();
    this.snapshotDone = (async () => {
      try {
        const { index, data } = await this.options.stateMachine.snapshot();
        try {
          const term = tracking.terms.get(index);
          if (term === undefined || tracking.confChanged || tracking.invalidated) {
            const reason = term === undefined ? "unknown term" : tracking.confChanged ? "configuration changed during the copy" : "a snapshot was installed during the copy";
            this.logger.log("info", "snapshot_dropped", { index, reason });
            return;
          }
          const meta: SnapshotMeta = { index, term, conf };
          await this.withSnapshotLock(async () => {
            // A snapshot installed from the leader meanwhile is newer: keep it. (The old bug
            // had neither this check nor the copy's invalidation: its switch skips both.)
            if ((index <= this.lastSnapshotIndex && this.faults.keepCopyAcrossInstall !== true) || this.loop.isStopped()) return;
            const previousIndex = this.lastSnapshotIndex;
            if (this.faults.dropOldSnapshotBeforeCompact === true) await this.options.snapshots.prune(index + 1);
            await this.options.snapshots.save(meta, data);
            // The core checks the snapshot against its log (the term at its index) before
            // the durable log is compacted to it: a wrong term must stop the node, never
            // reach the disk.
            // (The old bug compacted the durable log first: re-created with the old term bug.)
            if (this.faults.snapshotTermFromLastSnapshot === true) await this.options.storage.compact(meta);
            try {
              this.raft.compact(meta);
            } catch (error) {
              this.loop.fail(error);
              return;
            }
            if (this.faults.snapshotTermFromLastSnapshot !== true) await this.options.storage.compact(meta);
            this.lastSnapshotIndex = index;
            // Only now does the log's snapshot record point at the new bytes: until then a
            // crash restarts from the previous ones, which must still be there.
            if (previousIndex !== index) await this.options.snapshots.prune(index);
            this.lastSnapshotBytes = data.size;
            this.bytesAppliedSinceSnapshot -= bytesAtStart;
            this.logger.log("info", "snapshot_taken", { index, bytes: data.size, ms: Math.round(this.options.clock.monotonicMs() - startedMs) });
          });
        } finally {
          // Kept (moved into the store, so this frees nothing) or not wanted.
          await data.release?.();
        }
      } catch (error) {
        this.logger.log("warn", "snapshot_failed", { error: (error as Error).message });
      } finally {
        this.snapshotTracking = null;
        this.snapshotting = false;
      }
    })();
  }
}

function snapshotKey(meta: SnapshotMeta): string {
  return `${meta.term}/${meta.index}`;
}
