// bench:vs-etcd (issue 15): the same closed-loop write workload against 5 etcd members and
// against 5 Concord nodes on this machine, one system at a time and alternating
// (etcd, concord, etcd, concord, …) so machine noise falls on both; then kill -9 the
// leader of each and measure the longest gap between acknowledged writes. Prints a table
// with the ratios Concord/etcd, writes one JSON object. Every process started here is
// stopped by its PID, also on failure, SIGINT and SIGTERM.
//
// Usage: bun harness/bench/vs-etcd.ts --help   (npm run bench:vs-etcd -- --help)
import { mkdir, writeFile } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { parseNodeOptions } from "../../src/cli/node-options.ts";
import { type BenchIo, BenchUsageError, count, kernel } from "./bench-command.ts";
import { CLIENT_PROCESS, startLocalTarget, urlsFromLeader } from "./bench-target.ts";
import { EtcdCluster, EtcdMissingError, ETCD_DEFAULT_TIMING, ensureEtcd, etcdVersion, etcdWrites, type RaftTiming } from "./etcd-cluster.ts";
import { type FailoverCluster, failoverTrials, localClusterFailover } from "./failover.ts";
import { ProcessMeter } from "./proc-stats.ts";
import { compare, failoverSummary, formatVsTable, PLACEMENTS, type Placement, ratio, SYSTEMS, type SystemName, trialsPerRound, type VsEtcdResult, type VsFailover, type VsLevel } from "./vs-etcd-report.ts";
import { CONTENT, measureLevel, senders, signIn, type Write } from "./workload.ts";

export const VS_ETCD_USAGE = `usage: npm run bench:vs-etcd -- [options]   (bun harness/bench/vs-etcd.ts)

Runs 5 etcd members (Debian's etcd-server; installed when missing and root) and then
5 Concord nodes with nats-server on this machine, never both at once, alternating over
--rounds, and drives each with the same Bun fetch closed loop of 200-byte writes: etcd
through POST /v3/kv/put (its JSON gateway), Concord through POST /v1/messages signed in.
Every run: a warm-up, then --seconds measured (writes/s, p50, p99, CPU µs per write of
every process). Then kill -9 the leader of each, --failover-trials times in all, with one
writing client whose attempts time out after --failover-timeout-ms. Progress goes to
stderr, the table to stdout, the JSON to --json.

  --seconds N              measured seconds per run (default 10)
  --warmup N               warm-up seconds before each run (default 2)
  --rounds N               rounds of etcd then concord (default 2)
  --clients 1,64           client counts
  --placements spread,leader
                           spread: each client's requests round-robin over all 5;
                           leader: every request to the leader
  --failover-trials N      leader kills per system, spread over the rounds (default 3; 0 skips)
  --failover-timeout-ms N  the failover client's attempt timeout (default 250)
  --etcd-timing etcd|concord
                           etcd's heartbeat and election timeout: etcd's defaults
                           (100/1000 ms, default) or Concord's
  --only etcd|concord      run one system alone (debugging; no ratios)
  --json FILE              where the JSON goes (default bench-results/vs-etcd-<time>.json,
                           also copied to bench-results/vs-etcd-latest.json)
`;

export interface VsEtcdOptions {
  seconds: number;
  warmupSeconds: number;
  rounds: number;
  clients: number[];
  placements: Placement[];
  failoverTrials: number;
  failoverTimeoutMs: number;
  etcdTiming: "etcd" | "concord";
  only: SystemName | null;
  json: string | null;
  help: boolean;
}

function oneOf<T extends string>(name: string, text: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(text)) throw new BenchUsageError(`--${name} must be ${allowed.join(" or ")}, not '${text}'`);
  return text as T;
}

