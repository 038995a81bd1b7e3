// bench:vs-etcd's result: one JSON object with every run, the medians over rounds, the
// ratios Concord/etcd, and the table printed on stdout. Pure functions only.
import { CLIENT_PROCESS } from "./bench-target.ts";
import type { FailoverResult } from "./failover.ts";
import type { RaftTiming } from "./etcd-cluster.ts";
import { textTable, formatErrors } from "./report.ts";
import { median, round } from "./stats.ts";
import type { LevelResult } from "./workload.ts";

export const SYSTEMS = ["etcd", "concord"] as const;
export type SystemName = (typeof SYSTEMS)[number];
export const PLACEMENTS = ["spread", "leader"] as const;
export type Placement = (typeof PLACEMENTS)[number];

export const PLACEMENT_TEXT: Record<Placement, string> = {
  spread: "each client's requests go round all 5 nodes/members in turn (client i starts at the i-th, counting from the leader)",
  leader: "every request goes to the leader",
};

/** One measured run: a system, a round, a placement and a client count. */
export interface VsLevel extends LevelResult {
  system: SystemName;
  round: number;
  placement: Placement;
  /** The leader when the run started (node or member id). */
  leader: number;
}

export interface VsFailover extends FailoverResult {
  system: SystemName;
  round: number;
}

/** CPU µs per acknowledged write, by role. natsServer is null for etcd (it has none). */
export interface CpuByRole {
  leader: number;
  /** The other members/nodes together. */
  followers: number;
  natsServer: number | null;
  client: number;
  total: number;
}

/** Medians over rounds of one system at one placement and client count. */
export interface SystemFigures {
  rounds: number;
  messagesPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Failed writes, summed over rounds. */
  errors: number;
  cpuUsPerMessage: CpuByRole;
}

/** Concord's figure divided by etcd's (null when either is missing, or etcd's is 0). */
export interface Ratios {
  throughput: number | null;
  p50: number | null;
  p99: number | null;
  cpuTotal: number | null;
}

export interface ComparisonRow {
  placement: Placement;
  clients: number;
  etcd: SystemFigures | null;
  concord: SystemFigures | null;
  ratio: Ratios;
}

export interface FailoverSummary {
  trials: number;
  attemptTimeoutMs: number;
  gapsMs: number[];
  medianGapMs: number;
  maxGapMs: number;
}

export interface VsEtcdResult {
  benchmark: "bench:vs-etcd";
  version: 1;
  startedAt: string;
  machine: { cpus: number; kernel: string; bun: string };
  config: {
    rounds: number;
    /** The order systems ran in, e.g. etcd, concord, etcd, concord. */
    order: string[];
    seconds: number;
    warmupSeconds: number;
    clients: number[];
    placements: Placement[];
    contentBytes: number;
    failoverTrials: number;
    failoverAttemptTimeoutMs: number;
    etcd: { version: string; members: number; timing: RaftTiming; timingSource: string; api: string; durability: string } | null;
    concord: { nodes: number; timing: RaftTiming | null; api: string; durability: string } | null;
  };
  levels: VsLevel[];
  failovers: VsFailover[];
  comparison: ComparisonRow[];
  failover: { etcd: FailoverSummary | null; concord: FailoverSummary | null; ratio: number | null };
  /** Phases that failed, and why (the exit code is then 1). */
  failures: string[];
  notes: string[];
}

/** a / b rounded to 2 decimals; null when either is missing or b is not positive. */
export function ratio(a: number | null | undefined, b: number | null | undefined): number | null {
  if (a == null || b == null || !Number.isFinite(a) || !Number.isFinite(b) || b <= 0) return null;
  return round(a / b, 2);
}

/** Trials per round: `total` spread over `rounds`, earlier rounds taking the remainder (3 over 2: 2, 1). */
export function trialsPerRound(total: number, rounds: number): number[] {
  return Array.from({ length: rounds }, (_, r) => Math.floor(total / rounds) + (r < total % rounds ? 1 : 0));
}

/** The name a member or node has among the metered processes. */
export function processName(system: SystemName, id: number): string {
  return system === "etcd" ? `etcd ${id}` : `node ${id}`;
}

