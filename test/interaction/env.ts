// The interaction environment: a handful of Raft nodes, their in-memory durable
// storage, their (volatile) state machines and a network the script drives by hand.
// Every command returns the lines it prints; see README.md for the command list.
//
// Besides printing what happens, the environment checks the driver contract and a
// few Raft safety properties as it goes; a violation prints a line starting with
// "!!" so that it shows up in the expected output (and must be explained there or
// reported as a core bug, never recorded silently).

import { MESSAGE_TYPES } from "../../src/raft/message.ts";
import { decodeConfEntry } from "../../src/raft/confchange.ts";
import { RaftError } from "../../src/raft/errors.ts";
import { Raft, emptyRestoredState, type RaftConfig } from "../../src/raft/raft.ts";
import { SeededRng } from "../../src/raft/random.ts";
import type {
  ConfChange,
  ConfState,
  Entry,
  HardState,
  Message,
  MessageType,
  NodeId,
  RestoredState,
  Role,
  SnapshotMeta,
} from "../../src/raft/types.ts";
import {
  renderConfState,
  renderEntry,
  renderHardState,
  renderMessage,
  renderReady,
  renderSnapshotMeta,
  renderStatus,
} from "./render.ts";

type Mutable<T> = { -readonly [K in keyof T]?: T[K] };
type ConfigBase = Mutable<Omit<RaftConfig, "id" | "rng">>;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** What the driver has made durable for one node. Survives `crash`. */
class Storage {
  hardState: HardState = { term: 0, vote: 0, commit: 0 };
  snapshot: SnapshotMeta | null = null;
  /** The state-machine bytes of `snapshot`. */
  snapshotData: Uint8Array = new Uint8Array(0);
  /** Entries after the snapshot, contiguous. */
  entries: Entry[] = [];

  snapshotIndex(): number {
    return this.snapshot?.index ?? 0;
  }

  lastIndex(): number {
    const last = this.entries[this.entries.length - 1];
    return last === undefined ? this.snapshotIndex() : last.index;
  }

  term(index: number): number | undefined {
    if (this.snapshot !== null && index === this.snapshot.index) return this.snapshot.term;
    if (index === 0) return 0;
    return this.entries[index - this.snapshotIndex() - 1]?.term;
  }

  restored(): RestoredState {
    if (this.snapshot === null && this.entries.length === 0 && this.hardState.term === 0) {
      return emptyRestoredState();
    }
    return {
      hardState: { ...this.hardState },
      snapshot: this.snapshot,
      entries: this.entries.slice(),
      // The state machine lives in memory: after a crash it restarts from the snapshot.
      applied: this.snapshotIndex(),
    };
  }
}

interface AppliedCommand {
  readonly index: number;
  readonly data: string;
}

interface Envelope {
  readonly msg: Message;
  /** Snapshot bytes travelling beside a "snap" message. */
  readonly snapshotData: Uint8Array | null;
}

class SimNode {
  raft: Raft | null = null;
  readonly storage = new Storage();
  // Volatile state, lost on crash.
  applied = 0;
  /** The state machine: the non-empty "normal" commands applied so far. */
  commands: AppliedCommand[] = [];
  /** The configuration after each applied conf entry (for snapshot metadata). */
  confs: { index: number; conf: ConfState }[] = [];
  /** Snapshot bytes received beside "snap" messages, by snapshot index. */
  staged = new Map<number, Uint8Array>();

  constructor(
    readonly id: NodeId,
    readonly base: ConfigBase,
  ) {}

  config(): RaftConfig {
    return { ...base(this.base), id: this.id, rng: new SeededRng(this.id) };
  }

  electionTimeout(): number {
    return this.base.electionTimeoutTicks ?? 10;
  }

  heartbeatInterval(): number {
    return this.base.heartbeatIntervalTicks ?? 1;
  }

  start(): void {
    this.applied = this.storage.snapshotIndex();
    this.commands = [];
    this.confs = [];
    this.staged = new Map();
    if (this.storage.snapshot !== null) {
      this.commands = decodeCommands(this.storage.snapshotData);
      this.confs = [{ index: this.storage.snapshot.index, conf: this.storage.snapshot.conf }];
    }
    this.raft = new Raft(this.config(), this.storage.restored());
  }

