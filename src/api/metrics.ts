import { createRoute, z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import { LATENCY_BUCKETS_SECONDS, LatencyHistogram, type LatencyCounts } from "../node/latency-histogram.ts";
import type { NodeMetrics } from "../node/node-metrics.ts";
import { createRouter, type ApiDeps, type AppEnv } from "./api-env.ts";
import { anyClientError, publicAccess } from "./schemas.ts";

/** Label sets at most: routes × methods × statuses is small, but never let it grow without bound. */
const MAX_SERIES = 2000;
const METHODS = new Set(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]);

interface Series {
  readonly labels: string;
  count: number;
}
interface RouteDurations {
  readonly labels: string;
  readonly histogram: LatencyHistogram;
}

/** HTTP figures in the Prometheus text format, hand-written: the exposition is tiny and prom-client is Node-only. */
export class HttpMetrics {
  private readonly requests = new Map<string, Series>();
  private readonly durations = new Map<string, RouteDurations>();
  private dropped = 0;

  observe(method: string, route: string, status: number, seconds: number): void {
    const m = METHODS.has(method) ? method : "OTHER";
    const routeLabels = `method="${m}",route="${escape(route)}"`;
    const requestLabels = `${routeLabels},status="${status}"`;
    const series = this.requests.get(requestLabels) ?? this.add(this.requests, requestLabels, () => ({ labels: requestLabels, count: 0 }));
    const durations = this.durations.get(routeLabels) ?? this.add(this.durations, routeLabels, () => ({ labels: routeLabels, histogram: new LatencyHistogram() }));
    if (series === null || durations === null) {
      this.dropped++;
      return;
    }
    series.count++;
    durations.histogram.observeSeconds(seconds);
  }

  text(openStreams: number): string {
    const lines = [
      "# HELP concord_http_requests_total HTTP requests by route pattern, method and status.",
      "# TYPE concord_http_requests_total counter",
      ...[...this.requests.values()].map((s) => `concord_http_requests_total{${s.labels}} ${s.count}`),
      "# HELP concord_http_request_duration_seconds Time to the response head (for event streams: to the stream's start).",
      "# TYPE concord_http_request_duration_seconds histogram",
    ];
    for (const d of this.durations.values()) lines.push(...histogramSamples("concord_http_request_duration_seconds", d.labels, d.histogram.counts()));
    lines.push(
      "# HELP concord_http_open_streams Server-Sent Event streams open now.",
      "# TYPE concord_http_open_streams gauge",
      `concord_http_open_streams ${openStreams}`,
      "# HELP concord_http_metrics_dropped_total Observations dropped because the series limit was reached.",
      "# TYPE concord_http_metrics_dropped_total counter",
      `concord_http_metrics_dropped_total ${this.dropped}`,
    );
    return `${lines.join("\n")}\n`;
  }

  private add<T>(map: Map<string, T>, key: string, make: () => T): T | null {
    if (this.requests.size + this.durations.size >= MAX_SERIES) return null;
    const value = make();
    map.set(key, value);
    return value;
  }

  /** Counting middleware: labels by route pattern (never the raw path, which is unbounded). */
  middleware(): MiddlewareHandler<AppEnv> {
    return async (c, next) => {
      // performance.now, not the injectable clock: durations need sub-millisecond resolution.
      const started = performance.now();
      try {
        await next();
      } finally {
        // The last matched non-middleware route is the one that answered; none means 404.
        const route = matchedRoutes(c).findLast((r) => r.method !== "ALL")?.path ?? "unmatched";
        this.observe(c.req.method, route, c.res.status, (performance.now() - started) / 1000);
      }
    };
  }
}

/** A histogram's sample lines (cumulative buckets, sum, count) under `labels` (may be ""). */
function histogramSamples(name: string, labels: string, counts: LatencyCounts): string[] {
  const lines: string[] = [];
  const before = labels === "" ? "" : `${labels},`;
  let cumulative = 0;
  LATENCY_BUCKETS_SECONDS.forEach((bound, i) => {
    cumulative += counts.buckets[i] ?? 0;
    lines.push(`${name}_bucket{${before}le="${bound}"} ${cumulative}`);
  });
  const selector = labels === "" ? "" : `{${labels}}`;
  lines.push(`${name}_bucket{${before}le="+Inf"} ${counts.count}`, `${name}_sum${selector} ${counts.sumSeconds}`, `${name}_count${selector} ${counts.count}`);
  return lines;
}