export function parseVsEtcdOptions(argv: readonly string[]): VsEtcdOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        seconds: { type: "string", default: "10" },
        warmup: { type: "string", default: "2" },
        rounds: { type: "string", default: "2" },
        clients: { type: "string", default: "1,64" },
        placements: { type: "string", default: "spread,leader" },
        "failover-trials": { type: "string", default: "3" },
        "failover-timeout-ms": { type: "string", default: "250" },
        "etcd-timing": { type: "string", default: "etcd" },
        only: { type: "string" },
        json: { type: "string" },
        help: { type: "boolean", default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new BenchUsageError((error as Error).message);
  }
  const seconds = Number(values.seconds);
  const warmupSeconds = Number(values.warmup);
  if (!(seconds > 0)) throw new BenchUsageError(`--seconds must be a positive number, not '${values.seconds}'`);
  if (!(warmupSeconds >= 0)) throw new BenchUsageError(`--warmup must be ≥ 0, not '${values.warmup}'`);
  const placements = [...new Set(values.placements.split(",").map((p) => oneOf("placements", p.trim(), PLACEMENTS)))];
  if (values.json === "") throw new BenchUsageError("--json needs a file name");
  return {
    seconds,
    warmupSeconds,
    rounds: count("rounds", values.rounds, 1),
    clients: [...new Set(values.clients.split(",").map((c) => count("clients", c.trim(), 1)))],
    placements,
    failoverTrials: count("failover-trials", values["failover-trials"], 0),
    failoverTimeoutMs: count("failover-timeout-ms", values["failover-timeout-ms"], 1),
    etcdTiming: oneOf("etcd-timing", values["etcd-timing"], ["etcd", "concord"] as const),
    only: values.only === undefined ? null : oneOf("only", values.only, SYSTEMS),
    json: values.json ?? null,
    help: values.help,
  };
}

/** The order systems run in: etcd, concord, etcd, concord, … (or one system alone). */
export function runOrder(rounds: number, only: SystemName | null): { round: number; system: SystemName }[] {
  const systems = only === null ? SYSTEMS : [only];
  return Array.from({ length: rounds }, (_, r) => systems.map((system) => ({ round: r + 1, system }))).flat();
}

/**
 * Concord's heartbeat and election timeout as LocalCluster's nodes get them: the node's
 * own option parsing with the --tick-ms LocalCluster passes and this environment (which
 * the nodes inherit). Null if that cannot be worked out here.
 */
export function concordTiming(tickMs = 20): RaftTiming | null {
  try {
    const o = parseNodeOptions(["--id", "1", "--data", tmpdir(), "--tick-ms", String(tickMs)], process.env);
    return { heartbeatMs: o.tickIntervalMs * o.heartbeatIntervalTicks, electionMs: o.tickIntervalMs * o.electionTimeoutTicks };
  } catch {
    return null;
  }
}

/** One system, running, as the runs see it. */
interface RunningSystem {
  urls(): Map<number, string>;
  leader(): Promise<number>;
  pids(): Map<string, number>;
  /** `count` clients' writes to `urls` (round-robin per client, or client i on urls[i % n]). */
  writes(urls: readonly string[], count: number, roundRobin: boolean): Write[];
  failover: FailoverCluster;
  stop(): Promise<void>;
}

async function startEtcd(binary: string, timing: RaftTiming | null, hold: (stop: () => Promise<void>) => void): Promise<RunningSystem> {
  const cluster = await EtcdCluster.create({ binary, members: 5, timing });
  hold(() => cluster.stop());
  await cluster.start();
  return {
    urls: () => new Map(cluster.urls),
    leader: () => cluster.leader(),
    pids: () => new Map([...cluster.pids(), [CLIENT_PROCESS, process.pid]]),
    writes: (urls, n, roundRobin) => etcdWrites(urls, n, { roundRobin }),
    failover: cluster,
    stop: () => cluster.stop(),
  };
}

async function startConcord(accountsNeeded: number, hold: (stop: () => Promise<void>) => void, progress: (line: string) => void): Promise<RunningSystem> {
  const target = await startLocalTarget({ snapshotEvery: 10_000 });
  hold(() => target.stop());
  const cluster = target.local!;
  await target.leader();
  progress(`  signing in ${accountsNeeded} clients (argon2id, not timed) …`);
  const accounts = await signIn([...target.urls().values()], accountsNeeded, progress);
  return {
    urls: () => target.urls(),
    leader: () => target.leader(),
    pids: () => target.pids(),
    writes: (urls, n, roundRobin) => senders(accounts, urls, n, { roundRobin }),
    failover: localClusterFailover(cluster),
    stop: () => target.stop(),
  };
}

const us = (n: number) => Math.round(n).toLocaleString("en-US");