  confAt(index: number): ConfState | undefined {
    let found: ConfState | undefined;
    for (const c of this.confs) if (c.index <= index) found = c.conf;
    return found;
  }

  commandsUpTo(index: number): AppliedCommand[] {
    return this.commands.filter((c) => c.index <= index);
  }
}

function base(b: ConfigBase): Omit<RaftConfig, "id" | "rng"> {
  return b as Omit<RaftConfig, "id" | "rng">;
}

function encodeCommands(commands: readonly AppliedCommand[]): Uint8Array {
  return encoder.encode(JSON.stringify(commands));
}

function decodeCommands(bytes: Uint8Array): AppliedCommand[] {
  if (bytes.length === 0) return [];
  return JSON.parse(decoder.decode(bytes)) as AppliedCommand[];
}

function applyConfChange(conf: ConfState, cc: ConfChange): ConfState {
  const voters = conf.voters.filter((id) => id !== cc.nodeId);
  const learners = conf.learners.filter((id) => id !== cc.nodeId);
  if (cc.type === "addVoter") voters.push(cc.nodeId);
  if (cc.type === "addLearner") learners.push(cc.nodeId);
  return { voters, learners };
}

function copyEntry(e: Entry): Entry {
  return { index: e.index, term: e.term, kind: e.kind, data: e.data.slice() };
}

class UsageError extends Error {}

interface Args {
  readonly positional: string[];
  readonly named: Map<string, string>;
}

function parseArgs(tokens: readonly string[]): Args {
  const positional: string[] = [];
  const named = new Map<string, string>();
  for (const t of tokens) {
    const eq = t.indexOf("=");
    if (eq > 0) named.set(t.slice(0, eq), t.slice(eq + 1));
    else positional.push(t);
  }
  return { positional, named };
}

function parseInt10(s: string | undefined, what: string): number {
  if (s === undefined || !/^\d+$/.test(s)) throw new UsageError(`${what}: expected a number, got ${s ?? "nothing"}`);
  return Number(s);
}

function parseIdList(s: string | undefined): NodeId[] {
  if (s === undefined || s === "") return [];
  return s.split(",").map((x) => parseInt10(x, "node id"));
}

function parseBool(s: string, what: string): boolean {
  if (s === "true") return true;
  if (s === "false") return false;
  throw new UsageError(`${what}: expected true or false, got ${s}`);
}


export class InteractionEnv {
  private readonly nodes = new Map<NodeId, SimNode>();
  /** Messages in flight, by recipient, in send order. */
  private readonly queues = new Map<NodeId, Envelope[]>();
  /** Node id → partition group; null when the network is whole. */
  private partition: Map<NodeId, number> | null = null;
  /** term → the node that was leader in it (election safety, §5.2). */
  private readonly leaders = new Map<number, NodeId>();
  /** index → the entry some node applied there (state machine safety, §5.4.3). */
  private readonly appliedGlobal = new Map<number, string>();

  /** Runs one script command and returns its output lines (never empty, never blank). */
  handle(command: string): string[] {
    const tokens = command.split(/\s+/).filter((t) => t !== "");
    const name = tokens[0] ?? "";
    const rest = tokens.slice(1);
    let out: string[];
    try {
      out = this.dispatch(name, rest, command);
    } catch (err) {
      if (err instanceof UsageError) out = [`usage error: ${err.message}`];
      else if (err instanceof Error) out = [`panic: ${err.name}: ${err.message}`];
      else out = [`panic: ${String(err)}`];
    }
    out.push(...this.checkLeaders());
    if (out.length === 0) out.push("ok");
    return out.map((l) => (l.trim() === "" ? "." : l));
  }

