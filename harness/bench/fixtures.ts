// A complete BenchResult for the output tests (figures made up, shapes real).
import type { BenchLevel, BenchResult } from "./report.ts";

export function level(clients: number, perSecond: number, p50: number, p99: number, leader: number | null = 1): BenchLevel {
  return {
    clients,
    seconds: 10,
    messages: perSecond * 10,
    messagesPerSecond: perSecond,
    latencyMs: { p50, p99, max: p99 * 2 },
    errors: 0,
    errorsBy: {},
    processes: [
      { name: "node 1", pid: 11, cpuPercent: 80, cpuUsPerMessage: 400, sysUsPerMessage: 90, rssMB: 120 },
      { name: "node 2", pid: 12, cpuPercent: 40, cpuUsPerMessage: 200, sysUsPerMessage: 50, rssMB: 110 },
      { name: "nats-server", pid: 13, cpuPercent: 10, cpuUsPerMessage: 50, sysUsPerMessage: 30, rssMB: 15 },
    ],
    leader,
  };
}

export function benchResult(): BenchResult {
  const levels = [level(1, 500, 1.9, 4.5), level(16, 2500, 6, 15), level(64, 3000, 20, 60)];
  return {
    benchmark: "concord bench",
    version: 1,
    startedAt: "2026-01-01T00:00:00.000Z",
    machine: { cpus: 2, kernel: "Linux 6.1 x86_64", bun: "1.4.5" },
    cluster: { nodes: 5, mode: "local", urls: ["http://127.0.0.1:1", "http://127.0.0.1:2"], snapshotEvery: 10000 },
    workload: { contentBytes: 200, seconds: 10, warmupSeconds: 2, clientPlacement: "client i talks to node (leader + i) mod 5", durability: "majority fsync" },
    levels,
    failover: {
      clients: 16,
      attemptTimeoutMs: 6000,
      trials: [
        { killedLeader: 1, newLeader: 3, electedAfterKillMs: 450, longestGapMs: 900, resumedAfterKillMs: 880, acknowledged: 100, errors: 16, errorsBy: { timeout: 16 }, rejoinMs: 700 },
        { killedLeader: 3, newLeader: 2, electedAfterKillMs: 500, longestGapMs: 1100, resumedAfterKillMs: 1050, acknowledged: 90, errors: 16, errorsBy: { "503": 16 }, rejoinMs: 650 },
      ],
      longestGapMs: { median: 1000, max: 1100 },
    },
    growth: {
      loadedMessages: 100000,
      loadClients: 256,
      loadSeconds: 50,
      loadMessagesPerSecond: 2000,
      loadErrorsBy: { "503": 3 },
      storedMessages: 130000,
      disk: { node: 2, dbBytes: 200e6, walBytes: 10e6, snapshotFileBytes: 100e6, dataDirBytes: 310e6, bytesPerMessage: 1615, dataDirBytesPerMessage: 2384 },
      snapshot: { index: 130000, bytes: 100e6, takeMs: 900, how: "test" },
      restart: { node: 2, toListeningMs: 300, toReadyMs: 350 },
      wipedCatchUp: { node: 3, targetIndex: 130100, catchUpMs: 5000, bySnapshot: true, snapshotIndex: 130000 },
      throughput: { clients: 64, empty: levels[2]!, loaded: level(64, 2700, 22, 70), ratio: 0.9 },
    },
    notes: ["growth used 100,000 messages"],
  };
}