export async function runVsEtcd(argv: readonly string[], io: BenchIo): Promise<number> {
  let options: VsEtcdOptions;
  try {
    options = parseVsEtcdOptions(argv);
  } catch (error) {
    if (!(error instanceof BenchUsageError)) throw error;
    io.stderr(`bench:vs-etcd: ${error.message}\n\n${VS_ETCD_USAGE}`);
    return 2;
  }
  if (options.help) {
    io.stdout(VS_ETCD_USAGE);
    return 0;
  }
  const progress = (line: string) => io.stderr(`vs-etcd  ${line}\n`);

  // The one system running now (never two): what SIGINT/SIGTERM and the end stop.
  let current: (() => Promise<void>) | null = null;
  let interrupted = false;
  const stopCurrent = async () => {
    const stop = current;
    current = null;
    await stop?.();
  };
  const interrupt = (signal: string) => () => {
    if (interrupted) return;
    interrupted = true;
    progress(`${signal}: stopping every process started here …`);
    void stopCurrent().finally(() => io.exit(130));
  };
  io.onSignal("SIGINT", interrupt("SIGINT"));
  io.onSignal("SIGTERM", interrupt("SIGTERM"));

  const order = runOrder(options.rounds, options.only);
  const systems = new Set(order.map((o) => o.system));
  let etcdBinary: string | null = null;
  if (systems.has("etcd")) {
    try {
      etcdBinary = await ensureEtcd(progress);
    } catch (error) {
      if (!(error instanceof EtcdMissingError)) throw error;
      io.stderr(`bench:vs-etcd: ${error.message}\n`);
      return 1;
    }
  }
  const concord = concordTiming();
  const etcdTiming = options.etcdTiming === "concord" ? concord : null;
  if (options.etcdTiming === "concord" && etcdTiming === null) {
    io.stderr("bench:vs-etcd: --etcd-timing concord: could not work out Concord's node timing\n");
    return 2;
  }
  const trials = trialsPerRound(options.failoverTrials, options.rounds);
  const accountsNeeded = Math.max(1, ...options.clients);
  const levels: VsLevel[] = [];
  const failovers: VsFailover[] = [];
  const failures: string[] = [];
  const startedAt = new Date();

  try {
    for (const [i, { round, system }] of order.entries()) {
      if (interrupted) break;
      progress(`[${i + 1}/${order.length}] round ${round}: ${system} — starting ${system === "etcd" ? "5 etcd members" : "nats-server and 5 nodes"} …`);
      const hold = (stop: () => Promise<void>) => (current = stop);
      const sys = system === "etcd" ? await startEtcd(etcdBinary!, etcdTiming, hold) : await startConcord(accountsNeeded, hold, progress);
      try {
        for (const placement of options.placements) {
          for (const clients of options.clients) {
            const leader = await sys.leader();
            const ordered = urlsFromLeader(sys.urls(), leader);
            const urls = placement === "leader" ? ordered.slice(0, 1) : ordered;
            progress(`  ${system} ${placement} ${clients} client(s), leader ${leader}: ${options.warmupSeconds} s warm-up, ${options.seconds} s measured …`);
            const level = await measureLevel(sys.writes(urls, clients, placement === "spread"), options.warmupSeconds * 1000, options.seconds * 1000, new ProcessMeter(() => sys.pids()));
            const cpu = level.processes.map((p) => `${p.name === CLIENT_PROCESS ? "client" : p.name}${p.name.endsWith(` ${leader}`) ? "*" : ""} ${us(p.cpuUsPerMessage)}`).join(", ");
            progress(`    ${level.messagesPerSecond.toLocaleString("en-US")} writes/s, p50 ${level.latencyMs.p50} ms, p99 ${level.latencyMs.p99} ms, ${level.errors} errors; CPU µs/write: ${cpu}`);
            levels.push({ ...level, system, round, placement, leader });
            if (level.messages === 0) failures.push(`round ${round} ${system} ${placement} ${clients} client(s): no write acknowledged (${JSON.stringify(level.errorsBy)})`);
          }
        }
        const n = trials[round - 1] ?? 0;
        if (n > 0 && !interrupted) {
          progress(`  ${system} failover: ${n} trial(s), 1 client, ${options.failoverTimeoutMs} ms attempt timeout …`);
          try {
            const result = await failoverTrials(sys.failover, (survivors) => {
              const urls = sys.urls();
              return sys.writes(survivors.map((id) => urls.get(id)!), 1, false);
            }, { trials: n, attemptTimeoutMs: options.failoverTimeoutMs }, (line) => progress(`  ${line}`));
            failovers.push({ ...result, system, round });
          } catch (error) {
            failures.push(`round ${round} ${system} failover: ${(error as Error).message}`);
            progress(`  failover failed: ${(error as Error).message}`);
          }
        }
      } finally {
        progress(`  stopping ${system} …`);
        await stopCurrent();
      }
    }
  } finally {
    await stopCurrent();
  }
  if (interrupted) return 130;

  const notes: string[] = [];
  if (options.only !== null) notes.push(`--only ${options.only}: no ratios`);
  else if (options.rounds < 2) notes.push("one round: machine noise is not spread over both systems (--rounds 2 or more)");
  if (systems.has("etcd")) {
    notes.push("etcd's JSON gateway is grpc-gateway inside each member: every HTTP request becomes a gRPC call over a loopback connection to the member itself, CPU a gRPC client would not cost it; Concord's HTTP API is its only one");
    const e = etcdTiming ?? ETCD_DEFAULT_TIMING;
    if (systems.has("concord") && concord !== null && e.electionMs !== concord.electionMs) {
      notes.push(`failover gaps follow the election timeouts: etcd ${e.electionMs} ms here, Concord ${concord.electionMs} ms (--etcd-timing concord gives etcd Concord's)`);
    }
  }
  const etcdF = failoverSummary(failovers, "etcd");
  const concordF = failoverSummary(failovers, "concord");
  const result: VsEtcdResult = {
    benchmark: "bench:vs-etcd",
    version: 1,
    startedAt: startedAt.toISOString(),
    machine: { cpus: availableParallelism(), kernel: kernel(), bun: Bun.version },
    config: {
      rounds: options.rounds,
      order: order.map((o) => o.system),
      seconds: options.seconds,
      warmupSeconds: options.warmupSeconds,
      clients: options.clients,
      placements: options.placements,
      contentBytes: CONTENT.length,
      failoverTrials: options.failoverTrials,
      failoverAttemptTimeoutMs: options.failoverTimeoutMs,
      etcd: etcdBinary === null ? null : {
        version: etcdVersion(etcdBinary),
        members: 5,
        timing: etcdTiming ?? ETCD_DEFAULT_TIMING,
        timingSource: etcdTiming === null ? "etcd's defaults" : "Concord's (--etcd-timing concord)",
        api: "POST /v3/kv/put through the v3 JSON gateway, one key per client, base64 key and value",
        durability: "a put is acknowledged once committed (WAL fsync'd on a majority) and applied by the member that answers; every option but addresses is etcd's default",
      },
      concord: systems.has("concord") ? {
        nodes: 5,
        timing: concord,
        api: "POST /v1/messages with a session token (signed in before, not timed)",
        durability: "a message is acknowledged once fsync'd on a majority and applied by the leader",
      } : null,
    },
    levels,
    failovers,
    comparison: compare(levels),
    failover: { etcd: etcdF, concord: concordF, ratio: ratio(concordF?.medianGapMs, etcdF?.medianGapMs) },
    failures,
    notes,
  };
  const stamp = startedAt.toISOString().replace(/[:.]/g, "-");
  const jsonPath = options.json ?? join("bench-results", `vs-etcd-${stamp}.json`);
  const json = `${JSON.stringify(result, null, 2)}\n`;
  await mkdir(dirname(jsonPath), { recursive: true });
  await writeFile(jsonPath, json);
  if (options.json === null) await writeFile(join(dirname(jsonPath), "vs-etcd-latest.json"), json);
  progress(`wrote ${jsonPath}`);
  io.stdout(formatVsTable(result));
  return failures.length > 0 ? 1 : 0;
}

if (import.meta.main) {
  let code: number;
  try {
    code = await runVsEtcd(process.argv.slice(2), {
      stdout: (text) => process.stdout.write(text),
      stderr: (text) => process.stderr.write(text),
      onSignal: (signal, handler) => process.on(signal, handler),
      exit: (c) => process.exit(c),
    });
  } catch (error) {
    // Everything started was stopped on the way out; say why it ended.
    process.stderr.write(`bench:vs-etcd failed: ${(error as Error).stack ?? String(error)}\n`);
    code = 1;
  }
  process.exit(code);
}
