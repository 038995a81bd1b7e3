// A tiny deterministic in-memory cluster for the Raft core's unit tests.
//
// Every node is driven exactly as the Ready contract in types.ts says: persist
// (snapshot, entries, hard state) into plain arrays, send `messages` and
// `messagesAfterPersist`, apply committed entries, call advance(). Messages sit
// in one FIFO queue until `stabilize()` delivers them, so a test controls
// exactly what is delivered, dropped, held or rewritten. Crash and restart
// rebuild a node from what it durably wrote, like a real process would.
//
// The driver also checks, on every Ready, invariants whose violation is always
// a core bug (they throw InvariantError): term/vote/commit monotonicity, no
// gaps or truncation of committed entries, in-order apply of durable entries,
// at most one leader per term, one entry per applied index across the cluster,
// and that acknowledgements only leave after persistence.

import { Raft, emptyRestoredState, type RaftConfig } from "../raft.ts";
import { blankMessage } from "../message.ts";
import { SeededRng } from "../random.ts";
import type {
  ConfState,
  Entry,
  EntryKind,
  HardState,
  Message,
  NodeId,
  ReadState,
  Ready,
  RestoredState,
  SnapshotMeta,
  Status,
} from "../types.ts";

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();
export const enc = (s: string): Uint8Array => textEncoder.encode(s);
export const dec = (b: Uint8Array): string => textDecoder.decode(b);

export class InvariantError extends Error {
  override name = "InvariantError";
}

/** A full Message from the fields a test cares about. */
export function msg(p: Partial<Message> & Pick<Message, "type" | "from" | "to" | "term">): Message {
  return { ...blankMessage(p.type, p.from, p.to, p.term), ...p };
}

export function entry(index: number, term: number, data = `e${index}t${term}`, kind: EntryKind = "normal"): Entry {
  return { index, term, kind, data: enc(data) };
}

/** Normal entries first, first+1, ... with the given terms. */
export function ents(first: number, terms: readonly number[]): Entry[] {
  return terms.map((t, i) => entry(first + i, t));
}

/**
 * The durable state of a node whose log starts after a snapshot at index 1
 * (term 1) that holds the configuration; `entries` follow from index 2. This
 * lets a test build arbitrary logs without encoding conf entries.
 */
export function restoredState(o: {
  voters: readonly NodeId[];
  learners?: readonly NodeId[];
  term: number;
  vote?: NodeId;
  commit?: number;
  entries?: readonly Entry[];
  applied?: number;
}): RestoredState {
  const snapshot: SnapshotMeta = {
    index: 1,
    term: 1,
    conf: { voters: [...o.voters], learners: [...(o.learners ?? [])] },
  };
  const commit = o.commit ?? 1;
  return {
    hardState: { term: o.term, vote: o.vote ?? 0, commit },
    snapshot,
    entries: [...(o.entries ?? [])],
    applied: o.applied ?? 1,
  };
}

/** Take the pending Ready and advance (for single-node tests without a network). */
export function takeReady(r: Raft): Ready {
  const rd = r.ready();
  r.advance();
  return rd;
}

/** Drain every pending Ready of a lone node; returns them all. */
export function drainReady(r: Raft): Ready[] {
  const out: Ready[] = [];
  for (let i = 0; r.hasReady(); i++) {
    if (i > 1000) throw new InvariantError("hasReady() never became false");
    out.push(takeReady(r));
  }
  return out;
}

export function allMessages(rds: readonly Ready[]): Message[] {
  return rds.flatMap((rd) => [...rd.messages, ...rd.messagesAfterPersist]);
}

export type NodeConfig = Omit<RaftConfig, "id" | "rng">;

interface Stored {
  hardState: HardState;
  snapshot: SnapshotMeta | null;
  /** State-machine contents at `snapshot.index`. */
  snapshotState: string[];
  /** Entries after the snapshot, contiguous. */
  entries: Entry[];
}

export interface SimNode {
  readonly id: NodeId;
  raft: Raft | null;
  config: NodeConfig;
  stored: Stored;
  /** Every snapshot this node's driver holds, by index (bytes travel beside "snap"). */
  snapshots: Map<number, string[]>;
  /** Snapshot bytes received beside "snap" messages, waiting for ready.snapshot. */
  staged: Map<number, string[]>;
  /** The in-memory state machine: data of applied non-empty normal entries. */
  sm: string[];
  appliedIndex: number;
  /** Entries applied since the last (re)start, in order. */
  applied: Entry[];
  readStates: ReadState[];
  readies: Ready[];
  /** A Ready taken but not yet persisted/advanced (pipelined mode only). */
  pending: Ready | null;
  restarts: number;
}

