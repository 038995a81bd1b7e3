// The Raft safety properties, checked against everything the nodes do. The checker
// only sees what a driver sees (Readies, durable writes, applied entries, status()),
// and keeps a global history so that properties "across all time" (one leader per
// term, committed entries never change) are checked, not just the current snapshot.

import type { Entry, HardState, Message, NodeId, Ready, SnapshotMeta, Status } from "../../src/raft/types.ts";
import { describeHardState } from "./describe.ts";
import { contentKey } from "./payload.ts";
import type { SimNode } from "./sim-node.ts";
import { RuleBroken } from "./violation.ts";

interface CommittedRecord {
  readonly term: number;
  readonly key: string;
  /**
   * An upper bound on the term in which the entry was committed: the term of the node
   * that observed it committed. Leaders of higher terms must hold the entry; using an
   * upper bound means a stale observer can only make the check weaker, never wrong.
   */
  commitTermBound: number;
}

interface NodeBaseline {
  incarnation: number;
  term: number;
  commit: number;
  applied: number;
  /** Entries up to here on this node have been recorded as committed. */
  commitScanned: number;
  /** The node's term when it produced its last Ready; bounds the commit term of what that Ready applies. */
  readyTerm: number;
  /** The core's commit at its last Ready, when the driver's log view was in sync with it.
   *  (status() commit can run ahead of the view while a write is in flight.) */
  readyCommit: number;
}

export class InvariantChecker {
  private readonly leaderOfTerm = new Map<number, NodeId>();
  /** "index/term" → contents and predecessor term: the first entry ever seen with that id. */
  private readonly entryById = new Map<string, { key: string; prevTerm: number | undefined; node: NodeId }>();
  private readonly committed: (CommittedRecord | undefined)[] = [];
  private maxCommittedIndex = 0;
  /** State-machine digest after applying index i, as first reported by any node. */
  private readonly digestAt: (number | undefined)[] = [];
  /** "term/voter" → candidate that received the voter's grant. */
  private readonly voteGrants = new Map<string, NodeId>();
  private readonly baselines = new Map<NodeId, NodeBaseline>();

  get highestCommittedIndex(): number {
    return this.maxCommittedIndex;
  }

  termsWithLeader(): number {
    return this.leaderOfTerm.size;
  }

  started(node: SimNode, st: Status): void {
    const durable = node.disk.hardState;
    if (st.term < durable.term || st.commit < durable.commit) {
      throw new RuleBroken(
        "restart from durable state",
        `n${node.id} restarted at term ${st.term} commit ${st.commit}, durable ${describeHardState(durable)}`,
      );
    }
    // A brand-new bootstrapped node already holds its first conf entry, not yet written.
    const diskEmpty = durable.term === 0 && node.disk.snapshot === null && node.memLog.lastIndex() === 0;
    if (!diskEmpty && st.lastIndex !== node.memLog.lastIndex()) {
      throw new RuleBroken(
        "driver contract",
        `n${node.id} restarted with lastIndex ${st.lastIndex}, the disk holds up to ${node.memLog.lastIndex()}`,
      );
    }
    this.baselines.set(node.id, {
      incarnation: node.incarnation,
      term: st.term,
      commit: st.commit,
      applied: st.applied,
      commitScanned: st.snapshotIndex,
      readyTerm: st.term,
      readyCommit: st.commit,
    });
    this.checkStatus(node, st);
  }