/** A run's CPU µs per write, by role. */
export function cpuByRole(level: VsLevel): CpuByRole {
  const leaderName = processName(level.system, level.leader);
  const prefix = level.system === "etcd" ? "etcd " : "node ";
  let leader = 0;
  let followers = 0;
  let natsServer: number | null = null;
  let client = 0;
  for (const p of level.processes) {
    if (p.name === leaderName) leader += p.cpuUsPerMessage;
    else if (p.name.startsWith(prefix)) followers += p.cpuUsPerMessage;
    else if (p.name === "nats-server") natsServer = p.cpuUsPerMessage;
    else if (p.name === CLIENT_PROCESS) client += p.cpuUsPerMessage;
  }
  return { leader, followers, natsServer, client, total: leader + followers + (natsServer ?? 0) + client };
}

const med = (values: number[]) => round(median(values), 2);

/** Medians over a system's rounds at one placement and client count (null when none ran). */
export function systemFigures(runs: readonly VsLevel[]): SystemFigures | null {
  if (runs.length === 0) return null;
  const cpu = runs.map(cpuByRole);
  const nats = cpu.map((c) => c.natsServer).filter((n): n is number => n !== null);
  return {
    rounds: runs.length,
    messagesPerSecond: Math.round(median(runs.map((r) => r.messagesPerSecond))),
    p50Ms: med(runs.map((r) => r.latencyMs.p50)),
    p99Ms: med(runs.map((r) => r.latencyMs.p99)),
    errors: runs.reduce((sum, r) => sum + r.errors, 0),
    cpuUsPerMessage: {
      leader: med(cpu.map((c) => c.leader)),
      followers: med(cpu.map((c) => c.followers)),
      natsServer: nats.length === 0 ? null : med(nats),
      client: med(cpu.map((c) => c.client)),
      total: med(cpu.map((c) => c.total)),
    },
  };
}

/** One row per placement and client count (in the order they ran), both systems side by side. */
export function compare(levels: readonly VsLevel[]): ComparisonRow[] {
  const keys: { placement: Placement; clients: number }[] = [];
  for (const l of levels) if (!keys.some((k) => k.placement === l.placement && k.clients === l.clients)) keys.push({ placement: l.placement, clients: l.clients });
  return keys.map(({ placement, clients }) => {
    const of = (system: SystemName) => systemFigures(levels.filter((l) => l.system === system && l.placement === placement && l.clients === clients));
    const etcd = of("etcd");
    const concord = of("concord");
    return {
      placement,
      clients,
      etcd,
      concord,
      ratio: {
        throughput: ratio(concord?.messagesPerSecond, etcd?.messagesPerSecond),
        p50: ratio(concord?.p50Ms, etcd?.p50Ms),
        p99: ratio(concord?.p99Ms, etcd?.p99Ms),
        cpuTotal: ratio(concord?.cpuUsPerMessage.total, etcd?.cpuUsPerMessage.total),
      },
    };
  });
}

/** Every trial of one system over all rounds (null when it had none). */
export function failoverSummary(failovers: readonly VsFailover[], system: SystemName): FailoverSummary | null {
  const mine = failovers.filter((f) => f.system === system);
  const gaps = mine.flatMap((f) => f.trials.map((t) => t.longestGapMs));
  if (gaps.length === 0) return null;
  return { trials: gaps.length, attemptTimeoutMs: mine[0]!.attemptTimeoutMs, gapsMs: gaps, medianGapMs: round(median(gaps), 1), maxGapMs: round(Math.max(...gaps), 1) };
}

const fmt = (n: number | null | undefined, digits = 0) =>
  n == null || !Number.isFinite(n) ? "-" : n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
const times = (r: number | null) => (r === null ? "-" : `${r.toFixed(2)}x`);
const timing = (t: RaftTiming | null) => (t === null ? "timing unknown" : `heartbeat ${t.heartbeatMs} ms, election ${t.electionMs} ms`);