/** The node's raft position, I/O counters and latencies (what RaftNode.metrics counts). */
export function nodeMetricsText(m: NodeMetrics): string {
  const gauge = (name: string, help: string, value: number) => `# HELP ${name} ${help}\n# TYPE ${name} gauge\n${name} ${value}`;
  const counter = (name: string, help: string, value: number) => `# HELP ${name} ${help}\n# TYPE ${name} counter\n${name} ${value}`;
  const histogram = (name: string, help: string, counts: LatencyCounts) => [`# HELP ${name} ${help}`, `# TYPE ${name} histogram`, ...histogramSamples(name, "", counts)].join("\n");
  return [
    gauge("concord_raft_term", "Current raft term.", m.term),
    gauge("concord_raft_is_leader", "1 when this node leads.", m.isLeader ? 1 : 0),
    gauge("concord_raft_commit_index", "Highest index known committed.", m.commit),
    gauge("concord_raft_applied_index", "Highest index applied to the state machine.", m.applied),
    gauge("concord_raft_apply_lag_entries", "Committed but not yet applied entries.", m.commit - m.applied),
    gauge("concord_raft_last_index", "Last index in the log.", m.lastIndex),
    gauge("concord_raft_snapshot_index", "Index of the latest snapshot.", m.snapshotIndex),
    counter("concord_raft_leader_changes_total", "Leader changes seen by this node.", m.leaderChanges),
    counter("concord_node_fsyncs_total", "Raft writes made durable with an fsync.", m.fsyncs),
    counter("concord_node_entries_applied_total", "Entries applied to the state machine.", m.entriesApplied),
    histogram("concord_proposal_latency_seconds", "Time from proposal to applied result, on the proposing node.", m.proposalLatency),
    histogram("concord_raft_write_latency_seconds", "Duration of one durable raft write (fsync included).", m.raftWriteLatency),
  ].join("\n") + "\n";
}

function escape(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

/** The edge's limits at work: streams per pool, password hashing, rate-limit refusals. */
export function edgeMetrics(deps: ApiDeps): string {
  const { limiters, hashing } = deps;
  const lines = [
    "# HELP concord_http_open_streams_by_pool Server-Sent Event streams open now, by pool.",
    "# TYPE concord_http_open_streams_by_pool gauge",
    `concord_http_open_streams_by_pool{pool="account"} ${deps.accountStreams.count}`,
    `concord_http_open_streams_by_pool{pool="dashboard"} ${deps.dashboardStreams.count}`,
    "# HELP concord_password_hashes_running Password hashes or checks running now.",
    "# TYPE concord_password_hashes_running gauge",
    `concord_password_hashes_running ${hashing.active}`,
    "# HELP concord_password_hashes_queued Password hashes or checks waiting for a turn.",
    "# TYPE concord_password_hashes_queued gauge",
    `concord_password_hashes_queued ${hashing.queued}`,
    "# HELP concord_password_hashes_refused_total Password hashes refused with 429 overloaded (queue full or waited too long).",
    "# TYPE concord_password_hashes_refused_total counter",
    `concord_password_hashes_refused_total ${hashing.refused}`,
    "# HELP concord_rate_limited_total Requests answered 429 rate_limited, by limit.",
    "# TYPE concord_rate_limited_total counter",
    ...Object.entries(limiters.refusals).map(([limit, count]) => `concord_rate_limited_total{limit="${limit}"} ${count}`),
  ];
  return `${lines.join("\n")}\n`;
}

export function metricsRoutes(deps: ApiDeps, metrics: HttpMetrics) {
  const app = createRouter();
  app.openapi(
    createRoute({
      method: "get",
      path: "/metrics",
      operationId: "getMetrics",
      tags: ["operations"],
      summary: "Prometheus text: the node's raft figures and HTTP by route and status",
      security: publicAccess,
      responses: { 200: { description: "Prometheus text exposition 0.0.4", content: { "text/plain": { schema: z.string() } } }, ...anyClientError },
    }),
    (c) => {
      const open = deps.accountStreams.count + deps.dashboardStreams.count;
      return c.text(`${nodeMetricsText(deps.backend.nodeMetrics())}${metrics.text(open)}${edgeMetrics(deps)}`, 200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
    },
  );
  return app;
}
