// Failover trials: a write loop against the nodes that will survive, kill -9 the leader,
// and the longest interval between two acknowledged writes around the kill. Any Raft
// cluster whose processes run here can be put through it (FailoverCluster): Concord's
// LocalCluster (`concord bench`) and etcd's members (bench:vs-etcd).
import type { LocalCluster } from "../cluster/local-cluster.ts";
import { longestGap, median, round } from "./stats.ts";
import { runLoops, type Write } from "./workload.ts";

/** What a failover trial needs from a cluster whose processes run here. */
export interface FailoverCluster {
  /** What a member is called in progress lines: "node", "member". */
  readonly noun: string;
  /** Ids of the members whose process is alive. */
  running(): number[];
  /** The leader every member in `among` (default: every running one) agrees on. */
  leader(timeoutMs?: number, among?: readonly number[]): Promise<number>;
  /** kill -9, by the PID it was started with. */
  kill(id: number): Promise<void>;
  /** Start `id` again on its data; resolves once it has caught up with `leader`. */
  rejoin(id: number, leader: number): Promise<void>;
}

/** Concord's LocalCluster as a FailoverCluster: a restarted node has caught up once it applied the leader's commit index. */
export function localClusterFailover(cluster: LocalCluster): FailoverCluster {
  return {
    noun: "node",
    running: () => cluster.running(),
    leader: (timeoutMs, among) => cluster.leader(timeoutMs, among),
    kill: (id) => cluster.kill(id),
    rejoin: async (id, leader) => {
      await cluster.startNode(id);
      const commit = (await cluster.view(leader))?.commitIndex ?? 0;
      await cluster.converged(commit, 60_000);
    },
  };
}

export interface FailoverTrial {
  killedLeader: number;
  newLeader: number;
  /** Longest interval between consecutive acknowledged writes from 1 s before the kill on. */
  longestGapMs: number;
  /** Time from the kill until the surviving nodes agreed on a new leader (polled every 25 ms). */
  electedAfterKillMs: number;
  /** Time from the kill to the first write acknowledged after the longest gap. */
  resumedAfterKillMs: number;
  acknowledged: number;
  errors: number;
  /** Failed writes by HTTP status, "timeout" or "network". */
  errorsBy: Record<string, number>;
  /** Time for the restarted old leader to catch up with the new one. */
  rejoinMs: number;
}

export interface FailoverResult {
  clients: number;
  /** A write not answered in this long is abandoned (and counted as "timeout"). */
  attemptTimeoutMs: number;
  trials: FailoverTrial[];
  longestGapMs: { median: number; max: number };
}

const BEFORE_KILL_MS = 1000;
/** Keep writing this long after writes resumed, so a second stall would show. */
const AFTER_RESUME_MS = 1000;
const MAX_TRIAL_MS = 20_000;

/**
 * `options.trials` times: `writesTo(survivors)` writes in closed loops (each attempt given
 * up after `attemptTimeoutMs`), the leader is killed, the longest silence between
 * acknowledged writes is measured, and the old leader rejoins before the next trial.
 */
export async function failoverTrials(
  cluster: FailoverCluster,
  writesTo: (survivors: readonly number[]) => readonly Write[],
  options: { trials: number; attemptTimeoutMs: number },
  progress: (line: string) => void,
): Promise<FailoverResult> {
  const trials: FailoverTrial[] = [];
  let clients = 0;
  const noun = cluster.noun;
  for (let t = 1; t <= options.trials; t++) {
    const leader = await cluster.leader();
    const survivors = cluster.running().filter((id) => id !== leader);
    const list = writesTo(survivors);
    clients = list.length;
    progress(`  trial ${t}/${options.trials}: ${clients} client(s) on ${noun}s ${survivors.join(",")}; kill -9 leader ${leader} after ${BEFORE_KILL_MS} ms …`);
    const acks: number[] = [];
    let errors = 0;
    const errorsBy: Record<string, number> = {};
    let stopped = false;
    const loops = runLoops(list, () => stopped, (ok, _s, endedAt, _c, outcome) => {
      if (ok) acks.push(endedAt);
      else {
        errors++;
        errorsBy[outcome] = (errorsBy[outcome] ?? 0) + 1;
      }
    }, { errorBackoffMs: 5, timeoutMs: options.attemptTimeoutMs });
    await Bun.sleep(BEFORE_KILL_MS);
    const killedAt = performance.now();
    await cluster.kill(leader);
    const elected = cluster.leader(MAX_TRIAL_MS, survivors).then((id) => ({ id, at: performance.now() }));
    // Wait for writes to resume and then keep going a little.
    const deadline = killedAt + MAX_TRIAL_MS;
    let resumedAt = NaN;
    for (;;) {
      await Bun.sleep(50);
      const now = performance.now();
      const gap = longestGap(acks, killedAt - BEFORE_KILL_MS);
      const last = acks[acks.length - 1] ?? 0;
      // Resumed: acknowledged writes that were sent after the kill keep coming.
      if (last > killedAt && now - gap.end > AFTER_RESUME_MS && now - last < 200) {
        resumedAt = gap.end;
        break;
      }
      if (now > deadline) break;
    }
    stopped = true;
    const endedAt = performance.now();
    await loops;
    const measured = longestGap(acks, killedAt - BEFORE_KILL_MS);
    // Writes that never resumed: the silence since the last acknowledgement counts too.
    const lastAck = acks[acks.length - 1] ?? killedAt - BEFORE_KILL_MS;
    const gap = Number.isNaN(resumedAt) && endedAt - lastAck > measured.gap ? { gap: endedAt - lastAck, end: endedAt } : measured;
    const election = await elected;
    const newLeader = await cluster.leader(20_000, survivors);
    progress(`    longest gap ${gap.gap.toFixed(0)} ms; ${noun} ${election.id} leads ${(election.at - killedAt).toFixed(0)} ms after the kill; restarting ${noun} ${leader} …`);
    const rejoinStarted = performance.now();
    await cluster.rejoin(leader, newLeader);
    trials.push({
      killedLeader: leader,
      newLeader,
      longestGapMs: round(gap.gap, 1),
      electedAfterKillMs: round(election.at - killedAt, 0),
      resumedAfterKillMs: round((Number.isNaN(resumedAt) ? gap.end : resumedAt) - killedAt, 1),
      acknowledged: acks.length,
      errors,
      errorsBy,
      rejoinMs: round(performance.now() - rejoinStarted, 0),
    });
  }
  const gaps = trials.map((t) => t.longestGapMs);
  return { clients, attemptTimeoutMs: options.attemptTimeoutMs, trials, longestGapMs: { median: round(median(gaps), 1), max: round(Math.max(...gaps), 1) } };
}
