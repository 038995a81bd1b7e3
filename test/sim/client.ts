// The clients' view of the cluster: unique writes proposed to nodes, and
// ReadIndex reads. A write is *acknowledged* when the node that accepted it applies
// it (that is when a real server would answer the client). Linearizability of reads
// is checked against acknowledgements: a read issued after a write was acknowledged
// must get a read index covering it and must then observe it.

import { RaftError } from "../../src/raft/raft.ts";
import type { Entry, NodeId, ReadState } from "../../src/raft/types.ts";
import { decodePayload, encodePayload, isClientWrite } from "./payload.ts";
import type { SimNode } from "./sim-node.ts";
import { RuleBroken } from "./violation.ts";

export type WriteOutcome = "pending" | "committed" | "acknowledged" | "lost";

export interface Write {
  readonly payload: string;
  readonly proposer: NodeId;
  readonly incarnation: number;
  readonly index: number;
  readonly term: number;
  outcome: WriteOutcome;
}

interface Read {
  readonly context: number;
  readonly node: NodeId;
  /** Highest index of any write acknowledged before the read was issued. */
  readonly requiredIndex: number;
  /** The first `requiredCount` acknowledged writes must be visible to this read. */
  readonly requiredCount: number;
  served: boolean;
}

export interface ClientStats {
  proposed: number;
  rejected: number;
  acknowledged: number;
  committed: number;
  lost: number;
  readsIssued: number;
  readsServed: number;
}

export class ClientModel {
  private nextWriteId = 1;
  private nextContext = 1;
  private readonly writes = new Map<string, Write>();
  private readonly writesAtIndex = new Map<number, Write[]>();
  /** Acknowledged writes, in acknowledgement order. */
  private readonly acknowledged: Write[] = [];
  private maxAcknowledgedIndex = 0;
  private readonly reads = new Map<number, Read>();
  /** Reads whose ReadState arrived before the node had applied up to the read index. */
  private readonly parked = new Map<NodeId, Array<{ read: Read; index: number }>>();
  readonly stats: ClientStats = {
    proposed: 0,
    rejected: 0,
    acknowledged: 0,
    committed: 0,
    lost: 0,
    readsIssued: 0,
    readsServed: 0,
  };

  /** Proposes a fresh unique payload at `node`; returns the write or the core's refusal. */
  propose(node: SimNode, prefix = "w"): Write | RaftError {
    const payload = `${prefix}${this.nextWriteId++}`;
    const result = node.raft.propose(encodePayload(payload));
    if (result instanceof RaftError) {
      this.stats.rejected++;
      return result;
    }
    const w: Write = {
      payload,
      proposer: node.id,
      incarnation: node.incarnation,
      index: result.index,
      term: result.term,
      outcome: "pending",
    };
    this.writes.set(payload, w);
    const atIndex = this.writesAtIndex.get(w.index);
    if (atIndex === undefined) this.writesAtIndex.set(w.index, [w]);
    else atIndex.push(w);
    this.stats.proposed++;
    return w;
  }

  read(node: SimNode): number | RaftError {
    const context = this.nextContext++;
    const err = node.raft.readIndex(context);
    if (err !== null) return err;
    this.reads.set(context, {
      context,
      node: node.id,
      requiredIndex: this.maxAcknowledgedIndex,
      requiredCount: this.acknowledged.length,
      served: false,
    });
    this.stats.readsIssued++;
    return context;
  }

  applied(node: SimNode, e: Entry): void {
    const atIndex = this.writesAtIndex.get(e.index);
    if (atIndex !== undefined) {
      // The first node to apply this index settles every write proposed at it.
      this.writesAtIndex.delete(e.index);
      const winner = isClientWrite(e) ? decodePayload(e.data) : null;
      for (const w of atIndex) {
        if (w.payload === winner) {
          w.outcome = "committed";
          this.stats.committed++;
        } else {
          w.outcome = "lost";
          this.stats.lost++;
        }
      }
    }
    if (!isClientWrite(e)) return;
    const w = this.writes.get(decodePayload(e.data));
    if (w === undefined) return;
    if (w.index !== e.index) {
      throw new RuleBroken("client write", `write ${w.payload} proposed at index ${w.index} was applied at ${e.index}`);
    }
    if (w.outcome === "lost") {
      throw new RuleBroken("client write", `write ${w.payload} applied at ${e.index} after another entry was applied there`);
    }
    if (w.outcome !== "acknowledged" && node.id === w.proposer && node.incarnation === w.incarnation) {
      w.outcome = "acknowledged";
      this.acknowledged.push(w);
      if (w.index > this.maxAcknowledgedIndex) this.maxAcknowledgedIndex = w.index;
      this.stats.acknowledged++;
    }
  }

  readState(node: SimNode, rs: ReadState): void {
    const read = this.reads.get(rs.context);
    if (read === undefined) {
      throw new RuleBroken("linearizable read", `n${node.id} got a ReadState for unknown context ${rs.context}`);
    }
    if (rs.index < read.requiredIndex) {
      throw new RuleBroken(
        "linearizable read",
        `read ${rs.context} (issued at n${read.node}) got read index ${rs.index}, ` +
          `below index ${read.requiredIndex} of a write acknowledged before it was issued`,
      );
    }
    if (node.stateMachine.appliedIndex >= rs.index) this.serve(node, read, rs.index);
    else {
      const waiting = this.parked.get(node.id);
      if (waiting === undefined) this.parked.set(node.id, [{ read, index: rs.index }]);
      else waiting.push({ read, index: rs.index });
    }
  }

  /** After each advance: answer parked reads whose index the node has now applied. */
  advanced(node: SimNode): void {
    const waiting = this.parked.get(node.id);
    if (waiting === undefined || waiting.length === 0) return;
    const applied = node.stateMachine.appliedIndex;
    const still = waiting.filter(({ read, index }) => {
      if (index > applied) return true;
      this.serve(node, read, index);
      return false;
    });
    this.parked.set(node.id, still);
  }

  /** A crashed node's pending reads die with it (the client would time out and retry). */
  crashed(node: SimNode): void {
    this.parked.delete(node.id);
  }

  private serve(node: SimNode, read: Read, index: number): void {
    const sm = node.stateMachine;
    for (let k = 0; k < read.requiredCount; k++) {
      const w = this.acknowledged[k] as Write;
      if (!sm.has(w.payload)) {
        throw new RuleBroken(
          "linearizable read",
          `read ${read.context} served by n${node.id} at read index ${index} (applied ${sm.appliedIndex}) ` +
            `misses write ${w.payload}@${w.index}, acknowledged before the read was issued`,
        );
      }
    }
    if (!read.served) {
      read.served = true;
      this.stats.readsServed++;
    }
  }

  /**
   * After recovery, decide every write still pending: it is in the recovered leader's
   * state machine (committed, though no node was seen applying it one by one — it came
   * in a snapshot) or it can no longer commit (lost). Returns how many were settled.
   */
  settlePending(leader: SimNode): number {
    let settled = 0;
    for (const w of this.writes.values()) {
      if (w.outcome !== "pending") continue;
      settled++;
      if (leader.stateMachine.has(w.payload)) {
        w.outcome = "committed";
        this.stats.committed++;
      } else {
        w.outcome = "lost";
        this.stats.lost++;
      }
    }
    return settled;
  }

  /** Acknowledged writes missing from `node`'s state machine (must be none at the end). */
  missingAcknowledged(node: SimNode): Write[] {
    return this.acknowledged.filter((w) => !node.stateMachine.has(w.payload));
  }
}
