import { expect, test } from "bun:test";
import { benchResult } from "./fixtures.ts";
import { formatTable, isSkipped, textTable, toJson } from "./report.ts";

test("toJson is one line of JSON that reads back the same", () => {
  const result = benchResult();
  const text = toJson(result);
  expect(text.includes("\n")).toBe(false);
  expect(JSON.parse(text)).toEqual(result);
});

test("textTable aligns columns: first left, the rest right", () => {
  const lines = textTable(["clients", "msg/s"], [["1", "500"], ["256", "12,000"]]);
  expect(lines).toEqual(["clients   msg/s", "-------  ------", "1           500", "256      12,000"]);
});

test("the table shows every level, process, failover and growth figure", () => {
  const table = formatTable(benchResult());
  expect(table).toContain("5 nodes (started here), 200-byte messages, 10 s per level after 2 s warm-up");
  expect(table).toMatch(/^64\s+3,000\s+20\.00\s+60\.00\s+120\.0\s+0\s+node 1$/m);
  expect(table).toContain("node 1* 400, node 2 200, nats-server 50; total 650");
  expect(table).toContain("node 1* 80% 120");
  expect(table).toContain("median 1,000 ms, max 1,100 ms");
  expect(table).toContain("node 3 leads after 450 ms; gap 900 ms");
  expect(table).toContain("100,000 messages loaded through the API (256 clients, 2,000/s, 50.0 s); 130,000 stored");
  expect(table).toContain("1,615 B/message");
  expect(table).toContain("/readyz 200 after 350 ms");
  expect(table).toContain("caught up to index 130,100 in 5,000 ms (by snapshot");
  expect(table).toContain("3,000/s empty -> 2,700/s loaded (90%)");
  expect(table).toContain("note: growth used 100,000 messages");
  expect(table).toContain("failed writes during the load, each resent: 3 × 503");
  expect(table).toContain("machine: 2 cpus, Linux 6.1 x86_64, bun 1.4.5");
  expect(table.endsWith("\n")).toBe(true);
});

test("skipped phases say why; a target run has no CPU section", () => {
  const result = { ...benchResult(), failover: { skipped: "--target: no process control" }, growth: { skipped: "--growth-messages 0" } };
  result.levels = result.levels.map((l) => ({ ...l, processes: [], leader: null }));
  const table = formatTable(result);
  expect(isSkipped(result.failover)).toBe(true);
  expect(table).toContain("failover: skipped (--target: no process control)");
  expect(table).toContain("growth: skipped (--growth-messages 0)");
  expect(table).not.toContain("CPU µs per message");
});

test("missing latencies print as '-', not NaN", () => {
  const result = benchResult();
  result.levels = [{ ...result.levels[0]!, messages: 0, messagesPerSecond: 0, latencyMs: { p50: NaN, p99: NaN, max: NaN } }];
  expect(formatTable(result)).not.toContain("NaN");
});

test("errors are broken down by status", () => {
  const result = benchResult();
  result.levels = [{ ...result.levels[0]!, errors: 7, errorsBy: { "503": 5, timeout: 2 } }];
  expect(formatTable(result)).toContain("7 (503: 5, timeout: 2)");
});