  private dispatch(name: string, rest: readonly string[], command: string): string[] {
    const args = parseArgs(rest);
    switch (name) {
      case "add-nodes":
        return this.addNodes(args);
      case "campaign":
        return this.withChange(this.argNode(args, 0), (raft) => raft.campaign());
      case "propose": {
        const node = this.up(this.argNode(args, 0));
        // DATA is everything after the node id, so it may contain spaces.
        const data = command.trim().split(/\s+/).slice(2).join(" ");
        return [renderResult(node.raft.propose(encoder.encode(data)))];
      }
      case "propose-conf-change":
        return this.proposeConfChange(args);
      case "read-index": {
        const node = this.up(this.argNode(args, 0));
        return [renderResult(node.raft.readIndex(parseInt10(args.positional[1], "read context")))];
      }
      case "transfer-leader": {
        const node = this.up(this.argNode(args, 0));
        return [renderResult(node.raft.transferLeader(parseInt10(args.positional[1], "transferee")))];
      }
      case "tick": {
        const n = args.positional[1] === undefined ? 1 : parseInt10(args.positional[1], "tick count");
        return this.withChange(this.argNode(args, 0), (raft) => {
          for (let i = 0; i < n; i++) raft.tick();
        });
      }
      case "tick-heartbeat": {
        const node = this.argNode(args, 0);
        return this.withChange(node, (raft) => {
          for (let i = 0; i < node.heartbeatInterval(); i++) raft.tick();
        });
      }
      case "tick-election":
        return this.tickElection(this.argNode(args, 0));
      case "deliver":
        return this.deliver(this.argNode(args, 0), args);
      case "process-ready":
        return this.processReady(this.up(this.argNode(args, 0)));
      case "stabilize":
        return this.stabilize(args.positional.length === 0 ? this.allIds() : args.positional.map((s) => parseInt10(s, "node id")));
      case "partition":
        return this.setPartition(rest);
      case "heal":
        this.partition = null;
        return [];
      case "crash":
        return this.crash(this.argNode(args, 0));
      case "restart": {
        const node = this.argNode(args, 0);
        if (node.raft !== null) throw new UsageError(`node ${node.id} is not down`);
        node.start();
        return renderStatus(node.raft!.status());
      }
      case "compact":
        return this.compact(this.up(this.argNode(args, 0)), parseInt10(args.positional[1], "compact index"));
      case "status":
        return this.status(args.positional.length === 0 ? this.allIds() : args.positional.map((s) => parseInt10(s, "node id")));
      case "log":
        return this.log(this.argNode(args, 0));
      case "state":
        return this.state(this.argNode(args, 0));
      case "pending":
        return this.pending(args.positional.length === 0 ? null : this.argNode(args, 0).id);
      default:
        throw new UsageError(`unknown command "${name}"`);
    }
  }

  // ---- nodes -------------------------------------------------------------------

  private allIds(): NodeId[] {
    return [...this.nodes.keys()].sort((a, b) => a - b);
  }

  private argNode(args: Args, at: number): SimNode {
    const id = parseInt10(args.positional[at], "node id");
    const node = this.nodes.get(id);
    if (node === undefined) throw new UsageError(`no node ${id}`);
    return node;
  }

  private up(node: SimNode): SimNode & { raft: Raft } {
    if (node.raft === null) throw new UsageError(`node ${node.id} is down`);
    return node as SimNode & { raft: Raft };
  }

