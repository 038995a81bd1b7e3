import type { LatencyCounts } from "./latency-histogram.ts";

/**
 * A node's figures for monitoring, as numbers (RaftNode.metrics). The driver only counts;
 * src/api/metrics.ts renders them as Prometheus text beside the HTTP figures.
 */
export interface NodeMetrics {
  readonly term: number;
  readonly isLeader: boolean;
  /** Highest index known committed, and applied to the state machine. */
  readonly commit: number;
  readonly applied: number;
  /** Last index in the log, and that of the latest snapshot. */
  readonly lastIndex: number;
  readonly snapshotIndex: number;
  /** Leader changes this node has seen since it started. */
  readonly leaderChanges: number;
  /** Raft writes made durable with an fsync. */
  readonly fsyncs: number;
  readonly entriesApplied: number;
  /** From proposal to applied result, on the proposing node. */
  readonly proposalLatency: LatencyCounts;
  /** One durable raft write, fsync included. */
  readonly raftWriteLatency: LatencyCounts;
}
