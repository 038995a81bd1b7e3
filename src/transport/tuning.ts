import { memorySnapshotSink } from "../raft/snapshot-bytes.ts";
import type { SnapshotSink } from "../raft/types.ts";
import { silentLogger, type Logger } from "./log.ts";

/** Limits and deadlines shared by every transport; each has a default. */
export interface TransportTuning {
  /** Messages queued between send and flush, over all peers; beyond it new ones are dropped. */
  readonly maxQueuedMessages: number;
  /** Unacknowledged snapshot chunks per transfer. */
  readonly maxChunksInFlight: number;
  readonly snapshotChunkTimeoutMs: number;
  /** How long the last chunk may wait for the receiver to stage the snapshot. */
  readonly snapshotStageTimeoutMs: number;
  /** A receiver drops a transfer that got no chunk for this long. */
  readonly snapshotIdleTimeoutMs: number;
  /** A snapshot announced as larger is refused before anything is taken for it. */
  readonly maxSnapshotBytes: number;
  readonly maxConcurrentSnapshotTransfers: number;
  /**
   * Where an incoming snapshot is assembled. In memory by default (bounded by
   * maxSnapshotBytes); a node writes it to a file in its data directory instead.
   */
  readonly openSnapshotSink: (size: number) => Promise<SnapshotSink>;
  /** onRequest handlers running at once; more are answered "busy" at once. */
  readonly maxConcurrentRequests: number;
  readonly logger: Logger;
}

export const DEFAULT_TUNING: TransportTuning = {
  maxQueuedMessages: 8192,
  maxChunksInFlight: 4,
  snapshotChunkTimeoutMs: 10_000,
  snapshotStageTimeoutMs: 60_000,
  snapshotIdleTimeoutMs: 30_000,
  maxSnapshotBytes: 1024 * 1024 * 1024,
  maxConcurrentSnapshotTransfers: 2,
  openSnapshotSink: async (size) => memorySnapshotSink(size),
  maxConcurrentRequests: 256,
  logger: silentLogger,
};

export function withDefaults(partial: Partial<TransportTuning>): TransportTuning {
  // exactOptionalPropertyTypes keeps an explicit `undefined` out of `partial`, so the
  // spread never erases a default.
  return { ...DEFAULT_TUNING, ...partial };
}

/** A fresh transfer id; random so a restarted sender never reuses one a receiver still holds. */
export function randomTransferId(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0]!;
}