  /** Run after every event that touched `node`. */
  checkStatus(node: SimNode, st: Status): void {
    // snapshotIndex may run ahead of applied while a received snapshot is still being
    // written (the core already counts it, the state machine gets it at the durable point).
    const snapshotSettled = !node.writeInFlight;
    if ((snapshotSettled && st.snapshotIndex > st.applied) || st.applied > st.commit || st.commit > st.lastIndex) {
      throw new RuleBroken(
        "status ordering",
        `n${node.id}: snapshotIndex ${st.snapshotIndex} <= applied ${st.applied} <= commit ${st.commit} <= lastIndex ${st.lastIndex} does not hold`,
      );
    }
    if (st.role === "leader") this.noteLeader(node, st.term);
    const b = this.baselines.get(node.id);
    if (b === undefined || b.incarnation !== node.incarnation) return;
    if (st.term < b.term || st.commit < b.commit || st.applied < b.applied) {
      throw new RuleBroken(
        "monotonic node state",
        `n${node.id}: term ${b.term}→${st.term}, commit ${b.commit}→${st.commit}, applied ${b.applied}→${st.applied}`,
      );
    }
    b.term = st.term;
    b.commit = st.commit;
    b.applied = st.applied;
  }

  /** Election safety over the whole history: a term, once led, is led by that node only. */
  private noteLeader(node: SimNode, term: number): void {
    const previous = this.leaderOfTerm.get(term);
    if (previous === undefined) this.leaderOfTerm.set(term, node.id);
    else if (previous !== node.id) {
      throw new RuleBroken("election safety", `term ${term} has two leaders: n${previous} and n${node.id}`);
    }
  }

  /** Called right after ready(), once the driver's log view has taken the Ready's entries. */
  readied(node: SimNode, rd: Ready, st: Status, overwritten: readonly Entry[]): void {
    const log = node.memLog;
    if (st.lastIndex !== log.lastIndex()) {
      throw new RuleBroken(
        "driver contract",
        `n${node.id}: after ready() the core's lastIndex is ${st.lastIndex} but its Readies add up to ${log.lastIndex()}`,
      );
    }
    const b = this.baselineOf(node);
    b.readyTerm = st.term;
    for (const old of overwritten) {
      if (old.index <= b.readyCommit) {
        throw new RuleBroken(
          "committed entries never change",
          `n${node.id} rewrote entry ${old.index}/${old.term}, which its previous Ready had committed (commit ${b.readyCommit})`,
        );
      }
    }
    b.readyCommit = st.commit;

    this.checkLogMatching(node, rd.entries);

    // Everything up to the core's commit index is committed; record it globally.
    const upTo = Math.min(st.commit, log.lastIndex());
    for (let i = Math.max(b.commitScanned, log.snapshotIndex) + 1; i <= upTo; i++) {
      const e = log.entryAt(i) as Entry;
      this.recordCommitted(e, st.term, node, "committed entries never change");
    }
    if (upTo > b.commitScanned) b.commitScanned = upTo;

    if (st.role === "leader") {
      this.noteLeader(node, st.term);
      this.checkLeaderCompleteness(node, st.term);
    }
  }

  /**
   * Log matching, checked incrementally: an entry is identified by (index, term). If
   * every such id always carries the same contents and the same predecessor term,
   * then by induction two logs that agree on an id agree on everything before it.
   */
  private checkLogMatching(node: SimNode, entries: readonly Entry[]): void {
    const log = node.memLog;
    for (const e of entries) {
      const id = `${e.index}/${e.term}`;
      const key = contentKey(e);
      const prevTerm = log.termAt(e.index - 1);
      const seen = this.entryById.get(id);
      if (seen === undefined) {
        this.entryById.set(id, { key, prevTerm, node: node.id });
        continue;
      }
      if (seen.key !== key) {
        throw new RuleBroken(
          "log matching",
          `entry ${id} has different contents on n${seen.node} (${seen.key}) and n${node.id} (${key})`,
        );
      }
      if (seen.prevTerm === undefined) seen.prevTerm = prevTerm;
      else if (prevTerm !== undefined && prevTerm !== seen.prevTerm) {
        throw new RuleBroken(
          "log matching",
          `entry ${id} follows term ${seen.prevTerm} on n${seen.node} but term ${prevTerm} on n${node.id}`,
        );
      }
    }
  }

