// Notices when a node has been removed from the cluster, so the simulator can stop
// it. A node applies configurations in log order, so if a member of the config it
// applied before is missing from the config it applies now, that member's removal
// is committed. (Sound only because node ids are never reused.)

import type { ConfState, NodeId, Status } from "../../src/raft/types.ts";
import type { SimNode } from "./sim-node.ts";

export class MembershipTracker {
  private readonly appliedConf = new Map<NodeId, ConfState>();

  constructor(private readonly onRemoved: (removed: NodeId, seenBy: NodeId) => void) {}

  started(node: SimNode, st: Status): void {
    this.appliedConf.set(node.id, st.conf);
  }

  advanced(node: SimNode, st: Status): void {
    const before = this.appliedConf.get(node.id);
    this.appliedConf.set(node.id, st.conf);
    if (before === undefined || sameConf(before, st.conf)) return;
    for (const id of [...before.voters, ...before.learners]) {
      if (!st.conf.voters.includes(id) && !st.conf.learners.includes(id)) this.onRemoved(id, node.id);
    }
  }
}

function sameConf(a: ConfState, b: ConfState): boolean {
  return sameIds(a.voters, b.voters) && sameIds(a.learners, b.learners);
}

function sameIds(a: readonly NodeId[], b: readonly NodeId[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
