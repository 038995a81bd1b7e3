import { createRoute, z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import { createRouter, type ApiDeps, type AppEnv } from "./api-env.ts";
import { anyClientError, publicAccess } from "./schemas.ts";

/** Seconds; covers a local read (~1 ms) up to the 5 s request deadline. */
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;
/** Label sets at most: routes × methods × statuses is small, but never let it grow without bound. */
const MAX_SERIES = 2000;
const METHODS = new Set(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]);

interface Series {
  readonly labels: string;
  count: number;
}
interface Histogram {
  readonly labels: string;
  readonly buckets: number[];
  sum: number;
  count: number;
}

/** HTTP figures in the Prometheus text format, hand-written: the exposition is tiny and prom-client is Node-only. */
export class HttpMetrics {
  private readonly requests = new Map<string, Series>();
  private readonly durations = new Map<string, Histogram>();
  private dropped = 0;

  observe(method: string, route: string, status: number, seconds: number): void {
    const m = METHODS.has(method) ? method : "OTHER";
    const routeLabels = `method="${m}",route="${escape(route)}"`;
    const requestLabels = `${routeLabels},status="${status}"`;
    const series = this.requests.get(requestLabels) ?? this.add(this.requests, requestLabels, () => ({ labels: requestLabels, count: 0 }));
    const histogram = this.durations.get(routeLabels) ?? this.add(this.durations, routeLabels, () => ({ labels: routeLabels, buckets: BUCKETS.map(() => 0), sum: 0, count: 0 }));
    if (series === null || histogram === null) {
      this.dropped++;
      return;
    }
    series.count++;
    histogram.count++;
    histogram.sum += seconds;
    BUCKETS.forEach((bound, i) => {
      if (seconds <= bound) histogram.buckets[i] = (histogram.buckets[i] ?? 0) + 1;
    });
  }

  text(openStreams: number): string {
    const lines = [
      "# HELP concord_http_requests_total HTTP requests by route pattern, method and status.",
      "# TYPE concord_http_requests_total counter",
      ...[...this.requests.values()].map((s) => `concord_http_requests_total{${s.labels}} ${s.count}`),
      "# HELP concord_http_request_duration_seconds Time to the response head (for event streams: to the stream's start).",
      "# TYPE concord_http_request_duration_seconds histogram",
    ];
    for (const h of this.durations.values()) {
      BUCKETS.forEach((bound, i) => lines.push(`concord_http_request_duration_seconds_bucket{${h.labels},le="${bound}"} ${h.buckets[i] ?? 0}`));
      lines.push(`concord_http_request_duration_seconds_bucket{${h.labels},le="+Inf"} ${h.count}`);
      lines.push(`concord_http_request_duration_seconds_sum{${h.labels}} ${h.sum}`);
      lines.push(`concord_http_request_duration_seconds_count{${h.labels}} ${h.count}`);
    }
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
      const text = deps.backend.nodeMetrics().trimEnd();
      const open = deps.accountStreams.count + deps.dashboardStreams.count;
      return c.text(`${text === "" ? "" : `${text}\n`}${metrics.text(open)}${edgeMetrics(deps)}`, 200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
    },
  );
  return app;
}