  /** A leader of term T holds every entry known committed in a term below T. */
  private checkLeaderCompleteness(node: SimNode, term: number): void {
    const log = node.memLog;
    for (let i = log.snapshotIndex; i <= this.maxCommittedIndex; i++) {
      const c = this.committed[i];
      if (c === undefined || c.commitTermBound >= term) continue;
      let heldTerm: number | undefined;
      let same: boolean;
      if (i === log.snapshotIndex) {
        heldTerm = log.snapshotTerm;
        same = heldTerm === c.term;
      } else {
        const held = log.entryAt(i);
        heldTerm = held?.term;
        same = held !== undefined && held.term === c.term && contentKey(held) === c.key;
      }
      if (!same) {
        throw new RuleBroken(
          "leader completeness",
          `n${node.id} leads term ${term} but holds ${heldTerm === undefined ? "nothing" : `term ${heldTerm}`} at index ${i}, ` +
            `where ${c.term}:${c.key} was committed by term ${c.commitTermBound}`,
        );
      }
    }
  }

  private recordCommitted(e: Entry, observerTerm: number, node: SimNode, rule: string): void {
    const key = contentKey(e);
    const c = this.committed[e.index];
    if (c === undefined) {
      this.committed[e.index] = { term: e.term, key, commitTermBound: observerTerm };
      if (e.index > this.maxCommittedIndex) this.maxCommittedIndex = e.index;
      return;
    }
    if (c.term !== e.term || c.key !== key) {
      throw new RuleBroken(
        rule,
        `index ${e.index}: n${node.id} has ${e.term}:${key} committed, but ${c.term}:${c.key} was committed there before`,
      );
    }
    if (observerTerm < c.commitTermBound) c.commitTermBound = observerTerm;
  }

  madeDurable(node: SimNode, before: HardState, after: HardState): void {
    if (after.term < before.term || after.commit < before.commit) {
      throw new RuleBroken(
        "durable state monotonic",
        `n${node.id} durable hard state went ${describeHardState(before)} → ${describeHardState(after)}`,
      );
    }
    if (after.term === before.term && before.vote !== 0 && after.vote !== before.vote) {
      throw new RuleBroken(
        "one vote per term",
        `n${node.id} durably changed its term ${after.term} vote from n${before.vote} to n${after.vote}`,
      );
    }
  }

  sent(node: SimNode, m: Message): void {
    if (m.type !== "voteResp" || m.reject) return;
    const key = `${m.term}/${m.from}`;
    const previous = this.voteGrants.get(key);
    if (previous === undefined) this.voteGrants.set(key, m.to);
    else if (previous !== m.to) {
      throw new RuleBroken(
        "one vote per term",
        `n${node.id} granted its term ${m.term} vote to n${previous} and then to n${m.to}`,
      );
    }
  }

  applied(node: SimNode, e: Entry): void {
    const b = this.baselineOf(node);
    this.recordCommitted(e, b.readyTerm, node, "state machine safety");
    this.checkDigest(node, e.index, "applying");
  }

  restoredSnapshot(node: SimNode, meta: SnapshotMeta): void {
    const c = this.committed[meta.index];
    if (c !== undefined && c.term !== meta.term) {
      throw new RuleBroken(
        "state machine safety",
        `n${node.id} installed snapshot ${meta.index}/${meta.term}, but ${c.term}:${c.key} is committed at ${meta.index}`,
      );
    }
    this.checkDigest(node, meta.index, "restoring snapshot");
  }

  private checkDigest(node: SimNode, index: number, how: string): void {
    const digest = node.stateMachine.digest;
    const known = this.digestAt[index];
    if (known === undefined) this.digestAt[index] = digest;
    else if (known !== digest) {
      throw new RuleBroken(
        "state machine safety",
        `n${node.id} reached a different state at index ${index} by ${how} (digest ${digest} vs ${known})`,
      );
    }
  }

  private baselineOf(node: SimNode): NodeBaseline {
    const b = this.baselines.get(node.id);
    if (b === undefined) throw new Error(`checker: n${node.id} reported before it started`);
    return b;
  }
}
