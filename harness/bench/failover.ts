// Failover trials: a write loop against the nodes that will survive, kill -9 the leader,
// and the longest interval between two acknowledged writes around the kill.
import type { LocalCluster } from "../cluster/local-cluster.ts";
import { longestGap, median, round } from "./stats.ts";
import { type Account, runLoops, senders } from "./workload.ts";

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
  trials: FailoverTrial[];
  longestGapMs: { median: number; max: number };
}

const BEFORE_KILL_MS = 1000;
/** Keep writing this long after writes resumed, so a second stall would show. */
const AFTER_RESUME_MS = 1000;
const MAX_TRIAL_MS = 20_000;

export async function failoverTrials(
  cluster: LocalCluster,
  accounts: readonly Account[],
  options: { trials: number; clients: number },
  progress: (line: string) => void,
): Promise<FailoverResult> {
  const trials: FailoverTrial[] = [];
  for (let t = 1; t <= options.trials; t++) {
    const leader = await cluster.leader();
    const survivors = cluster.running().filter((id) => id !== leader);
    const list = senders(accounts, survivors.map((id) => cluster.urls.get(id)!), options.clients);
    progress(`  trial ${t}/${options.trials}: ${options.clients} clients on nodes ${survivors.join(",")}; kill -9 leader ${leader} after ${BEFORE_KILL_MS} ms …`);
    const acks: number[] = [];
    let errors = 0;
    const errorsBy: Record<string, number> = {};
    let stopped = false;
    // Requests to a follower whose leader vanished wait for the node's own 5 s deadline.
    const loops = runLoops(list, () => stopped, (ok, _s, endedAt, _c, outcome) => {
      if (ok) acks.push(endedAt);
      else {
        errors++;
        errorsBy[outcome] = (errorsBy[outcome] ?? 0) + 1;
      }
    }, { errorBackoffMs: 5, timeoutMs: 6000 });
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
    progress(`    longest gap ${gap.gap.toFixed(0)} ms; node ${election.id} leads ${(election.at - killedAt).toFixed(0)} ms after the kill; restarting node ${leader} …`);
    const rejoinStarted = performance.now();
    await cluster.startNode(leader);
    const commit = (await cluster.view(newLeader))?.commitIndex ?? 0;
    await cluster.converged(commit, 60_000);
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
  return { clients: options.clients, trials, longestGapMs: { median: round(median(gaps), 1), max: round(Math.max(...gaps), 1) } };
}
