import { expect, test } from "bun:test";
import { BenchUsageError } from "./bench-command.ts";
import { etcdArgs, etcdWrites, type EtcdMemberSpec, parseEtcdStatus } from "./etcd-cluster.ts";
import { compare, cpuByRole, formatVsTable, ratio, trialsPerRound, type VsEtcdResult, type VsLevel } from "./vs-etcd-report.ts";
import { concordTiming, parseVsEtcdOptions, runOrder } from "./vs-etcd.ts";
import { CONTENT, senders } from "./workload.ts";

test("options: defaults follow issue 15; bad ones are usage errors", () => {
  expect(parseVsEtcdOptions([])).toEqual({
    seconds: 10, warmupSeconds: 2, rounds: 2, clients: [1, 64], placements: ["spread", "leader"], failoverTrials: 3, failoverTimeoutMs: 250,
    etcdTiming: "etcd", only: null, json: null, help: false,
  });
  expect(parseVsEtcdOptions(["--seconds", "1", "--rounds", "1", "--clients", "1,4,4", "--placements", "leader", "--only", "etcd", "--json", "/tmp/x.json", "--etcd-timing", "concord"]))
    .toMatchObject({ seconds: 1, rounds: 1, clients: [1, 4], placements: ["leader"], only: "etcd", json: "/tmp/x.json", etcdTiming: "concord" });
  for (const bad of [["--seconds", "0"], ["--rounds", "0"], ["--clients", "x"], ["--placements", "follower"], ["--only", "zookeeper"], ["--etcd-timing", "fast"], ["--json", ""], ["--failover-timeout-ms", "0"], ["--nope"]]) {
    expect(() => parseVsEtcdOptions(bad)).toThrow(BenchUsageError);
  }
});

test("systems alternate, never together; failover trials spread over the rounds", () => {
  expect(runOrder(2, null).map((o) => `${o.round}:${o.system}`)).toEqual(["1:etcd", "1:concord", "2:etcd", "2:concord"]);
  expect(runOrder(2, "concord").map((o) => o.system)).toEqual(["concord", "concord"]);
  expect(trialsPerRound(3, 2)).toEqual([2, 1]);
  expect(trialsPerRound(3, 1)).toEqual([3]);
  expect(trialsPerRound(1, 3)).toEqual([1, 0, 0]);
  expect(trialsPerRound(0, 2)).toEqual([0, 0]);
});

const members: EtcdMemberSpec[] = [1, 2, 3, 4, 5].map((id) => ({ id, clientPort: 30000 + id, peerPort: 31000 + id, dataDir: `/tmp/t/m${id}` }));

test("etcd's command line: loopback addresses, the whole cluster, its own data dir, etcd's defaults otherwise", () => {
  const args = etcdArgs(members[2]!, members, { clusterToken: "tok", timing: null });
  const flag = (name: string) => args[args.indexOf(name) + 1];
  expect(flag("--name")).toBe("m3");
  expect(flag("--data-dir")).toBe("/tmp/t/m3");
  expect(flag("--listen-client-urls")).toBe("http://127.0.0.1:30003");
  expect(flag("--advertise-client-urls")).toBe("http://127.0.0.1:30003");
  expect(flag("--listen-peer-urls")).toBe("http://127.0.0.1:31003");
  expect(flag("--initial-cluster")).toBe("m1=http://127.0.0.1:31001,m2=http://127.0.0.1:31002,m3=http://127.0.0.1:31003,m4=http://127.0.0.1:31004,m5=http://127.0.0.1:31005");
  expect(flag("--initial-cluster-state")).toBe("new");
  expect(flag("--initial-cluster-token")).toBe("tok");
  // fsync stays on (etcd's default) and timing is etcd's unless asked.
  expect(args.some((a) => a.includes("unsafe"))).toBe(false);
  expect(args).not.toContain("--heartbeat-interval");
  const timed = etcdArgs(members[0]!, members, { clusterToken: "tok", timing: { heartbeatMs: 40, electionMs: 300 } });
  expect(timed.slice(-4)).toEqual(["--heartbeat-interval", "40", "--election-timeout", "300"]);
});