export function formatVsTable(r: VsEtcdResult): string {
  const c = r.config;
  const out: string[] = [];
  const what = c.etcd !== null && c.concord !== null ? "5 etcd members vs 5 Concord nodes on this machine, never both at once" : c.etcd !== null ? "5 etcd members alone (--only etcd)" : "5 Concord nodes alone (--only concord)";
  out.push(`bench:vs-etcd — ${what}; ${c.contentBytes}-byte writes, closed loops (Bun fetch)`);
  out.push(`  order: ${c.order.join(", ")}; ${c.seconds} s measured after ${c.warmupSeconds} s warm-up per run; figures are medians over rounds; x = Concord / etcd`);
  if (c.etcd !== null) out.push(`  etcd ${c.etcd.version}: ${c.etcd.api}; ${timing(c.etcd.timing)} (${c.etcd.timingSource}); ${c.etcd.durability}`);
  if (c.concord !== null) out.push(`  concord: ${c.concord.api}; ${timing(c.concord.timing)}; ${c.concord.durability}`);
  for (const p of c.placements) out.push(`  ${p}: ${PLACEMENT_TEXT[p]}`);
  out.push("");
  out.push(...textTable(
    ["placement", "clients", "etcd/s", "concord/s", "x", "etcd p50", "concord p50", "x", "etcd p99", "concord p99", "x", "errors etcd", "errors concord"],
    r.comparison.map((row) => [
      row.placement,
      String(row.clients),
      fmt(row.etcd?.messagesPerSecond),
      fmt(row.concord?.messagesPerSecond),
      times(row.ratio.throughput),
      fmt(row.etcd?.p50Ms, 2),
      fmt(row.concord?.p50Ms, 2),
      times(row.ratio.p50),
      fmt(row.etcd?.p99Ms, 2),
      fmt(row.concord?.p99Ms, 2),
      times(row.ratio.p99),
      fmt(row.etcd?.errors),
      fmt(row.concord?.errors),
    ]),
  ).map((line) => `  ${line}`));
  out.push("  (latencies in ms)");

  out.push("");
  out.push("CPU µs per acknowledged write (user+system from /proc/<pid>/stat over the measured window; followers = the other 4 together):");
  const cpuRows: string[][] = [];
  for (const row of r.comparison) {
    for (const system of SYSTEMS) {
      const f = row[system];
      if (f === null) continue;
      const u = f.cpuUsPerMessage;
      cpuRows.push([row.placement, String(row.clients), system, fmt(u.leader), fmt(u.followers), u.natsServer === null ? "-" : fmt(u.natsServer), fmt(u.client), fmt(u.total), system === "concord" ? times(row.ratio.cpuTotal) : ""]);
    }
  }
  out.push(...textTable(["placement", "clients", "system", "leader", "followers", "nats-server", "client", "total", "x"], cpuRows).map((line) => `  ${line}`));

  out.push("");
  out.push("CPU µs per write by process, every run (* = leader):");
  for (const l of r.levels) {
    const leaderName = processName(l.system, l.leader);
    const list = l.processes.map((p) => `${p.name === CLIENT_PROCESS ? "client" : p.name}${p.name === leaderName ? "*" : ""} ${fmt(p.cpuUsPerMessage)}`).join(", ");
    out.push(`  round ${l.round} ${l.system.padEnd(7)} ${l.placement.padEnd(6)} ${String(l.clients).padStart(3)} clients: ${list === "" ? "-" : list}`);
  }

  out.push("");
  const f = r.failover;
  const first = f.etcd ?? f.concord;
  if (first === null) out.push("failover: none (--failover-trials 0 or every trial failed)");
  else {
    out.push(`failover: kill -9 the leader while 1 client writes through a surviving member/node (each attempt given up after ${first.attemptTimeoutMs} ms); longest gap between acknowledged writes:`);
    for (const system of SYSTEMS) {
      const s = f[system];
      if (s !== null) out.push(`  ${system.padEnd(7)}  median ${fmt(s.medianGapMs)} ms, max ${fmt(s.maxGapMs)} ms over ${s.trials} trial(s): ${s.gapsMs.map((g) => fmt(g)).join(", ")} ms`);
    }
    out.push(`  x (median gap, Concord / etcd): ${times(f.ratio)}`);
    for (const fo of r.failovers) {
      for (const t of fo.trials) out.push(`    round ${fo.round} ${fo.system.padEnd(7)} leader ${t.killedLeader} -> ${t.newLeader} after ${fmt(t.electedAfterKillMs)} ms; gap ${fmt(t.longestGapMs)} ms; ${formatErrors(t)} failed attempts; rejoined in ${fmt(t.rejoinMs)} ms`);
    }
  }
  if (r.failures.length > 0 || r.notes.length > 0) out.push("");
  for (const failure of r.failures) out.push(`FAILED: ${failure}`);
  for (const note of r.notes) out.push(`note: ${note}`);
  out.push("");
  out.push(`machine: ${r.machine.cpus} cpus, ${r.machine.kernel}, bun ${r.machine.bun}`);
  return `${out.join("\n")}\n`;
}
