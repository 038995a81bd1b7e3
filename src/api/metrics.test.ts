import { expect, test } from "bun:test";
import { LatencyHistogram } from "../node/latency-histogram.ts";
import { HttpMetrics, nodeMetricsText } from "./metrics.ts";

test("requests are counted by method, route and status; durations land in cumulative buckets", () => {
  const metrics = new HttpMetrics();
  metrics.observe("GET", "/v1/messages", 200, 0.003);
  metrics.observe("GET", "/v1/messages", 200, 0.2);
  metrics.observe("GET", "/v1/messages", 401, 0.0005);
  const text = metrics.text(2);
  expect(text).toContain('concord_http_requests_total{method="GET",route="/v1/messages",status="200"} 2');
  expect(text).toContain('concord_http_requests_total{method="GET",route="/v1/messages",status="401"} 1');
  expect(text).toContain('concord_http_request_duration_seconds_bucket{method="GET",route="/v1/messages",le="0.001"} 1');
  expect(text).toContain('concord_http_request_duration_seconds_bucket{method="GET",route="/v1/messages",le="0.005"} 2');
  expect(text).toContain('concord_http_request_duration_seconds_bucket{method="GET",route="/v1/messages",le="+Inf"} 3');
  expect(text).toContain('concord_http_request_duration_seconds_count{method="GET",route="/v1/messages"} 3');
  expect(text).toContain("concord_http_open_streams 2");
  expect(text.endsWith("\n")).toBe(true);
});

test("label values are escaped and odd methods folded, so the text always parses", () => {
  const metrics = new HttpMetrics();
  metrics.observe("BREW", 'a"b\\c\nd', 418, 0.01);
  expect(metrics.text(0)).toContain('concord_http_requests_total{method="OTHER",route="a\\"b\\\\c\\nd",status="418"} 1');
});

test("the number of series is bounded; the overflow is counted", () => {
  const metrics = new HttpMetrics();
  for (let i = 0; i < 5000; i++) metrics.observe("GET", `/route/${i}`, 200, 0.001);
  const text = metrics.text(0);
  expect(text.split("\n").filter((line) => line.startsWith("concord_http_requests_total{")).length).toBeLessThanOrEqual(2000);
  expect(Number(/concord_http_metrics_dropped_total (\d+)/.exec(text)?.[1])).toBeGreaterThan(0);
});

test("the node's figures render with the same bucket set as the HTTP histogram", () => {
  const proposals = new LatencyHistogram();
  proposals.observeMs(0.3);
  proposals.observeMs(3);
  proposals.observeMs(60_000);
  const none = new LatencyHistogram().counts();
  const text = nodeMetricsText({ term: 4, isLeader: true, commit: 10, applied: 8, lastIndex: 11, snapshotIndex: 5, leaderChanges: 2, fsyncs: 7, entriesApplied: 8, proposalLatency: proposals.counts(), raftWriteLatency: none });
  expect(text).toContain("# TYPE concord_raft_term gauge\nconcord_raft_term 4");
  expect(text).toContain("concord_raft_is_leader 1");
  expect(text).toContain("concord_raft_apply_lag_entries 2");
  expect(text).toContain("# TYPE concord_node_fsyncs_total counter\nconcord_node_fsyncs_total 7");
  expect(text).toContain('concord_proposal_latency_seconds_bucket{le="0.0005"} 1');
  expect(text).toContain('concord_proposal_latency_seconds_bucket{le="0.005"} 2');
  expect(text).toContain('concord_proposal_latency_seconds_bucket{le="10"} 2');
  expect(text).toContain('concord_proposal_latency_seconds_bucket{le="+Inf"} 3');
  expect(text).toContain("concord_proposal_latency_seconds_count 3");
  expect(text).toContain('concord_raft_write_latency_seconds_bucket{le="+Inf"} 0');
  const bounds = (name: string, from: string) => [...from.matchAll(new RegExp(`${name}_bucket\\{(?:[^}]*,)?le="([^"]+)"\\}`, "g"))].map((match) => match[1]);
  const http = new HttpMetrics();
  http.observe("GET", "/v1/x", 200, 0.01);
  expect(bounds("concord_proposal_latency_seconds", text)).toEqual(bounds("concord_http_request_duration_seconds", http.text(0)));
  expect(text.endsWith("\n")).toBe(true);
});