test("etcd and Concord writes share one shape: 200-byte payload, placement round-robin or fixed", () => {
  const urls = ["u1", "u2", "u3"];
  const spread = etcdWrites(urls, 2, { roundRobin: true });
  expect(spread.map((w) => w.targets)).toEqual([["u1/v3/kv/put", "u2/v3/kv/put", "u3/v3/kv/put"], ["u2/v3/kv/put", "u3/v3/kv/put", "u1/v3/kv/put"]]);
  const body = JSON.parse(spread[1]!.body) as { key: string; value: string };
  expect(Buffer.from(body.key, "base64").toString()).toBe("vs-etcd/client-1");
  expect(Buffer.from(body.value, "base64").toString()).toBe(CONTENT);
  expect(CONTENT.length).toBe(200);
  expect(spread[0]!.okStatus).toBe(200);
  expect(etcdWrites(urls, 4).map((w) => w.targets)).toEqual([["u1/v3/kv/put"], ["u2/v3/kv/put"], ["u3/v3/kv/put"], ["u1/v3/kv/put"]]);
  const concord = senders([{ username: "a", token: "ta" }, { username: "b", token: "tb" }], urls, 2, { roundRobin: true });
  expect(concord[1]!.targets).toEqual(["u2/v1/messages", "u3/v1/messages", "u1/v1/messages"]);
  expect(concord[1]!.headers["authorization"]).toBe("Bearer tb");
  expect(JSON.parse(concord[1]!.body)).toEqual({ to: "a", content: CONTENT });
  expect(concord[0]!.okStatus).toBe(201);
});

test("etcd's status: uint64 ids stay strings", () => {
  const s = parseEtcdStatus({ header: { member_id: "13668033151171901709" }, leader: "13668033151171901709", raftIndex: "5", raftTerm: "2", raftAppliedIndex: "4" });
  expect(s).toEqual({ memberId: "13668033151171901709", leaderId: "13668033151171901709", raftTerm: 2, raftIndex: 5, raftAppliedIndex: 4 });
  expect(() => parseEtcdStatus({})).toThrow();
});

test("Concord's timing is what its nodes get", () => {
  const t = concordTiming(20)!;
  expect(t.heartbeatMs).toBeGreaterThan(0);
  expect(t.electionMs).toBeGreaterThan(t.heartbeatMs);
});

function run(system: "etcd" | "concord", round: number, perSecond: number, p50: number, p99: number, leaderUs: number): VsLevel {
  const prefix = system === "etcd" ? "etcd" : "node";
  const processes = [1, 2, 3, 4, 5].map((id) => ({ name: `${prefix} ${id}`, pid: id, cpuPercent: 10, cpuUsPerMessage: id === 2 ? leaderUs : 100, sysUsPerMessage: 10, rssMB: 50 }));
  if (system === "concord") processes.push({ name: "nats-server", pid: 9, cpuPercent: 5, cpuUsPerMessage: 50, sysUsPerMessage: 5, rssMB: 10 });
  processes.push({ name: "bench (clients)", pid: 10, cpuPercent: 5, cpuUsPerMessage: 30, sysUsPerMessage: 5, rssMB: 80 });
  return { system, round, placement: "spread", leader: 2, clients: 64, seconds: 10, messages: perSecond * 10, messagesPerSecond: perSecond, latencyMs: { p50, p99, max: p99 * 2 }, errors: 0, errorsBy: {}, processes };
}

