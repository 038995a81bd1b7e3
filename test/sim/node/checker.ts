// The rules the whole-node simulator checks, after every event and at every durable
// step: one leader per term; committed entries never change (every node's applied
// entries are a prefix of one history); the stored snapshot's term is the log's term at
// its index, and its configuration the one the history's conf entries make there; applied <= committed <= last; state digests agree at equal applied
// indexes. A broken rule throws RuleBroken, which ends the run with its seed.

import type { NodeStatus } from "../../../src/node/raft-node.ts";
import { confAfter } from "../../../src/raft/confchange.ts";
import type { ConfState, Entry, NodeId, SnapshotMeta } from "../../../src/raft/types.ts";
import { RuleBroken } from "../violation.ts";

interface HistoryEntry {
  readonly term: number;
  readonly kind: Entry["kind"];
  readonly data: Uint8Array;
  readonly firstBy: NodeId;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A configuration as text, members in id order: equal for equal configurations. */
function sortedConf(conf: ConfState): string {
  const byId = (a: number, b: number) => a - b;
  return JSON.stringify({ voters: [...conf.voters].sort(byId), learners: [...conf.learners].sort(byId) });
}

export class NodeChecker {
  /** Every applied entry, by index: the one history all nodes must agree on. */
  private readonly history = new Map<number, HistoryEntry>();
  private readonly digests = new Map<number, { digest: string; by: NodeId }>();
  private readonly leaders = new Map<number, NodeId>();
  /** Highest commit seen per node incarnation (it never goes back while a process lives). */
  private readonly commits = new Map<string, number>();
  termsWithLeader = 0;
  highestApplied = 0;
  /** Every index from 1 up to here is in `history`. */
  private historyComplete = 0;

  applied(node: NodeId, entries: readonly Entry[], digest: string): void {
    for (const e of entries) {
      const known = this.history.get(e.index);
      if (known === undefined) {
        this.history.set(e.index, { term: e.term, kind: e.kind, data: e.data.slice(), firstBy: node });
        continue;
      }
      if (known.term !== e.term || known.kind !== e.kind || !sameBytes(known.data, e.data)) {
        throw new RuleBroken(
          "state machine safety",
          `n${node} applied ${e.kind} ${e.index}/${e.term} (${e.data.length} B), but n${known.firstBy} applied ${known.kind} ${e.index}/${known.term} (${known.data.length} B) there`,
        );
      }
    }
    while (this.history.has(this.historyComplete + 1)) this.historyComplete++;
    const last = entries[entries.length - 1];
    if (last !== undefined) {
      this.digest(node, last.index, digest);
      this.highestApplied = Math.max(this.highestApplied, last.index);
    }
  }

  restored(node: NodeId, meta: SnapshotMeta, digest: string): void {
    this.snapshotTerm(node, meta, "installed");
    this.digest(node, meta.index, digest);
  }

  /** A snapshot record reached a node's disk: its term must be the log's at its index. */
  snapshotRecorded(node: NodeId, meta: SnapshotMeta): void {
    this.snapshotTerm(node, meta, "recorded");
    this.snapshotConf(node, meta);
  }

  /** A snapshot's configuration is the one in force at its index: its conf entries replayed, none after. */
  private snapshotConf(node: NodeId, meta: SnapshotMeta): void {
    if (meta.index > this.historyComplete) return;
    let conf: ConfState = { voters: [], learners: [] };
    for (let index = 1; index <= meta.index; index++) {
      const entry = this.history.get(index)!;
      if (entry.kind === "conf") conf = confAfter(conf, entry.data);
    }
    const expected = sortedConf(conf);
    const actual = sortedConf(meta.conf);
    if (expected !== actual) {
      throw new RuleBroken("snapshot configuration", `n${node} recorded snapshot ${meta.index} with ${actual}, but the configuration there is ${expected}`);
    }
  }

  private snapshotTerm(node: NodeId, meta: SnapshotMeta, what: string): void {
    const known = this.history.get(meta.index);
    if (known !== undefined && known.term !== meta.term) {
      throw new RuleBroken("snapshot term", `n${node} ${what} snapshot ${meta.index}/${meta.term}, but entry ${meta.index} has term ${known.term}`);
    }
  }

  private digest(node: NodeId, index: number, digest: string): void {
    const known = this.digests.get(index);
    if (known === undefined) this.digests.set(index, { digest, by: node });
    else if (known.digest !== digest) {
      throw new RuleBroken("state digest", `n${node} has digest ${digest.slice(0, 12)} at ${index}, n${known.by} has ${known.digest.slice(0, 12)}`);
    }
  }

  /** The last time each node was seen campaigning (pre-candidate or candidate), and at which term. */
  private readonly campaigns = new Map<NodeId, { term: number; atMs: number }>();

  /** Whether a node other than `except` campaigned at `term` or later, at or after `sinceMs`. */
  campaignedSince(term: number, except: NodeId, sinceMs: number): boolean {
    for (const [node, c] of this.campaigns) if (node !== except && c.term >= term && c.atMs >= sinceMs) return true;
    return false;
  }

  status(node: NodeId, incarnation: number, st: NodeStatus, nowMs: number): void {
    if (st.role === "preCandidate" || st.role === "candidate") this.campaigns.set(node, { term: st.term, atMs: nowMs });
    // (A snapshot being installed is ahead of applied until its Ready is done.)
    if (!(st.applied <= st.commit && st.snapshotIndex <= st.commit && st.commit <= st.lastIndex)) {
      throw new RuleBroken("log positions", `n${node}: snapshot ${st.snapshotIndex}, applied ${st.applied}, commit ${st.commit}, last ${st.lastIndex} out of order`);
    }
    const key = `${node}/${incarnation}`;
    const before = this.commits.get(key) ?? 0;
    if (st.commit < before) throw new RuleBroken("commit regressed", `n${node}: commit ${st.commit} after ${before}`);
    this.commits.set(key, st.commit);
    if (st.role !== "leader") return;
    const leader = this.leaders.get(st.term);
    if (leader === undefined) {
      this.leaders.set(st.term, node);
      this.termsWithLeader++;
    } else if (leader !== node) {
      throw new RuleBroken("election safety", `n${node} and n${leader} both lead term ${st.term}`);
    }
  }

  /** Whether some node other than `except` has led a term above `term`. */
  ledAfter(term: number, except: NodeId): boolean {
    for (const [t, leader] of this.leaders) if (t > term && leader !== except) return true;
    return false;
  }

  /** The entry applied at `index`, if any node applied one. */
  entryAt(index: number): HistoryEntry | undefined {
    return this.history.get(index);
  }
}
