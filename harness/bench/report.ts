// The result of `concord bench` as one JSON object, and as the table printed on stdout.
import type { FailoverResult } from "./failover.ts";
import type { GrowthResult } from "./growth.ts";
import type { LevelResult } from "./workload.ts";

export interface Skipped {
  skipped: string;
}

export interface BenchLevel extends LevelResult {
  /** The leader when the level started. */
  leader: number | null;
}

export interface BenchResult {
  benchmark: "concord bench";
  version: 1;
  startedAt: string;
  machine: { cpus: number; kernel: string; bun: string };
  cluster: { nodes: number; mode: "local" | "target"; urls: string[]; snapshotEvery: number | null };
  workload: { contentBytes: number; seconds: number; warmupSeconds: number; clientPlacement: string; durability: string };
  levels: BenchLevel[];
  failover: FailoverResult | Skipped;
  growth: GrowthResult | Skipped;
  notes: string[];
}

export function isSkipped(value: unknown): value is Skipped {
  return typeof value === "object" && value !== null && "skipped" in value;
}

export function toJson(result: BenchResult): string {
  return JSON.stringify(result);
}

const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits }) : "-");
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;
const pad = (cells: readonly string[], widths: readonly number[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");

/** A plain-text table, columns sized to their content. First column left-aligned. */
/** "0", or the count and what they were: "718 (503: 700, timeout: 18)". */
export function formatErrors(l: { errors: number; errorsBy?: Record<string, number> }): string {
  const by = Object.entries(l.errorsBy ?? {}).sort(([a], [b]) => a.localeCompare(b));
  return by.length === 0 ? String(l.errors) : `${l.errors} (${by.map(([k, n]) => `${k}: ${n}`).join(", ")})`;
}

export function textTable(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  return [pad(header, widths), pad(widths.map((w) => "-".repeat(w)), widths), ...rows.map((r) => pad(r, widths))];
}

export function formatTable(r: BenchResult): string {
  const out: string[] = [];
  out.push(`concord bench — ${r.cluster.nodes} nodes (${r.cluster.mode === "local" ? "started here" : `target ${r.cluster.urls.join(",")}`}), ${r.workload.contentBytes}-byte messages, ${r.workload.seconds} s per level after ${r.workload.warmupSeconds} s warm-up`);
  out.push(`clients: ${r.workload.clientPlacement}`);
  out.push(`durability: ${r.workload.durability}`);
  out.push("");
  out.push(...textTable(
    ["clients", "messages/s", "p50 ms", "p99 ms", "max ms", "errors", "leader"],
    r.levels.map((l) => [String(l.clients), fmt(l.messagesPerSecond), fmt(l.latencyMs.p50, 2), fmt(l.latencyMs.p99, 2), fmt(l.latencyMs.max, 1), formatErrors(l), l.leader === null ? "-" : `node ${l.leader}`]),
  ));
  const names = [...new Set(r.levels.flatMap((l) => l.processes.map((p) => p.name)))];
  if (names.length > 0) {
    const cell = (l: BenchLevel, name: string, pick: (p: LevelResult["processes"][number]) => string) => {
      const p = l.processes.find((q) => q.name === name);
      return p === undefined ? "-" : pick(p);
    };
    const label = (l: BenchLevel, name: string) => (l.leader !== null && name === `node ${l.leader}` ? `${name}*` : name);
    out.push("");
    out.push("CPU µs per message by process (user+system from /proc; * = leader):");
    for (const l of r.levels) {
      const total = l.processes.reduce((sum, p) => sum + p.cpuUsPerMessage, 0);
      out.push(`  ${String(l.clients).padStart(3)} clients: ${names.map((n) => `${label(l, n)} ${cell(l, n, (p) => fmt(p.cpuUsPerMessage))}`).join(", ")}; total ${fmt(total)}`);
    }
    out.push("CPU % of one core / resident memory MB:");
    for (const l of r.levels) {
      out.push(`  ${String(l.clients).padStart(3)} clients: ${names.map((n) => `${label(l, n)} ${cell(l, n, (p) => `${fmt(p.cpuPercent)}% ${fmt(p.rssMB)}`)}`).join(", ")}`);
    }
  }
  out.push("");
  if (isSkipped(r.failover)) out.push(`failover: skipped (${r.failover.skipped})`);
  else {
    const f = r.failover;
    out.push(`failover: kill -9 the leader under ${f.clients} writing clients (on the other nodes), ${f.trials.length} trial(s)`);
    out.push(`  longest gap between acknowledged writes: median ${fmt(f.longestGapMs.median)} ms, max ${fmt(f.longestGapMs.max)} ms`);
    for (const [i, t] of f.trials.entries()) out.push(`  trial ${i + 1}: leader ${t.killedLeader} killed -> node ${t.newLeader} leads after ${fmt(t.electedAfterKillMs)} ms; gap ${fmt(t.longestGapMs)} ms; ${formatErrors(t)} failed writes; old leader back in ${fmt(t.rejoinMs)} ms`);
  }
  out.push("");
  if (isSkipped(r.growth)) out.push(`growth: skipped (${r.growth.skipped})`);
  else {
    const g = r.growth;
    out.push(`growth: ${fmt(g.loadedMessages)} messages loaded through the API (${g.loadClients} clients, ${fmt(g.loadMessagesPerSecond)}/s, ${fmt(g.loadSeconds, 1)} s); ${fmt(g.storedMessages)} stored`);
    const loadErrors = Object.entries(g.loadErrorsBy);
    if (loadErrors.length > 0) out.push(`  failed writes during the load, each resent: ${loadErrors.map(([outcome, n]) => `${fmt(n)} × ${outcome}`).join(", ")}`);
    out.push(`  disk (node ${g.disk.node}): ${fmt(g.disk.bytesPerMessage)} B/message in node.db+WAL (${mb(g.disk.dbBytes + g.disk.walBytes)}); data dir ${mb(g.disk.dataDirBytes)} (${fmt(g.disk.dataDirBytesPerMessage)} B/message, with the snapshot file)`);
    out.push(`  snapshot: ${mb(g.snapshot.bytes)} at index ${fmt(g.snapshot.index)}; taking one: ${fmt(g.snapshot.takeMs)} ms`);
    out.push(`  restart (kill -9 node ${g.restart.node}): listening after ${fmt(g.restart.toListeningMs)} ms, /readyz 200 after ${fmt(g.restart.toReadyMs)} ms`);
    out.push(`  wiped node ${g.wipedCatchUp.node}: caught up to index ${fmt(g.wipedCatchUp.targetIndex)} in ${fmt(g.wipedCatchUp.catchUpMs)} ms (${g.wipedCatchUp.bySnapshot ? `by snapshot: the leader's log starts after ${fmt(g.wipedCatchUp.snapshotIndex)}` : "by log replication: no snapshot yet"})`);
    const t = g.throughput;
    out.push(`  throughput at ${t.clients} clients: ${t.empty === null ? "-" : fmt(t.empty.messagesPerSecond)}/s empty -> ${fmt(t.loaded.messagesPerSecond)}/s loaded${t.ratio === null ? "" : ` (${fmt(t.ratio * 100)}%)`}; p99 ${t.empty === null ? "-" : fmt(t.empty.latencyMs.p99, 1)} -> ${fmt(t.loaded.latencyMs.p99, 1)} ms`);
  }
  if (r.notes.length > 0) {
    out.push("");
    for (const n of r.notes) out.push(`note: ${n}`);
  }
  out.push("");
  out.push(`machine: ${r.machine.cpus} cpus, ${r.machine.kernel}, bun ${r.machine.bun}`);
  return `${out.join("\n")}\n`;
}