export interface ClusterOptions {
  voters: readonly NodeId[];
  learners?: readonly NodeId[];
  /** Nodes to create without bootstrap (empty state), e.g. to be added later. */
  extra?: readonly NodeId[];
  config?: Partial<NodeConfig>;
  seed?: number;
}

export const DEFAULT_CONFIG: NodeConfig = {
  electionTimeoutTicks: 10,
  heartbeatIntervalTicks: 1,
};

export class Network {
  readonly nodes = new Map<NodeId, SimNode>();
  /** Messages in flight, FIFO. */
  queue: Message[] = [];
  /** Every message any node sent (before filtering), in order. */
  readonly sent: Message[] = [];
  /** Every message that reached a node's step(). */
  readonly delivered: Message[] = [];
  readonly isolated = new Set<NodeId>();
  private readonly cuts = new Set<string>();
  /**
   * Pipelined drivers: in stabilize(), a node's Ready is taken in one round and made
   * durable in the next, so messages are stepped between ready() and advance().
   */
  pipelined = false;
  /** Extra drop rule; return true to drop. */
  drop: ((m: Message) => boolean) | null = null;
  /** Rewrite a message just before delivery; return null to drop it. */
  mutate: ((m: Message) => Message | null) | null = null;
  /** Across the whole run: index -> the entry applied there (state machine safety). */
  readonly appliedAt = new Map<number, { term: number; data: string; kind: EntryKind }>();
  /** Across the whole run: term -> the node that led it (election safety). */
  readonly leaderOf = new Map<number, NodeId>();
  readonly seed: number;

  constructor(seed = 1) {
    this.seed = seed;
  }

  /** A bootstrapped cluster: every member starts with entry 1 = the ConfState. */
  static cluster(o: ClusterOptions): Network {
    const net = new Network(o.seed ?? 1);
    const conf: ConfState = { voters: [...o.voters], learners: [...(o.learners ?? [])] };
    for (const id of [...o.voters, ...(o.learners ?? [])]) {
      net.add(id, emptyRestoredState(), { ...DEFAULT_CONFIG, ...o.config, bootstrap: conf });
    }
    for (const id of o.extra ?? []) net.add(id, emptyRestoredState(), { ...DEFAULT_CONFIG, ...o.config });
    net.stabilize();
    return net;
  }

  /** A cluster whose nodes start from hand-built durable states (see restoredState()). */
  static fromStates(states: Record<number, RestoredState>, config: Partial<NodeConfig> = {}, seed = 1): Network {
    const net = new Network(seed);
    for (const [k, st] of Object.entries(states)) net.add(Number(k), st, { ...DEFAULT_CONFIG, ...config });
    net.stabilize();
    return net;
  }

  add(id: NodeId, restored: RestoredState, config: NodeConfig): SimNode {
    const snapState: string[] = [];
    const n: SimNode = {
      id,
      raft: null,
      config,
      stored: {
        hardState: { ...restored.hardState },
        snapshot: restored.snapshot,
        snapshotState: snapState,
        entries: [...restored.entries],
      },
      snapshots: new Map(),
      staged: new Map(),
      sm: [],
      appliedIndex: restored.applied,
      applied: [],
      readStates: [],
      readies: [],
      pending: null,
      restarts: 0,
    };
    if (restored.snapshot) n.snapshots.set(restored.snapshot.index, snapState);
    n.raft = new Raft({ ...config, id, rng: new SeededRng(this.seed * 1000 + id) }, restored);
    this.nodes.set(id, n);
    return n;
  }

  node(id: NodeId): SimNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  raft(id: NodeId): Raft {
    const r = this.node(id).raft;
    if (!r) throw new Error(`node ${id} is down`);
    return r;
  }

  status(id: NodeId): Status {
    return this.raft(id).status();
  }

  ids(): NodeId[] {
    return [...this.nodes.keys()];
  }

  live(): SimNode[] {
    return [...this.nodes.values()].filter((n) => n.raft !== null);
  }

  /** The live leader with the highest term, or 0. */
  leader(): NodeId {
    let best = 0;
    let bestTerm = -1;
    for (const n of this.live()) {
      const s = n.raft!.status();
      if (s.role === "leader" && s.term > bestTerm) {
        best = n.id;
        bestTerm = s.term;
      }
    }
    return best;
  }