  private addNodes(args: Args): string[] {
    const count = parseInt10(args.positional[0], "node count");
    const b: ConfigBase = {};
    let bootstrap: ConfState | null = null;
    for (const [key, value] of args.named) {
      switch (key) {
        case "voters":
        case "learners":
          bootstrap ??= { voters: [], learners: [] };
          bootstrap = { ...bootstrap, [key]: parseIdList(value) };
          break;
        case "election":
          b.electionTimeoutTicks = parseInt10(value, key);
          break;
        case "heartbeat":
          b.heartbeatIntervalTicks = parseInt10(value, key);
          break;
        case "prevote":
          b.preVote = parseBool(value, key);
          break;
        case "checkquorum":
          b.checkQuorum = parseBool(value, key);
          break;
        case "max-msg-bytes":
          b.maxMsgBytes = parseInt10(value, key);
          break;
        case "max-inflight":
          b.maxInflightMsgs = parseInt10(value, key);
          break;
        case "max-inflight-bytes":
          b.maxInflightBytes = parseInt10(value, key);
          break;
        case "max-uncommitted-bytes":
          b.maxUncommittedBytes = parseInt10(value, key);
          break;
        case "max-committed-bytes-per-ready":
          b.maxCommittedBytesPerReady = parseInt10(value, key);
          break;
        case "fault":
          if (value === "commit-previous-term-by-count") b.unsafeTestingFaults = { commitPreviousTermByCount: true };
          else if (value === "vote-before-persist") b.unsafeTestingFaults = { voteBeforePersist: true };
          else throw new UsageError(`unknown fault ${value}`);
          break;
        default:
          throw new UsageError(`unknown add-nodes option ${key}`);
      }
    }
    if (bootstrap !== null) b.bootstrap = bootstrap;
    const out: string[] = [];
    let next = Math.max(0, ...this.nodes.keys()) + 1;
    for (let i = 0; i < count; i++, next++) {
      const node = new SimNode(next, b);
      this.nodes.set(next, node);
      node.start();
      out.push(...renderStatus(node.raft!.status()));
    }
    return out;
  }

  private proposeConfChange(args: Args): string[] {
    const node = this.up(this.argNode(args, 0));
    const op = args.positional[1];
    const target = parseInt10(args.positional[2], "conf change node id");
    let type: ConfChange["type"];
    if (op === "add-voter") type = "addVoter";
    else if (op === "add-learner") type = "addLearner";
    else if (op === "remove") type = "removeNode";
    else throw new UsageError(`conf change: expected add-voter, add-learner or remove, got ${op ?? "nothing"}`);
    return [renderResult(node.raft.proposeConfChange({ type, nodeId: target }))];
  }

  private roleTerm(raft: Raft): { role: Role; term: number } {
    const s = raft.status();
    return { role: s.role, term: s.term };
  }

  /** Runs `fn`; prints the role/term change it caused, if any. */
  private withChange(node: SimNode, fn: (raft: Raft) => void): string[] {
    const n = this.up(node);
    const before = this.roleTerm(n.raft);
    fn(n.raft);
    const after = this.roleTerm(n.raft);
    if (before.role === after.role && before.term === after.term) return [];
    return [`${node.id}: ${before.role} term=${before.term} -> ${after.role} term=${after.term}`];
  }

  /** Ticks until the role or term changes, at most 2 × electionTimeout ticks. */
  private tickElection(node: SimNode): string[] {
    const n = this.up(node);
    const before = this.roleTerm(n.raft);
    const limit = 2 * node.electionTimeout();
    for (let i = 1; i <= limit; i++) {
      n.raft.tick();
      const after = this.roleTerm(n.raft);
      if (after.role !== before.role || after.term !== before.term) {
        return [`${node.id}: ticked ${i}: ${before.role} term=${before.term} -> ${after.role} term=${after.term}`];
      }
    }
    return [`${node.id}: ticked ${limit}: still ${before.role} term=${before.term}`];
  }

  private crash(node: SimNode): string[] {
    this.up(node);
    node.raft = null;
    const lost = this.queues.get(node.id) ?? [];
    this.queues.set(node.id, []);
    return lost.map((e) => `dropped ${renderMessage(e.msg)}`);
  }

  // ---- network -----------------------------------------------------------------

  private setPartition(tokens: readonly string[]): string[] {
    const groups = new Map<NodeId, number>();
    let group = 0;
    for (const t of tokens) {
      if (t === "|") {
        group++;
        continue;
      }
      groups.set(parseInt10(t, "node id"), group);
    }
    this.partition = groups;
    return [];
  }

  private connected(a: NodeId, b: NodeId): boolean {
    if (this.partition === null) return true;
    // Nodes not named in the partition form one more group together.
    return (this.partition.get(a) ?? -1) === (this.partition.get(b) ?? -1);
  }

