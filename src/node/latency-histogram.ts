/**
 * Upper bounds in seconds of every latency histogram Concord exports (a node's raft writes
 * and proposals, the API's requests): one set, so any two can be compared or summed. It
 * spans a sub-millisecond raft write on a fast disk to past the 5 s request deadline.
 */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** A histogram's figures, as numbers; rendering them (Prometheus text) is the API's. */
export interface LatencyCounts {
  /** Observations per bucket of LATENCY_BUCKETS_SECONDS, not cumulative: the i-th counts those above bound i-1 and at most bound i. */
  readonly buckets: readonly number[];
  /** All observations, those above the last bound included. */
  readonly count: number;
  readonly sumSeconds: number;
}

/** Latencies counted into LATENCY_BUCKETS_SECONDS. */
export class LatencyHistogram {
  private readonly buckets = new Array<number>(LATENCY_BUCKETS_SECONDS.length).fill(0);
  private sumSeconds = 0;
  private total = 0;

  observeMs(latencyMs: number): void {
    this.observeSeconds(latencyMs / 1000);
  }

  observeSeconds(seconds: number): void {
    let i = 0;
    while (i < LATENCY_BUCKETS_SECONDS.length && seconds > LATENCY_BUCKETS_SECONDS[i]!) i++;
    if (i < this.buckets.length) this.buckets[i]!++;
    this.sumSeconds += seconds;
    this.total++;
  }

  /** A copy of the figures now. */
  counts(): LatencyCounts {
    return { buckets: [...this.buckets], count: this.total, sumSeconds: this.sumSeconds };
  }
}
