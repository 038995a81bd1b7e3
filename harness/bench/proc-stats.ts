// CPU time and resident memory of a process, from Linux's /proc. Wall-clock throughput is
// noisy on a shared machine; CPU time per message is much steadier.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

/** Clock ticks per second for /proc/<pid>/stat (`getconf CLK_TCK`, nearly always 100). */
export function clockTicksPerSecond(): number {
  try {
    const ticks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
    return Number.isFinite(ticks) && ticks > 0 ? ticks : 100;
  } catch {
    return 100;
  }
}

/** utime and stime (clock ticks) from the text of /proc/<pid>/stat. */
export function parseStat(text: string): { utimeTicks: number; stimeTicks: number } {
  // Field 2 (comm) is in parentheses and may hold spaces or ")": split after the last ")".
  const close = text.lastIndexOf(")");
  if (close < 0) throw new Error("malformed /proc stat: no ')'");
  const fields = text.slice(close + 2).trim().split(/\s+/);
  // fields[0] is field 3 (state); utime is field 14, stime field 15.
  const utimeTicks = Number(fields[11]);
  const stimeTicks = Number(fields[12]);
  if (!Number.isFinite(utimeTicks) || !Number.isFinite(stimeTicks)) throw new Error("malformed /proc stat: no utime/stime");
  return { utimeTicks, stimeTicks };
}

/** VmRSS in bytes from the text of /proc/<pid>/status (0 when absent, e.g. a zombie). */
export function parseRssBytes(status: string): number {
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return match === null ? 0 : Number(match[1]) * 1024;
}

export interface ProcSample {
  /** user + system CPU time, ms */
  cpuMs: number;
  /** system (kernel) CPU time alone, ms: fsync, sockets */
  sysMs: number;
  rssBytes: number;
}

/** One reading of a live process; null when it is gone. */
export function sampleProcess(pid: number, ticksPerSecond: number): ProcSample | null {
  try {
    const { utimeTicks, stimeTicks } = parseStat(readFileSync(`/proc/${pid}/stat`, "utf8"));
    const rssBytes = parseRssBytes(readFileSync(`/proc/${pid}/status`, "utf8"));
    const msPerTick = 1000 / ticksPerSecond;
    return { cpuMs: (utimeTicks + stimeTicks) * msPerTick, sysMs: stimeTicks * msPerTick, rssBytes };
  } catch {
    return null;
  }
}

export interface ProcessUsage {
  name: string;
  pid: number;
  /** CPU used over the window as a percentage of one core. */
  cpuPercent: number;
  /** CPU µs per acknowledged message (user + system). */
  cpuUsPerMessage: number;
  /** The kernel's part of it. */
  sysUsPerMessage: number;
  /** Resident memory at the end of the window. */
  rssMB: number;
}

/** Usage over a window from two samples (pure). */
export function usageBetween(name: string, pid: number, before: ProcSample, after: ProcSample, windowMs: number, messages: number): ProcessUsage {
  const cpuMs = Math.max(0, after.cpuMs - before.cpuMs);
  const sysMs = Math.max(0, after.sysMs - before.sysMs);
  const perMessage = (ms: number) => (messages > 0 ? (ms * 1000) / messages : 0);
  return {
    name,
    pid,
    cpuPercent: windowMs > 0 ? (cpuMs / windowMs) * 100 : 0,
    cpuUsPerMessage: perMessage(cpuMs),
    sysUsPerMessage: perMessage(sysMs),
    rssMB: after.rssBytes / (1024 * 1024),
  };
}

/** Samples a fixed set of named processes at the start and end of a window. */
export class ProcessMeter {
  private readonly ticks = clockTicksPerSecond();
  constructor(private readonly pids: () => ReadonlyMap<string, number>) {}

  start(): Map<string, { pid: number; sample: ProcSample }> {
    const out = new Map<string, { pid: number; sample: ProcSample }>();
    for (const [name, pid] of this.pids()) {
      const sample = sampleProcess(pid, this.ticks);
      if (sample !== null) out.set(name, { pid, sample });
    }
    return out;
  }

  finish(started: Map<string, { pid: number; sample: ProcSample }>, windowMs: number, messages: number): ProcessUsage[] {
    const out: ProcessUsage[] = [];
    for (const [name, { pid, sample }] of started) {
      const after = sampleProcess(pid, this.ticks);
      if (after !== null) out.push(usageBetween(name, pid, sample, after, windowMs, messages));
    }
    return out;
  }
}

/**
 * Starts measuring the CPU of named processes; the returned function reads it again and
 * gives what each used in between, in ms (user + system, and the kernel's part alone).
 * A process gone by then counts as having used nothing.
 */
export function cpuWindow(pids: Readonly<Record<string, number>>): () => { cpuMs: Record<string, number>; sysMs: Record<string, number> } {
  const ticks = clockTicksPerSecond();
  const read = () => Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, sampleProcess(pid, ticks)]));
  const before = read();
  return () => {
    const after = read();
    const cpuMs: Record<string, number> = {};
    const sysMs: Record<string, number> = {};
    for (const name of Object.keys(pids)) {
      const [b, a] = [before[name], after[name]];
      cpuMs[name] = a != null && b != null ? a.cpuMs - b.cpuMs : 0;
      sysMs[name] = a != null && b != null ? a.sysMs - b.sysMs : 0;
    }
    return { cpuMs, sysMs };
  };
}