  private send(from: SimNode, m: Message, out: string[]): void {
    if (m.from !== from.id) out.push(`  !! node ${from.id} sent a message from ${m.from}: ${renderMessage(m)}`);
    let snapshotData: Uint8Array | null = null;
    if (m.type === "snap") {
      if (m.snapshot !== null && from.storage.snapshot?.index === m.snapshot.index) {
        snapshotData = from.storage.snapshotData;
      } else {
        out.push(`  !! node ${from.id} sent a snapshot it has not stored: ${renderMessage(m)}`);
      }
    }
    const q = this.queues.get(m.to) ?? [];
    q.push({ msg: m, snapshotData });
    this.queues.set(m.to, q);
  }

  /**
   * Delivers the messages queued for `node`. Options: from=IDS (only messages from
   * these senders), types=TYPES (only these message types), count=N (at most N);
   * messages left out by these stay queued. drop=IDS discards (instead of
   * delivering) the selected messages from these senders.
   */
  private deliver(node: SimNode, args: Args): string[] {
    const from = args.named.has("from") ? parseIdList(args.named.get("from")) : null;
    const drop = parseIdList(args.named.get("drop"));
    const typesArg = args.named.get("types");
    const types = typesArg === undefined ? null : typesArg.split(",");
    if (types !== null) {
      for (const t of types) if (!MESSAGE_TYPES.includes(t as MessageType)) throw new UsageError(`unknown message type ${t}`);
    }
    const count = args.named.has("count") ? parseInt10(args.named.get("count"), "count") : Infinity;
    for (const key of args.named.keys()) {
      if (!["from", "drop", "types", "count"].includes(key)) throw new UsageError(`unknown deliver option ${key}`);
    }
    const lines = this.deliverSelected(node, (m) => (from === null || from.includes(m.from)) && (types === null || types.includes(m.type)), drop, count);
    return lines.length === 0 ? ["no messages"] : [`> ${node.id} receives`, ...lines];
  }