test("ratios are Concord / etcd over the medians of the rounds; CPU by role", () => {
  expect(ratio(50, 100)).toBe(0.5);
  expect(ratio(1, 0)).toBeNull();
  expect(ratio(null, 3)).toBeNull();
  const levels = [run("etcd", 1, 1000, 2, 8, 400), run("concord", 1, 500, 4, 20, 800), run("etcd", 2, 1200, 2, 10, 400), run("concord", 2, 700, 4, 20, 800)];
  expect(cpuByRole(levels[1]!)).toEqual({ leader: 800, followers: 400, natsServer: 50, client: 30, total: 1280 });
  expect(cpuByRole(levels[0]!)).toEqual({ leader: 400, followers: 400, natsServer: null, client: 30, total: 830 });
  const [row] = compare(levels);
  expect(row!.etcd).toMatchObject({ rounds: 2, messagesPerSecond: 1100, p50Ms: 2, p99Ms: 9 });
  expect(row!.concord).toMatchObject({ rounds: 2, messagesPerSecond: 600, p50Ms: 4, p99Ms: 20 });
  expect(row!.ratio).toEqual({ throughput: 0.55, p50: 2, p99: 2.22, cpuTotal: 1.54 });

  const trial = (gap: number) => ({ killedLeader: 2, newLeader: 3, longestGapMs: gap, electedAfterKillMs: gap - 50, resumedAfterKillMs: gap, acknowledged: 10, errors: 1, errorsBy: { timeout: 1 }, rejoinMs: 300 });
  const result: VsEtcdResult = {
    benchmark: "bench:vs-etcd", version: 1, startedAt: "2026-01-01T00:00:00.000Z", machine: { cpus: 2, kernel: "Linux", bun: "1.4.5" },
    config: {
      rounds: 2, order: ["etcd", "concord", "etcd", "concord"], seconds: 10, warmupSeconds: 2, clients: [64], placements: ["spread"], contentBytes: 200, failoverTrials: 1, failoverAttemptTimeoutMs: 250,
      etcd: { version: "3.4.23", members: 5, timing: { heartbeatMs: 100, electionMs: 1000 }, timingSource: "etcd's defaults", api: "PUT", durability: "fsync" },
      concord: { nodes: 5, timing: { heartbeatMs: 40, electionMs: 300 }, api: "POST", durability: "fsync" },
    },
    levels,
    failovers: [{ system: "etcd", round: 1, clients: 1, attemptTimeoutMs: 250, trials: [trial(1200)], longestGapMs: { median: 1200, max: 1200 } },
      { system: "concord", round: 1, clients: 1, attemptTimeoutMs: 250, trials: [trial(400)], longestGapMs: { median: 400, max: 400 } }],
    comparison: compare(levels),
    failover: { etcd: null, concord: null, ratio: 0.33 },
    failures: [],
    notes: ["a note"],
  };
  result.failover.etcd = { trials: 1, attemptTimeoutMs: 250, gapsMs: [1200], medianGapMs: 1200, maxGapMs: 1200 };
  result.failover.concord = { trials: 1, attemptTimeoutMs: 250, gapsMs: [400], medianGapMs: 400, maxGapMs: 400 };
  const table = formatVsTable(result);
  const row64 = table.split("\n").find((l) => /^\s+spread\s+64\s+1,100/.test(l))!;
  expect(row64.split(/\s{2,}/).map((c) => c.trim()).filter(Boolean)).toEqual(["spread", "64", "1,100", "600", "0.55x", "2.00", "4.00", "2.00x", "9.00", "20.00", "2.22x", "0", "0"]);
  expect(table).toContain("etcd 3.4.23");
  expect(table).toContain("heartbeat 100 ms, election 1000 ms");
  expect(table).toContain("round 2 concord spread  64 clients: node 1 100, node 2* 800");
  expect(table).toContain("x (median gap, Concord / etcd): 0.33x");
  expect(table).toContain("note: a note");
  expect(table).toMatch(/spread\s+64\s+concord\s+800\s+400\s+50\s+30\s+1,280\s+1\.54x/);
});
