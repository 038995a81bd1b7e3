import { expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { processAlive } from "./process-alive.ts";

// `concord bench` end to end with tiny sizes: real nats-server and 5 nodes, every phase.
// Asserts the JSON's shape and that the figures are positive and finite, not their size.

const MAIN = fileURLToPath(new URL("../../src/main.ts", import.meta.url));

const positive = (n: unknown) => {
  expect(typeof n).toBe("number");
  expect(Number.isFinite(n as number)).toBe(true);
  expect(n as number).toBeGreaterThan(0);
};

test("concord bench --json runs every phase and stops what it started", async () => {
  const out = await mkdtemp(join(tmpdir(), "concord-bench-smoke-"));
  try {
    const child = Bun.spawn([process.execPath, MAIN, "bench", "--json", "--out", out, "--clients", "1,4", "--seconds", "1", "--warmup", "0.2",
      "--failover-trials", "1", "--failover-clients", "4", "--growth-messages", "2000", "--growth-clients", "4", "--load-clients", "16", "--snapshot-every", "500"], {
      stdout: "pipe",
      stderr: "pipe",
    });
    const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
    if (code !== 0) throw new Error(`exit ${code}\n${stderr}`);
    const lines = stdout.trim().split("\n");
    expect(lines.length).toBe(1);
    const r = JSON.parse(lines[0]!);
    expect(r.benchmark).toBe("concord bench");
    expect(r.cluster).toMatchObject({ nodes: 5, mode: "local" });
    expect(r.levels.map((l: { clients: number }) => l.clients)).toEqual([1, 4]);
    const pids = new Set<number>();
    for (const l of r.levels) {
      positive(l.messagesPerSecond);
      positive(l.latencyMs.p50);
      expect(l.latencyMs.p99).toBeGreaterThanOrEqual(l.latencyMs.p50);
      expect(l.latencyMs.max).toBeGreaterThanOrEqual(l.latencyMs.p99);
      const names = l.processes.map((p: { name: string }) => p.name).sort();
      expect(names).toEqual(["bench (clients)", "nats-server", "node 1", "node 2", "node 3", "node 4", "node 5"]);
      for (const p of l.processes) {
        positive(p.rssMB);
        expect(Number.isFinite(p.cpuUsPerMessage) && p.cpuUsPerMessage >= 0).toBe(true);
        if (p.name !== "bench (clients)") pids.add(p.pid);
      }
    }
    expect(r.failover.trials.length).toBe(1);
    positive(r.failover.longestGapMs.median);
    positive(r.failover.trials[0].electedAfterKillMs);
    const g = r.growth;
    expect(g.loadedMessages).toBe(2000);
    expect(g.storedMessages).toBeGreaterThanOrEqual(2000);
    for (const n of [g.disk.bytesPerMessage, g.snapshot.bytes, g.snapshot.takeMs, g.restart.toReadyMs, g.wipedCatchUp.catchUpMs, g.throughput.loaded.messagesPerSecond, g.throughput.ratio]) positive(n);
    expect(g.wipedCatchUp.bySnapshot).toBe(true);
    // Progress went to stderr; the files were written.
    expect(stderr).toContain("loaded 2,000");
    expect(JSON.parse(await readFile(join(out, "latest.json"), "utf8"))).toEqual(r);
    expect((await readFile(join(out, "latest.svg"), "utf8")).startsWith("<svg")).toBe(true);
    expect(existsSync(join(out, "latest.svg"))).toBe(true);
    // Nodes from the measured levels and nats-server are gone.
    for (const pid of pids) expect(processAlive(pid)).toBe(false);
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}, 90_000);
