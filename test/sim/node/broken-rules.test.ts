// The whole-node simulator must catch every bug we fixed, re-created behind a test-only
// switch: each test searches seeds in order and stops at the first violation. A switch
// that goes uncaught within its budget means the simulator has gone blind to that bug.
// The budgets are a few times the seed that catches each today (see the comments).

import { expect, test } from "bun:test";
import type { DriverTestingFaults } from "../../../src/node/raft-node.ts";
import { SimulationViolation } from "../violation.ts";
import { type CoreTestingFaults, runNodeSimulation } from "./simulation.ts";

const STEPS_PER_SEED = 150;

async function firstViolation(faults: { core?: CoreTestingFaults; driver?: DriverTestingFaults }, budget: number): Promise<{ seedsTried: number; violation: SimulationViolation } | null> {
  for (let seed = 1; seed <= budget; seed++) {
    try {
      await runNodeSimulation({ seed, nodeCount: 5, steps: STEPS_PER_SEED, ...(faults.core !== undefined ? { coreFaults: faults.core } : {}), ...(faults.driver !== undefined ? { driverFaults: faults.driver } : {}) });
    } catch (err) {
      if (!(err instanceof SimulationViolation)) throw err;
      return { seedsTried: seed, violation: err };
    }
  }
  return null;
}

/** One switch: caught within `budget` seeds, by a rule (not an exception), with a report that replays it. */
export function expectCaught(name: string, faults: { core?: CoreTestingFaults; driver?: DriverTestingFaults }, budget: number, rules: readonly string[]): void {
  test(`${name} is caught within ${budget} seeds`, async () => {
    const hit = await firstViolation(faults, budget);
    if (hit === null) throw new Error(`${name}: no violation in ${budget} seeds`);
    const v = hit.violation;
    console.log(`${name}: caught by seed ${v.seed} [${v.rule}]`);
    expect(v.message).toContain(`seed ${v.seed}`);
    expect(v.message).toContain(`--unsafe ${name}`);
    expect(v.traceTail.length).toBeGreaterThan(10);
    expect(rules).toContain(v.rule);
  }, 600_000);
}

// Driver bugs (issue 13): the rules that catch each, as seen so far.
// Seed 2 today.
expectCaught("snapshotTermFromLastSnapshot", { driver: { snapshotTermFromLastSnapshot: true } }, 200, ["snapshot term", "state machine safety", "node failed"]);
// Seed 1 today: the log's snapshot record points at bytes already deleted.
expectCaught("dropOldSnapshotBeforeCompact", { driver: { dropOldSnapshotBeforeCompact: true } }, 100, ["snapshot bytes", "liveness", "node failed"]);
// Seed 10 today: a copy from before an install, saved over it, moves the record back to bytes pruned since.
expectCaught("keepCopyAcrossInstall", { driver: { keepCopyAcrossInstall: true } }, 500, ["snapshot bytes", "liveness", "node failed", "state machine safety", "snapshot term"]);
// Seed 143 today: a follower holding back an addVoter snapshots the state before it with the configuration after it.
expectCaught("snapshotWhileApplyHeld", { driver: { snapshotWhileApplyHeld: true } }, 600, ["snapshot configuration"]);
// Core bugs. Seed 122 today.
expectCaught("voteBeforePersist", { core: { voteBeforePersist: true } }, 1000, ["election safety", "state machine safety", "liveness", "acknowledged write lost"]);
// Seed 8 today: a leader cut off and asked again and again to transfer stays in office.
expectCaught("transferExtendsLeaderLease", { core: { transferExtendsLeaderLease: true } }, 100, ["check quorum"]);
// Seed 17 today: forged acks beyond the leader's log, or a non-member's higher term.
expectCaught("trustImpossibleMessages", { core: { trustImpossibleMessages: true } }, 200, ["state machine safety", "election safety", "acknowledged write lost", "liveness", "node failed", "check quorum"]);

// Four switches this simulator does not catch within 1,500 seeds; each is caught elsewhere:
// - commitPreviousTermByCount (Figure 8) by the core simulator (test/sim/broken-rules.test.ts),
//   whose protocol-moment faults (a new leader cut off at once, a leader cut off as it
//   commits) this one lacks.
// - stageBeforeCoreChecks by no test any more: since snapshot bytes are checked before their
//   message is stepped, that check's await lets the loop install the current snapshot
//   before a stale one can displace its bytes, unless both checks end in one burst of
//   microtasks. raft-node-safety.test.ts pins the fixed behaviour with both checks ending
//   together; the fix (staging by term and index, only what the core took) stays, because
//   the window is narrow, not closed.
// - campaignWithUnappliedConf by membership.test.ts (and the port of etcd's
//   TestConfChangeCheckBeforeCampaign): it takes a node two voter additions behind, both
//   committed and both unapplied, cut off with one peer of the configuration it applied
//   (single-step changes keep consecutive quorums overlapping). A directed fault armed for
//   that moment never fired in 1,500 seeds: the schedule does not leave a node that far
//   behind with the commit known and its applies pending.
// - probeIgnoresEqualAck by replication.test.ts: it delays a follower by one heartbeat
//   interval, which no safety or liveness rule can tell from ordinary message loss.