  // ---- faults -------------------------------------------------------------

  isolate(id: NodeId): void {
    this.isolated.add(id);
  }
  cut(a: NodeId, b: NodeId): void {
    this.cuts.add(`${a}-${b}`);
    this.cuts.add(`${b}-${a}`);
  }
  /** Split the cluster: messages flow only inside each group. */
  partition(...groups: readonly (readonly NodeId[])[]): void {
    for (let i = 0; i < groups.length; i++)
      for (let j = i + 1; j < groups.length; j++)
        for (const a of groups[i]!) for (const b of groups[j]!) this.cut(a, b);
  }
  heal(): void {
    this.isolated.clear();
    this.cuts.clear();
    this.drop = null;
    this.mutate = null;
  }

  dropped(m: Message): boolean {
    if (m.from === m.to) return false;
    if (this.isolated.has(m.from) || this.isolated.has(m.to)) return true;
    if (this.cuts.has(`${m.from}-${m.to}`)) return true;
    return this.drop !== null && this.drop(m);
  }

  /** Lose the process: anything not yet persisted is gone; its in-memory state machine too. */
  crash(id: NodeId): void {
    const n = this.node(id);
    n.raft = null;
    n.pending = null;
    n.staged.clear();
  }

  /** Take the pending Ready, let its `messages` go out, and crash before the write is durable. */
  crashBeforePersist(id: NodeId): Ready | null {
    const r = this.raft(id);
    let rd: Ready | null = this.node(id).pending;
    if (!rd && r.hasReady()) {
      rd = r.ready();
      for (const m of rd.messages) this.send(m);
    }
    this.crash(id);
    return rd;
  }

  /** Rebuild the node from its durable state (in-memory state machine restarts from the snapshot). */
  restart(id: NodeId): void {
    const n = this.node(id);
    if (n.raft) throw new Error(`node ${id} is up`);
    n.restarts++;
    const st = n.stored;
    const applied = st.snapshot?.index ?? 0;
    n.sm = [...st.snapshotState];
    n.appliedIndex = applied;
    n.applied = [];
    n.readStates = [];
    const restored: RestoredState = {
      hardState: { ...st.hardState },
      snapshot: st.snapshot,
      entries: [...st.entries],
      applied,
    };
    n.raft = new Raft(
      { ...n.config, id, rng: new SeededRng(this.seed * 1000 + id + 7919 * n.restarts) },
      restored,
    );
  }

  // ---- driving ------------------------------------------------------------

  send(m: Message): void {
    this.sent.push(m);
    this.queue.push(m);
  }

  /** Run one Ready of node `id` through the driver contract. Returns false if none. */
  processReady(id: NodeId): boolean {
    const n = this.node(id);
    if (n.pending) this.finishReady(n);
    if (!this.beginReady(n)) return false;
    this.finishReady(n);
    return true;
  }

  /** ready(): the driver takes the Ready and sends `messages` at once. */
  private beginReady(n: SimNode): boolean {
    const r = n.raft;
    if (!r || n.pending || !r.hasReady()) return false;
    const rd = r.ready();
    n.readies.push(rd);
    for (const m of rd.messages) {
      if (m.type === "voteResp" && !m.reject) throw new InvariantError(`node ${n.id}: granted vote sent before persistence`);
      if (m.type === "appResp" && !m.reject && m.to !== m.from)
        throw new InvariantError(`node ${n.id}: append ack sent before persistence`);
    }
    // the leader may send `messages` before its own write is durable
    for (const m of rd.messages) this.send(m);
    n.pending = rd;
    return true;
  }

  /** The write is durable: send `messagesAfterPersist`, apply, advance(). */
  private finishReady(n: SimNode): void {
    const rd = n.pending;
    const r = n.raft;
    if (!rd || !r) return;
    n.pending = null;
    this.persist(n, rd);
    for (const m of rd.messagesAfterPersist) this.send(m);
    this.apply(n, rd);
    r.advance();
    this.checkLeader(n);
  }

