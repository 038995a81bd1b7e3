// etcd as bench:vs-etcd runs it: N members on loopback (free ports, each its own data
// directory in one temp dir, every option but the addresses and timing left at etcd's
// defaults, so every member fsyncs its WAL before it acknowledges), started, killed -9 and
// restarted by the PIDs we got, and written to through etcd's v3 JSON gateway with the
// same closed loop as Concord (workload.ts).
import { randomBytes } from "node:crypto";
import { closeSync, openSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { ETCD_SERVER, MissingPackagesError, ensureDebianPackages, hostSystem, installCommandLine } from "../../src/cli/ensure-debian-packages.ts";
import { freePort } from "../../src/cli/nats-server-process.ts";
import type { FailoverCluster } from "./failover.ts";
import { CONTENT, rotate, type Write } from "./workload.ts";

const POLL_MS = 25;
const START_TIMEOUT_MS = 30_000;
const STATUS_TIMEOUT_MS = 1000;

/** Heartbeat interval and election timeout, ms. */
export interface RaftTiming {
  heartbeatMs: number;
  electionMs: number;
}

/** etcd's own defaults (--heartbeat-interval 100, --election-timeout 1000). */
export const ETCD_DEFAULT_TIMING: RaftTiming = { heartbeatMs: 100, electionMs: 1000 };

export interface EtcdMemberSpec {
  id: number;
  clientPort: number;
  peerPort: number;
  dataDir: string;
}

export const memberName = (id: number) => `m${id}`;
const clientUrl = (m: EtcdMemberSpec) => `http://127.0.0.1:${m.clientPort}`;
const peerUrl = (m: EtcdMemberSpec) => `http://127.0.0.1:${m.peerPort}`;

/**
 * The command line of one member (after the binary). Only names, addresses, the data
 * directory and (when given) the raft timing are set: fsync per write, snapshots and the
 * rest are etcd's defaults. `--initial-cluster-state new` is ignored once the data
 * directory exists, so the same line restarts a killed member.
 */
export function etcdArgs(member: EtcdMemberSpec, all: readonly EtcdMemberSpec[], options: { clusterToken: string; timing: RaftTiming | null; logLevel?: string }): string[] {
  const args = [
    "--name", memberName(member.id),
    "--data-dir", member.dataDir,
    "--listen-client-urls", clientUrl(member),
    "--advertise-client-urls", clientUrl(member),
    "--listen-peer-urls", peerUrl(member),
    "--initial-advertise-peer-urls", peerUrl(member),
    "--initial-cluster", all.map((m) => `${memberName(m.id)}=${peerUrl(m)}`).join(","),
    "--initial-cluster-state", "new",
    "--initial-cluster-token", options.clusterToken,
    "--logger", "zap",
    "--log-level", options.logLevel ?? "warn",
  ];
  if (options.timing !== null) args.push("--heartbeat-interval", String(options.timing.heartbeatMs), "--election-timeout", String(options.timing.electionMs));
  return args;
}

const base64 = (text: string) => Buffer.from(text, "utf8").toString("base64");

/**
 * Closed-loop writes for etcd: client i puts a 200-byte value (workload.ts's CONTENT) under
 * its own key through POST /v3/kv/put (etcd 3.4's gateway path; key and value base64). With
 * `roundRobin`, each client's requests go round every URL in turn, client i starting at
 * urls[i % urls.length]; without, client i always talks to urls[i % urls.length].
 */
export function etcdWrites(urls: readonly string[], count: number, options: { roundRobin?: boolean } = {}): Write[] {
  return Array.from({ length: count }, (_, i) => ({
    targets: (options.roundRobin === true ? rotate(urls, i) : [urls[i % urls.length]!]).map((u) => `${u}/v3/kv/put`),
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ key: base64(`vs-etcd/client-${i}`), value: base64(CONTENT) }),
    okStatus: 200,
  }));
}

/** etcd is not installed: the message says how to get it. */
export class EtcdMissingError extends Error {
  override readonly name = "EtcdMissingError";
}

/** The etcd binary: $ETCD_BIN, then PATH, then the usual bin and sbin directories (Debian's /usr/bin). */
export function findEtcd(): string {
  const path = ETCD_SERVER.find(hostSystem());
  if (path !== null) return path;
  throw new EtcdMissingError(`etcd is not installed. On Debian or Ubuntu: ${installCommandLine([ETCD_SERVER])} (or set ETCD_BIN to its path).`);
}