  private deliverSelected(node: SimNode, select: (m: Message) => boolean, drop: readonly NodeId[], count: number): string[] {
    const queue = this.queues.get(node.id) ?? [];
    const selected: Envelope[] = [];
    const kept: Envelope[] = [];
    for (const e of queue) {
      if (selected.length < count && select(e.msg)) selected.push(e);
      else kept.push(e);
    }
    this.queues.set(node.id, kept);
    const out: string[] = [];
    for (const e of selected) {
      const line = `  ${renderMessage(e.msg)}`;
      if (drop.includes(e.msg.from)) {
        out.push(`${line} [dropped]`);
      } else if (node.raft === null) {
        out.push(`${line} [dropped: ${node.id} is down]`);
      } else if (!this.connected(e.msg.from, node.id)) {
        out.push(`${line} [dropped: partition]`);
      } else {
        out.push(line);
        if (e.msg.type === "snap" && e.msg.snapshot !== null && e.snapshotData !== null) {
          node.staged.set(e.msg.snapshot.index, e.snapshotData);
        }
        try {
          node.raft.step(e.msg);
        } catch (err) {
          out.push(`  panic: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
        }
      }
    }
    return out;
  }

  private pending(id: NodeId | null): string[] {
    const ids = id === null ? [...this.queues.keys()].sort((a, b) => a - b) : [id];
    const out: string[] = [];
    for (const to of ids) for (const e of this.queues.get(to) ?? []) out.push(renderMessage(e.msg));
    return out.length === 0 ? ["no messages"] : out;
  }

  // ---- the driver ----------------------------------------------------------------

  private processReady(node: SimNode & { raft: Raft }): string[] {
    const raft = node.raft;
    if (!raft.hasReady()) return [`> ${node.id} has no ready`];
    const rd = raft.ready();
    const out = [`> ${node.id} ready`, ...renderReady(rd, "  ")];
    const st = node.storage;

    // 1. Persist: snapshot, entries, hard state.
    let confChanged = false;
    if (rd.snapshot !== null) {
      const meta = rd.snapshot;
      const bytes = node.staged.get(meta.index);
      if (bytes === undefined) out.push(`  !! snapshot ${meta.index} to install, but no bytes arrived for it`);
      if (meta.index <= node.applied) out.push(`  !! snapshot ${meta.index} does not move past applied ${node.applied}`);
      st.snapshot = meta;
      st.snapshotData = bytes ?? new Uint8Array(0);
      st.entries = [];
      node.commands = decodeCommands(st.snapshotData);
      node.applied = meta.index;
      node.confs = [{ index: meta.index, conf: meta.conf }];
      node.staged.clear();
      confChanged = true;
    }
    if (rd.entries.length > 0) {
      const first = rd.entries[0]!.index;
      if (first <= st.snapshotIndex()) out.push(`  !! entries from ${first} overwrite the snapshot at ${st.snapshotIndex()}`);
      if (first > st.lastIndex() + 1) out.push(`  !! entries from ${first} leave a gap after ${st.lastIndex()}`);
      if (first <= st.hardState.commit) out.push(`  !! entries from ${first} overwrite committed ${st.hardState.commit}`);
      st.entries = st.entries.filter((e) => e.index < first);
      rd.entries.forEach((e, i) => {
        if (e.index !== first + i) out.push(`  !! entries not contiguous at ${renderEntry(e)}`);
        st.entries.push(copyEntry(e));
      });
    }
    if (rd.hardState !== null) {
      const prev = st.hardState;
      const hs = rd.hardState;
      if (hs.term < prev.term) out.push(`  !! term went back from ${prev.term} to ${hs.term}`);
      if (hs.term === prev.term && prev.vote !== 0 && hs.vote !== prev.vote) {
        out.push(`  !! vote changed from ${prev.vote} to ${hs.vote} within term ${hs.term}`);
      }
      if (hs.commit < prev.commit) out.push(`  !! commit went back from ${prev.commit} to ${hs.commit}`);
      st.hardState = { ...hs };
    }
    if (st.hardState.commit > st.lastIndex()) {
      out.push(`  !! durable commit ${st.hardState.commit} is beyond the durable log ${st.lastIndex()}`);
    }

    // 2. Send (messages may leave before the write; the rest only after it, which is now).
    for (const m of rd.messages) this.send(node, m, out);
    for (const m of rd.messagesAfterPersist) this.send(node, m, out);

    // 3. Apply.
    for (const e of rd.committedEntries) {
      if (e.index !== node.applied + 1) out.push(`  !! committed ${renderEntry(e)} does not follow applied ${node.applied}`);
      if (st.term(e.index) !== e.term) out.push(`  !! committed ${renderEntry(e)} is not in the durable log`);
      if (e.index > st.hardState.commit) out.push(`  !! applied ${renderEntry(e)} beyond the durable commit ${st.hardState.commit}`);
      const rendered = renderEntry(e);
      const seen = this.appliedGlobal.get(e.index);
      if (seen === undefined) this.appliedGlobal.set(e.index, rendered);
      else if (seen !== rendered) out.push(`  !! node ${node.id} applied ${rendered}, another node applied ${seen}`);
      if (e.kind === "normal" && e.data.length > 0) {
        node.commands.push({ index: e.index, data: decoder.decode(e.data) });
      } else if (e.kind === "conf") {
        try {
          const decoded = decodeConfEntry(e.data);
          const prev = node.confAt(e.index) ?? { voters: [], learners: [] };
          const conf = decoded.kind === "set" ? decoded.conf : applyConfChange(prev, decoded.change);
          node.confs.push({ index: e.index, conf });
          confChanged = true;
        } catch (err) {
          out.push(`  !! undecodable conf entry ${renderEntry(e)}: ${String(err)}`);
        }
      }
      node.applied = e.index;
    }

    // 4. Advance.
    raft.advance();

    const s = raft.status();
    if (s.lastIndex !== st.lastIndex()) out.push(`  !! core last index ${s.lastIndex} != durable last index ${st.lastIndex()}`);
    if (s.applied !== node.applied) out.push(`  !! core applied ${s.applied} != driver applied ${node.applied}`);
    // (The core's commit may run ahead of the durable one: a leader counts its own
    // copy at advance(), and the new commit index is persisted with the next Ready.)
    if (s.commit < st.hardState.commit) out.push(`  !! core commit ${s.commit} < durable commit ${st.hardState.commit}`);
    const conf = node.confAt(node.applied);
    if (confChanged && conf !== undefined && renderConfState(conf) !== renderConfState(s.conf)) {
      out.push(`  !! core conf ${renderConfState(s.conf)} != applied conf ${renderConfState(conf)}`);
    }
    return out;
  }

  private stabilize(ids: readonly NodeId[]): string[] {
    for (const id of ids) if (!this.nodes.has(id)) throw new UsageError(`no node ${id}`);
    const sorted = [...ids].sort((a, b) => a - b);
    const out: string[] = [];
    for (let round = 0; round < 1000; round++) {
      let progressed = false;
      for (const id of sorted) {
        const node = this.nodes.get(id)!;
        if (node.raft !== null && node.raft.hasReady()) {
          out.push(...this.processReady(this.up(node)));
          progressed = true;
        }
      }
      for (const id of sorted) {
        const node = this.nodes.get(id)!;
        if ((this.queues.get(id) ?? []).length === 0) continue;
        out.push(`> ${id} receives`, ...this.deliverSelected(node, () => true, [], Infinity));
        progressed = true;
      }
      if (!progressed) return out;
    }
    out.push("!! stabilize did not settle after 1000 rounds");
    return out;
  }

  // ---- snapshots -----------------------------------------------------------------

  private compact(node: SimNode & { raft: Raft }, index: number): string[] {
    const st = node.storage;
    if (index > node.applied) throw new UsageError(`compact ${index}: beyond applied ${node.applied}`);
    if (index <= st.snapshotIndex()) throw new UsageError(`compact ${index}: already compacted to ${st.snapshotIndex()}`);
    const term = st.term(index);
    const conf = node.confAt(index);
    if (term === undefined) throw new UsageError(`compact ${index}: no durable entry there`);
    if (conf === undefined) throw new UsageError(`compact ${index}: no configuration known at that index`);
    const meta: SnapshotMeta = { index, term, conf };
    st.snapshot = meta;
    st.snapshotData = encodeCommands(node.commandsUpTo(index));
    st.entries = st.entries.filter((e) => e.index > index);
    node.raft.compact(meta);
    return [`snapshot: ${renderSnapshotMeta(meta)}`];
  }

  // ---- inspection ----------------------------------------------------------------

  private status(ids: readonly NodeId[]): string[] {
    const out: string[] = [];
    for (const id of ids) {
      const node = this.nodes.get(id);
      if (node === undefined) throw new UsageError(`no node ${id}`);
      if (node.raft === null) out.push(`${id}: down`);
      else out.push(...renderStatus(node.raft.status()));
    }
    return out;
  }

  /** The durable state of a node (also while it is down). */
  private log(node: SimNode): string[] {
    const st = node.storage;
    const out = [`hard: ${renderHardState(st.hardState)}`];
    if (st.snapshot !== null) out.push(`snapshot: ${renderSnapshotMeta(st.snapshot)} data=${JSON.stringify(decodeCommands(st.snapshotData).map((c) => c.data))}`);
    for (const e of st.entries) out.push(renderEntry(e));
    return out;
  }

  /** The node's state machine. */
  private state(node: SimNode): string[] {
    if (node.raft === null) return [`${node.id}: down`];
    return [`${node.id}: applied=${node.applied} data=${JSON.stringify(node.commands.map((c) => c.data))}`];
  }

  private checkLeaders(): string[] {
    const out: string[] = [];
    for (const node of this.nodes.values()) {
      if (node.raft === null) continue;
      const s = node.raft.status();
      if (s.role !== "leader") continue;
      const known = this.leaders.get(s.term);
      if (known === undefined) this.leaders.set(s.term, node.id);
      else if (known !== node.id) out.push(`!! two leaders in term ${s.term}: ${known} and ${node.id}`);
    }
    return out;
  }
}

function renderResult(r: RaftError | null | { index: number; term: number }): string {
  if (r === null) return "ok";
  if (r instanceof RaftError) return `error: ${r.code}`;
  return `ok index=${r.index} term=${r.term}`;
}
