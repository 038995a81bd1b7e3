// After the faults stop, the cluster must recover on its own: elect a leader, commit
// a fresh write, and bring every live member up to it. Polled once per tick; a
// fresh write that gets lost (leader change) is replaced by another.

import { RaftError } from "../../src/raft/raft.ts";
import type { NodeId } from "../../src/raft/types.ts";
import type { Write } from "./client.ts";
import type { SimCluster } from "./cluster.ts";
import { RuleBroken } from "./violation.ts";

export class LivenessProbe {
  done = false;
  private readonly finals: Write[] = [];
  private lastProblem = "not probed yet";

  constructor(private readonly cluster: SimCluster) {}

  poll(): void {
    if (this.done) return;
    const leader = this.cluster.leader();
    if (leader === null) {
      this.lastProblem = "no leader";
      return;
    }
    const st = leader.raft.status();
    const current = this.finals[this.finals.length - 1];
    const stale = current !== undefined && (current.outcome === "lost" || (current.outcome === "pending" && current.term < st.term));
    if (current === undefined || stale) {
      const w = this.cluster.client.propose(leader, "final");
      if (w instanceof RaftError) {
        this.lastProblem = `leader n${leader.id} refused the final write (${w.code})`;
        return;
      }
      this.cluster.traceNode(leader.id, `liveness: propose ${w.payload} at ${w.index}/${w.term}`);
      this.finals.push(w);
    }

    const members: NodeId[] = [...st.conf.voters, ...st.conf.learners];
    for (const f of this.finals) {
      if (f.outcome !== "committed" && f.outcome !== "acknowledged") continue;
      const behind = members.filter((id) => {
        const node = this.cluster.nodes.get(id);
        return node === undefined || !node.running || !node.stateMachine.has(f.payload);
      });
      if (behind.length > 0) {
        this.lastProblem = `${f.payload}@${f.index} committed, not yet applied on ${behind.map((id) => `n${id}`).join(",")}`;
        continue;
      }
      const missing = this.cluster.client.missingAcknowledged(leader);
      if (missing.length > 0) {
        throw new RuleBroken(
          "acknowledged writes are durable",
          `after recovery leader n${leader.id} lacks acknowledged ${missing
            .slice(0, 5)
            .map((w) => `${w.payload}@${w.index}`)
            .join(", ")}`,
        );
      }
      const settled = this.cluster.client.settlePending(leader);
      this.cluster.traceNode(
        leader.id,
        `liveness: ${f.payload} applied on all of ${members.map((id) => `n${id}`).join(",")}; ${settled} pending writes settled`,
      );
      this.done = true;
      return;
    }
    if (this.finals.every((f) => f.outcome === "pending")) {
      this.lastProblem = `final write ${current?.payload ?? "?"} not committed (leader n${leader.id} term ${st.term})`;
    }
  }

  /** Why recovery has not finished, plus every node's state, for the violation report. */
  describeFailure(boundTicks: number): string {
    const nodes = [...this.cluster.nodes.values()].map((n) => {
      if (!n.running) return `n${n.id}:${n.state}`;
      const s = n.raft.status();
      return `n${n.id}:${s.role} t${s.term} commit ${s.commit} applied ${s.applied} last ${s.lastIndex} conf v[${s.conf.voters}] l[${s.conf.learners}]`;
    });
    return `no recovery within ${boundTicks} ticks after healing: ${this.lastProblem}; ${nodes.join("; ")}`;
  }
}