/** Find etcd, or install Debian's etcd-server when we can (root with apt-get, as concord setup does); else EtcdMissingError says how. */
export async function ensureEtcd(progress: (line: string) => void): Promise<string> {
  try {
    const { found } = await ensureDebianPackages([ETCD_SERVER], hostSystem(), progress);
    return found.get(ETCD_SERVER.name) ?? findEtcd();
  } catch (error) {
    if (error instanceof MissingPackagesError) throw new EtcdMissingError(error.message);
    throw error;
  }
}

/** `etcd --version`'s first line's version ("3.4.23"), or "unknown". */
export function etcdVersion(binary: string): string {
  const result = Bun.spawnSync([binary, "--version"], { stdout: "pipe", stderr: "ignore" });
  return /etcd Version:\s*(\S+)/.exec(result.stdout.toString())?.[1] ?? "unknown";
}

/** What POST /v3/maintenance/status says (uint64 ids as the decimal strings etcd sends). */
export interface EtcdStatus {
  memberId: string;
  leaderId: string;
  raftTerm: number;
  raftIndex: number;
  raftAppliedIndex: number;
}

export function parseEtcdStatus(json: unknown): EtcdStatus {
  const s = json as { header?: { member_id?: string }; leader?: string; raftTerm?: string; raftIndex?: string; raftAppliedIndex?: string };
  if (s.header?.member_id === undefined) throw new Error("no member_id in etcd's status");
  return {
    memberId: s.header.member_id,
    leaderId: s.leader ?? "0",
    raftTerm: Number(s.raftTerm ?? 0),
    raftIndex: Number(s.raftIndex ?? 0),
    // etcd 3.4 reports the applied index; older ones do not (then the raft index stands in).
    raftAppliedIndex: Number(s.raftAppliedIndex ?? s.raftIndex ?? 0),
  };
}

/**
 * N etcd members on this machine, each controlled by the PID it got: start, kill -9,
 * restart on its data, stop. stop() kills every member and removes the data; a hook on
 * process exit kills any still running.
 */
export class EtcdCluster implements FailoverCluster {
  readonly noun = "member";
  /** Client URL by member id (1..N). */
  readonly urls = new Map<number, string>();
  private readonly children = new Map<number, Subprocess>();
  /** etcd's member id (decimal string) -> ours, learned from each member's status. */
  private readonly ids = new Map<string, number>();
  private readonly killOnExit = (): void => {
    for (const child of this.children.values()) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  };
  private stopped = false;

  private constructor(
    readonly dir: string,
    readonly binary: string,
    readonly members: readonly EtcdMemberSpec[],
    readonly timing: RaftTiming | null,
    private readonly clusterToken: string,
  ) {
    for (const m of members) this.urls.set(m.id, clientUrl(m));
    process.on("exit", this.killOnExit);
  }

  /**
   * Reserve ports and directories (nothing runs yet): the caller holds the object, so a
   * Ctrl+C during start() can still stop() what it started.
   */
  static async create(options: { binary: string; members: number; timing: RaftTiming | null; dir?: string }): Promise<EtcdCluster> {
    const dir = options.dir ?? (await mkdtemp(join(tmpdir(), "concord-vs-etcd-")));
    const members: EtcdMemberSpec[] = [];
    const taken = new Set<number>();
    const port = async () => {
      for (;;) {
        const p = await freePort();
        if (!taken.has(p)) {
          taken.add(p);
          return p;
        }
      }
    };
    for (let id = 1; id <= options.members; id++) members.push({ id, clientPort: await port(), peerPort: await port(), dataDir: join(dir, memberName(id)) });
    return new EtcdCluster(dir, options.binary, members, options.timing, `concord-vs-etcd-${randomBytes(6).toString("hex")}`);
  }

  /** Start every member; resolves once they agree on a leader. */
  async start(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    for (const m of this.members) this.spawn(m.id);
    await this.leader(START_TIMEOUT_MS);
  }

  private spec(id: number): EtcdMemberSpec {
    const m = this.members.find((x) => x.id === id);
    if (m === undefined) throw new Error(`no etcd member ${id}`);
    return m;
  }

