// Membership changes the way an operator would make them: a new server joins as a
// learner, is promoted to voter once it has caught up, and voters are removed — but
// never below three voters, so a single crash can't cost the cluster its quorum.

import { RaftError } from "../../src/raft/raft.ts";
import type { ConfChange, NodeId } from "../../src/raft/types.ts";
import type { SimCluster } from "./cluster.ts";
import type { SimRandom } from "./sim-random.ts";

const MIN_VOTERS = 3;

type ChurnMove = "join" | "retryJoin" | "promote" | "dropLearner" | "removeVoter";

export class MembershipChurn {
  private nextNodeId: number;
  /** A node started for joining whose addLearner has not shown up in a config yet. */
  private joiner: NodeId | null = null;

  constructor(
    private readonly cluster: SimCluster,
    private readonly rng: SimRandom,
    initialNodeCount: number,
    private readonly maxMembers: number,
  ) {
    this.nextNodeId = initialNodeCount + 1;
  }

  step(): void {
    const leader = this.cluster.leader();
    if (leader === null) {
      this.cluster.trace.add(this.cluster.nowMs, "sim", "churn: no leader, skipped");
      return;
    }
    const st = leader.raft.status();
    const { voters, learners } = st.conf;
    const isMember = (id: NodeId): boolean => voters.includes(id) || learners.includes(id);
    if (this.joiner !== null && (isMember(this.joiner) || this.cluster.nodes.get(this.joiner)?.state === "stopped")) {
      this.joiner = null;
    }
    const caughtUp = learners.filter((id) => {
      const p = st.progress.find((q) => q.id === id);
      return p !== undefined && p.match >= st.commit;
    });

    const moves: Array<readonly [ChurnMove, number]> = [];
    if (this.joiner !== null) moves.push(["retryJoin", 3]);
    else if (voters.length + learners.length < this.maxMembers) moves.push(["join", 2]);
    if (caughtUp.length > 0) moves.push(["promote", 4]);
    if (learners.length > 0) moves.push(["dropLearner", 0.5]);
    if (voters.length > MIN_VOTERS) moves.push(["removeVoter", 2]);
    if (moves.length === 0) return;

    let change: ConfChange;
    switch (this.rng.weighted(moves)) {
      case "join": {
        const id = this.nextNodeId++;
        this.cluster.addNode(id, null);
        this.joiner = id;
        change = { type: "addLearner", nodeId: id };
        break;
      }
      case "retryJoin":
        change = { type: "addLearner", nodeId: this.joiner as NodeId };
        break;
      case "promote":
        change = { type: "addVoter", nodeId: this.rng.pick(caughtUp) };
        break;
      case "dropLearner":
        change = { type: "removeNode", nodeId: this.rng.pick(learners) };
        break;
      case "removeVoter":
        change = { type: "removeNode", nodeId: this.rng.pick(voters) };
        break;
    }
    const result = leader.raft.proposeConfChange(change);
    const outcome = result instanceof RaftError ? `refused (${result.code})` : `at ${result.index}/${result.term}`;
    this.cluster.traceNode(leader.id, `proposeConfChange ${change.type} n${change.nodeId} ${outcome}`);
  }
}