  private persist(n: SimNode, rd: Ready): void {
    const st = n.stored;
    if (rd.snapshot) {
      const meta = rd.snapshot;
      const bytes = n.staged.get(meta.index);
      if (!bytes) throw new InvariantError(`node ${n.id}: ready.snapshot ${meta.index} without a received snap`);
      if (meta.index < n.appliedIndex)
        throw new InvariantError(`node ${n.id}: snapshot ${meta.index} would roll back applied ${n.appliedIndex}`);
      if (meta.index < st.hardState.commit)
        throw new InvariantError(`node ${n.id}: snapshot ${meta.index} below persisted commit ${st.hardState.commit}`);
      const at = st.entries.find((e) => e.index === meta.index);
      st.entries = at && at.term === meta.term ? st.entries.filter((e) => e.index > meta.index) : [];
      st.snapshot = meta;
      st.snapshotState = [...bytes];
      n.snapshots.set(meta.index, st.snapshotState);
      n.sm = [...bytes];
      n.appliedIndex = meta.index;
    }
    if (rd.entries.length > 0) {
      const first = rd.entries[0]!.index;
      for (let i = 1; i < rd.entries.length; i++) {
        if (rd.entries[i]!.index !== first + i) throw new InvariantError(`node ${n.id}: ready.entries not contiguous`);
      }
      const snapIndex = st.snapshot?.index ?? 0;
      const last = st.entries.length > 0 ? st.entries[st.entries.length - 1]!.index : snapIndex;
      if (first > last + 1) throw new InvariantError(`node ${n.id}: ready.entries start at ${first}, log ends at ${last}`);
      if (first <= snapIndex) throw new InvariantError(`node ${n.id}: ready.entries start at ${first} inside snapshot ${snapIndex}`);
      for (const e of rd.entries) {
        const old = st.entries.find((x) => x.index === e.index);
        if (old && e.index <= st.hardState.commit && old.term !== e.term)
          throw new InvariantError(`node ${n.id}: overwrote committed entry ${e.index} (term ${old.term} -> ${e.term})`);
      }
      st.entries = st.entries.filter((e) => e.index < first).concat(rd.entries);
    }
    if (rd.hardState) {
      const hs = rd.hardState;
      const old = st.hardState;
      if (hs.term < old.term) throw new InvariantError(`node ${n.id}: term went back ${old.term} -> ${hs.term}`);
      if (hs.term === old.term && old.vote !== 0 && hs.vote !== old.vote)
        throw new InvariantError(`node ${n.id}: changed its vote in term ${hs.term}: ${old.vote} -> ${hs.vote}`);
      if (hs.commit < old.commit) throw new InvariantError(`node ${n.id}: commit went back ${old.commit} -> ${hs.commit}`);
      const snapIndex = st.snapshot?.index ?? 0;
      const last = st.entries.length > 0 ? st.entries[st.entries.length - 1]!.index : snapIndex;
      if (hs.commit > last) throw new InvariantError(`node ${n.id}: commit ${hs.commit} beyond durable log ${last}`);
      st.hardState = { ...hs };
    }
  }

  private apply(n: SimNode, rd: Ready): void {
    for (const e of rd.committedEntries) {
      if (e.index !== n.appliedIndex + 1)
        throw new InvariantError(`node ${n.id}: applied ${e.index} after ${n.appliedIndex}`);
      const durable = n.stored.entries.find((x) => x.index === e.index);
      if (!durable || durable.term !== e.term)
        throw new InvariantError(`node ${n.id}: applied entry ${e.index} that is not durable`);
      if (e.index > n.stored.hardState.commit)
        throw new InvariantError(`node ${n.id}: applied ${e.index} beyond durable commit ${n.stored.hardState.commit}`);
      const data = dec(e.data);
      const seen = this.appliedAt.get(e.index);
      if (seen && (seen.term !== e.term || seen.data !== data || seen.kind !== e.kind)) {
        throw new InvariantError(
          `state machine safety: node ${n.id} applied (${e.index}, t${e.term}, ${data}) but another node applied (${e.index}, t${seen.term}, ${seen.data})`,
        );
      }
      if (!seen) this.appliedAt.set(e.index, { term: e.term, data, kind: e.kind });
      n.appliedIndex = e.index;
      n.applied.push(e);
      if (e.kind === "normal" && e.data.length > 0) n.sm.push(data);
    }
    n.readStates.push(...rd.readStates);
  }

  private checkLeader(n: SimNode): void {
    const s = n.raft!.status();
    if (s.role !== "leader") return;
    const prev = this.leaderOf.get(s.term);
    if (prev !== undefined && prev !== n.id)
      throw new InvariantError(`election safety: nodes ${prev} and ${n.id} both led term ${s.term}`);
    this.leaderOf.set(s.term, n.id);
  }

  /** Process every pending Ready of every live node (no delivery). */
  processAll(): void {
    for (const n of this.live()) {
      for (let i = 0; this.processReady(n.id); i++) {
        if (i > 1000) throw new InvariantError(`node ${n.id}: hasReady() never became false`);
      }
    }
  }

