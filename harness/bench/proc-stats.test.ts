import { expect, test } from "bun:test";
import { clockTicksPerSecond, cpuWindow, parseRssBytes, parseStat, sampleProcess, usageBetween } from "./proc-stats.ts";

test("parseStat reads utime and stime (fields 14 and 15)", () => {
  const text = "1234 (bun) S 1 1234 1234 0 -1 4194304 5000 0 0 0 250 75 0 0 20 0 12 0 100 1000000 2000 18446744073709551615\n";
  expect(parseStat(text)).toEqual({ utimeTicks: 250, stimeTicks: 75 });
});

test("parseStat survives a command name with spaces and parentheses", () => {
  const text = "77 (a (weird) name) R 1 77 77 0 -1 0 0 0 0 0 9 4 0 0 20 0 1 0 5 0 0";
  expect(parseStat(text)).toEqual({ utimeTicks: 9, stimeTicks: 4 });
});

test("parseStat refuses malformed text", () => {
  expect(() => parseStat("garbage")).toThrow();
  expect(() => parseStat("1 (x) S 1")).toThrow();
});

test("parseRssBytes reads VmRSS in kB; absent is 0", () => {
  expect(parseRssBytes("Name:\tbun\nVmPeak:\t  999 kB\nVmRSS:\t   81920 kB\nThreads: 12\n")).toBe(81920 * 1024);
  expect(parseRssBytes("Name:\tzombie\nState:\tZ (zombie)\n")).toBe(0);
});

test("usageBetween: % of one core and µs per message", () => {
  const u = usageBetween("node 1", 42, { cpuMs: 1000, sysMs: 100, rssBytes: 0 }, { cpuMs: 1500, sysMs: 200, rssBytes: 100 * 1024 * 1024 }, 2000, 1000);
  expect(u).toEqual({ name: "node 1", pid: 42, cpuPercent: 25, cpuUsPerMessage: 500, sysUsPerMessage: 100, rssMB: 100 });
  expect(usageBetween("x", 1, { cpuMs: 0, sysMs: 0, rssBytes: 0 }, { cpuMs: 10, sysMs: 0, rssBytes: 0 }, 1000, 0).cpuUsPerMessage).toBe(0);
});

test.skipIf(process.platform !== "linux")("sampleProcess reads this process; a missing PID is null", () => {
  const ticks = clockTicksPerSecond();
  expect(ticks).toBeGreaterThan(0);
  const sample = sampleProcess(process.pid, ticks)!;
  expect(sample.cpuMs).toBeGreaterThanOrEqual(0);
  expect(sample.rssBytes).toBeGreaterThan(1024 * 1024);
  expect(sampleProcess(2 ** 30, ticks)).toBeNull();
});

test("cpuWindow reports the CPU a process used in between, and nothing for one that is gone", () => {
  const finish = cpuWindow({ self: process.pid, gone: 2 ** 22 + 12345 });
  const until = performance.now() + 60;
  let spin = 0;
  while (performance.now() < until) spin++;
  const used = finish();
  expect(spin).toBeGreaterThan(0);
  expect(used.cpuMs["self"]).toBeGreaterThan(0);
  expect(used.sysMs["self"]).toBeGreaterThanOrEqual(0);
  expect(used.cpuMs["gone"]).toBe(0);
});