  logPath(id: number): string {
    return join(this.dir, `${memberName(id)}.log`);
  }

  private spawn(id: number): void {
    if (this.stopped) throw new Error("the etcd cluster was stopped");
    if (this.isRunning(id)) throw new Error(`etcd member ${id} is already running`);
    const log = openSync(this.logPath(id), "a", 0o600);
    try {
      const child = Bun.spawn([this.binary, ...etcdArgs(this.spec(id), this.members, { clusterToken: this.clusterToken, timing: this.timing })], {
        stdin: "ignore",
        stdout: log,
        stderr: log,
      });
      this.children.set(id, child);
    } finally {
      closeSync(log);
    }
  }

  private isRunning(id: number): boolean {
    const child = this.children.get(id);
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  }

  pid(id: number): number | null {
    return this.isRunning(id) ? this.children.get(id)!.pid : null;
  }

  running(): number[] {
    return this.members.map((m) => m.id).filter((id) => this.isRunning(id));
  }

  /** Named PIDs of the running members ("etcd 1" …), for ProcessMeter. */
  pids(): Map<string, number> {
    const out = new Map<string, number>();
    for (const id of this.running()) out.set(`etcd ${id}`, this.children.get(id)!.pid);
    return out;
  }

  /** Member `id`'s status, or null when it does not answer. */
  async status(id: number): Promise<EtcdStatus | null> {
    if (!this.isRunning(id)) return null;
    try {
      const response = await fetch(`${this.urls.get(id)}/v3/maintenance/status`, { method: "POST", body: "{}", headers: { "content-type": "application/json" }, signal: AbortSignal.timeout(STATUS_TIMEOUT_MS) });
      if (!response.ok) return null;
      const status = parseEtcdStatus(await response.json());
      this.ids.set(status.memberId, id);
      return status;
    } catch {
      return null;
    }
  }

  /** Throw with the end of its log when a member we expect to run has exited. */
  private checkAlive(among: readonly number[]): void {
    for (const id of among) {
      const child = this.children.get(id);
      if (child !== undefined && !this.isRunning(id)) {
        throw new Error(`etcd member ${id} exited (${child.exitCode ?? child.signalCode}); ${this.logPath(id)} ends:\n${tail(this.logPath(id))}`);
      }
    }
  }

  async leader(timeoutMs = START_TIMEOUT_MS, among?: readonly number[]): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const ids = among ?? this.running();
      this.checkAlive(ids);
      const statuses = await Promise.all(ids.map((id) => this.status(id)));
      if (statuses.every((s) => s !== null)) {
        const leaders = new Set(statuses.map((s) => s!.leaderId));
        const [leaderId] = leaders;
        const leader = leaderId === undefined ? undefined : this.ids.get(leaderId);
        if (leaders.size === 1 && leader !== undefined && ids.includes(leader)) return leader;
      }
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for etcd members ${ids.join(",")} to agree on a leader`);
      await Bun.sleep(POLL_MS);
    }
  }

  async kill(id: number): Promise<void> {
    const child = this.children.get(id);
    if (child === undefined || !this.isRunning(id)) return;
    child.kill("SIGKILL");
    await child.exited;
  }

  /** Restart `id` on its data; resolves once it has applied what the leader had when it started. */
  async rejoin(id: number, leader: number): Promise<void> {
    const target = (await this.status(leader))?.raftIndex ?? 0;
    this.spawn(id);
    const deadline = Date.now() + 60_000;
    for (;;) {
      this.checkAlive([id]);
      const s = await this.status(id);
      if (s !== null && s.raftAppliedIndex >= target && s.leaderId !== "0") return;
      if (Date.now() > deadline) throw new Error(`etcd member ${id} did not catch up to index ${target} within 60 s`);
      await Bun.sleep(POLL_MS);
    }
  }

  /** Kill every member (by PID) and remove the data. Safe to call twice. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all([...this.children.keys()].map((id) => this.kill(id)));
    process.off("exit", this.killOnExit);
    await rm(this.dir, { recursive: true, force: true });
  }
}

function tail(path: string, bytes = 2048): string {
  try {
    const text = readFileSync(path);
    return text.subarray(Math.max(0, text.length - bytes)).toString("utf8").trimEnd();
  } catch {
    return "";
  }
}