  /** Step one message into its destination (honouring drops, mutations and snapshot bytes). */
  deliver(m0: Message): boolean {
    if (this.dropped(m0)) return false;
    const m = this.mutate ? this.mutate(m0) : m0;
    if (!m) return false;
    const to = this.nodes.get(m.to);
    if (!to || !to.raft) return false;
    if (m.type === "snap" && m.snapshot) {
      const from = this.node(m.from);
      const bytes = from.snapshots.get(m.snapshot.index);
      if (!bytes) throw new InvariantError(`node ${m.from} sent snapshot ${m.snapshot.index} it does not hold`);
      to.staged.set(m.snapshot.index, [...bytes]);
    }
    this.delivered.push(m);
    to.raft.step(m);
    return true;
  }

  /** Deliver (one pass) the queued messages matching `pred`; the others stay queued. */
  deliverWhere(pred: (m: Message) => boolean): number {
    const batch = this.queue;
    this.queue = [];
    let count = 0;
    const keep: Message[] = [];
    for (const m of batch) {
      if (pred(m)) {
        if (this.deliver(m)) count++;
      } else keep.push(m);
    }
    this.queue = keep.concat(this.queue);
    return count;
  }

  /** Remove and return the queued messages matching `pred`. */
  take(pred: (m: Message) => boolean): Message[] {
    const out = this.queue.filter(pred);
    this.queue = this.queue.filter((m) => !pred(m));
    return out;
  }

  /** Process readies and deliver messages until nothing is left to do. */
  stabilize(maxRounds = 10_000): void {
    for (let round = 0; ; round++) {
      if (round > maxRounds) throw new InvariantError("network did not stabilize");
      if (this.pipelined) {
        let busy = false;
        for (const n of this.live()) {
          if (n.pending) {
            this.finishReady(n);
            busy = true;
          }
          if (this.beginReady(n)) busy = true;
        }
        if (!busy && this.queue.length === 0) return;
      } else {
        this.processAll();
        if (this.queue.length === 0) return;
      }
      const batch = this.queue;
      this.queue = [];
      for (const m of batch) this.deliver(m);
    }
  }

  tick(id: NodeId, times = 1): void {
    for (let i = 0; i < times; i++) {
      this.raft(id).tick();
      this.stabilize();
    }
  }

  tickAll(times = 1): void {
    for (let i = 0; i < times; i++) {
      for (const n of this.live()) n.raft!.tick();
      this.stabilize();
    }
  }

  /** campaign() on `id` and stabilize. */
  campaign(id: NodeId): void {
    this.raft(id).campaign();
    this.stabilize();
  }

  /** Elect `id` (campaign + stabilize) and check that it won. */
  elect(id: NodeId): void {
    this.campaign(id);
    const s = this.status(id);
    if (s.role !== "leader") throw new Error(`node ${id} did not win (role ${s.role}, term ${s.term})`);
  }

  /** Propose and stabilize; throws if refused. Returns the entry's index. */
  propose(id: NodeId, data: string): number {
    const res = this.raft(id).propose(enc(data));
    if (res instanceof Error) throw res;
    this.stabilize();
    return res.index;
  }

  /** Snapshot the state machine of `id` at its applied index and compact its log. */
  compact(id: NodeId): SnapshotMeta {
    const n = this.node(id);
    const r = this.raft(id);
    const index = n.appliedIndex;
    const st = n.stored;
    let term: number;
    if (st.snapshot && st.snapshot.index === index) term = st.snapshot.term;
    else {
      const e = st.entries.find((x) => x.index === index);
      if (!e) throw new Error(`node ${id}: no durable entry at applied ${index}`);
      term = e.term;
    }
    const conf = r.status().conf;
    const meta: SnapshotMeta = { index, term, conf: { voters: [...conf.voters], learners: [...conf.learners] } };
    r.compact(meta);
    st.snapshot = meta;
    st.snapshotState = [...n.sm];
    n.snapshots.set(index, st.snapshotState);
    st.entries = st.entries.filter((e) => e.index > index);
    return meta;
  }

  /** The durable log of `id` (after its snapshot). */
  log(id: NodeId): Entry[] {
    return this.node(id).stored.entries;
  }

  /** (index, term) pairs of the durable log, for compact comparisons. */
  logTerms(id: NodeId): string[] {
    return this.log(id).map((e) => `${e.index}:${e.term}`);
  }
}
