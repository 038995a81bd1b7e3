// One simulated server: a Raft core, its disk, its in-memory state machine, and the
// driver loop that follows the Ready contract. Everything that involves time or other
// nodes (sending, disk latency, crash timing) is delegated to the host, so this file
// is only about doing the contract's steps in the contract's order.

import { Raft } from "../../src/raft/raft.ts";
import type {
  ConfState,
  Entry,
  HardState,
  Message,
  NodeId,
  ReadState,
  Ready,
  RestoredState,
  SnapshotMeta,
  Status,
} from "../../src/raft/types.ts";
import { describeReady } from "./describe.ts";
import { type DiskWrite, isEmptyWrite, SimDisk, type StoredSnapshot } from "./disk.ts";
import { LogView } from "./log-view.ts";
import { ListStateMachine } from "./state-machine.ts";
import { RuleBroken } from "./violation.ts";

export type NodeState = "running" | "down" | "stopped";

/** Where a crash fault is aimed: the next write of this kind never becomes durable. */
export type CrashPoint = "anyWrite" | "voteWrite" | "entriesWrite";

/** Hooks through which the checks watch a node; every call happens at a point where
 *  the driver's view of the log equals the core's. */
export interface DriverObserver {
  started(node: SimNode, status: Status): void;
  readied(node: SimNode, rd: Ready, status: Status, overwritten: readonly Entry[]): void;
  madeDurable(node: SimNode, before: HardState, after: HardState): void;
  restoredSnapshot(node: SimNode, meta: SnapshotMeta): void;
  applied(node: SimNode, entry: Entry): void;
  readState(node: SimNode, rs: ReadState): void;
  advanced(node: SimNode, status: Status): void;
  crashed(node: SimNode): void;
}

export interface NodeHost {
  readonly nowMs: number;
  readonly observer: DriverObserver;
  createRaft(node: SimNode, restored: RestoredState): Raft;
  send(from: SimNode, m: Message): void;
  /** Schedule `completeWrite` after the disk latency (and maybe a crash before it).
   *  `castsVote` marks the write that records a new vote, a favourite crash point. */
  beginWrite(node: SimNode, write: DiskWrite, castsVote: boolean): void;
  traceNode(node: NodeId, text: string): void;
}

export interface NodeSettings {
  /** Initial members bootstrap; joiners start empty and learn the config from the log. */
  readonly bootstrap: ConfState | null;
  readonly snapshotEveryEntries: number;
  readonly tickIntervalMs: number;
}

/** A safety valve: a core whose hasReady() never settles would otherwise hang the run. */
const MAX_READIES_PER_PUMP = 10_000;

export class SimNode {
  readonly disk = new SimDisk();
  state: NodeState = "down";
  /** Bumped on every start, so events aimed at a dead incarnation are recognised. */
  incarnation = 0;
  crashPoint: CrashPoint | null = null;
  /** Last hard state handed to the disk (durable or in flight), to spot vote writes. */
  lastHardState: HardState = { term: 0, vote: 0, commit: 0 };

  private core: Raft | null = null;
  private log = new LogView();
  private machine = new ListStateMachine();
  private inFlight: { ready: Ready; write: DiskWrite } | null = null;
  /** Snapshot bytes that arrived beside "snap" messages, keyed by index/term. */
  private readonly staged = new Map<string, Uint8Array>();

  constructor(
    readonly id: NodeId,
    readonly settings: NodeSettings,
    private readonly host: NodeHost,
  ) {}

  get running(): boolean {
    return this.state === "running";
  }

  get raft(): Raft {
    if (this.core === null) throw new Error(`node ${this.id} has no running core`);
    return this.core;
  }

  /** The core's log as the driver knows it (durable + the write in flight). */
  get memLog(): LogView {
    return this.log;
  }

  get stateMachine(): ListStateMachine {
    return this.machine;
  }

  get writeInFlight(): boolean {
    return this.inFlight !== null;
  }

  start(): void {
    if (this.state === "stopped") return;
    this.incarnation++;
    this.state = "running";
    this.inFlight = null;
    this.staged.clear();
    this.log = this.disk.log.clone();
    this.lastHardState = this.disk.hardState;
    this.machine = this.disk.snapshot ? ListStateMachine.fromBytes(this.disk.snapshot.bytes) : new ListStateMachine();
    this.core = this.host.createRaft(this, this.disk.restoredState());
    this.host.observer.started(this, this.core.status());
    this.pump();
  }

  /** Process death: the core, the state machine and any write in flight are gone. */
  crash(): void {
    if (this.state !== "running") return;
    this.state = "down";
    this.core = null;
    this.inFlight = null;
    this.staged.clear();
    this.crashPoint = null;
    this.host.observer.crashed(this);
  }

  /** Removed from the cluster: never comes back. */
  stop(): void {
    this.crash();
    this.state = "stopped";
  }

  receive(m: Message, snapshotBytes: Uint8Array | null): void {
    if (m.type === "snap" && m.snapshot !== null && snapshotBytes !== null) {
      this.staged.set(snapshotKey(m.snapshot), snapshotBytes);
    }
    this.raft.step(m);
    this.pump();
  }

  /** Bytes of this node's snapshot described by `meta` (what a "snap" message carries). */
  snapshotBytesFor(meta: SnapshotMeta): Uint8Array | null {
    // A snapshot being installed counts too: its bytes are in memory, and the core may
    // already lead (and ship it on) before the install is durable.
    for (const snap of [this.inFlight?.write.snapshot ?? null, this.disk.snapshot]) {
      if (snap !== null && snap.meta.index === meta.index && snap.meta.term === meta.term) return snap.bytes;
    }
    return null;
  }

  /** Take Readies until the core has nothing more or a write is in flight. */
  pump(): void {
    let readies = 0;
    while (this.core !== null && this.inFlight === null && this.core.hasReady()) {
      if (++readies > MAX_READIES_PER_PUMP) {
        throw new RuleBroken("driver contract", `node ${this.id}: hasReady() stays true after ${readies} Readies`);
      }
      this.handleReady(this.core.ready());
    }
  }

  private handleReady(rd: Ready): void {
    const core = this.raft;
    this.host.traceNode(this.id, describeReady(rd));

    // Step 1, in memory: the core already treats these as its log.
    let snapshot: StoredSnapshot | null = null;
    if (rd.snapshot !== null) {
      const bytes = this.staged.get(snapshotKey(rd.snapshot));
      if (bytes === undefined) {
        throw new RuleBroken(
          "driver contract",
          `node ${this.id}: Ready.snapshot ${rd.snapshot.index}/${rd.snapshot.term} without bytes from a snap message`,
        );
      }
      snapshot = { meta: rd.snapshot, bytes };
      this.log.installSnapshot(rd.snapshot.index, rd.snapshot.term);
    }
    const overwritten = this.log.append(rd.entries);
    this.host.observer.readied(this, rd, core.status(), overwritten);

    // Leader replication runs in parallel with its own disk write.
    for (const m of rd.messages) this.host.send(this, m);

    const write: DiskWrite = { snapshot, entries: rd.entries, hardState: rd.hardState };
    const hs = rd.hardState;
    const castsVote =
      hs !== null && hs.vote !== 0 && (hs.vote !== this.lastHardState.vote || hs.term !== this.lastHardState.term);
    if (hs !== null) this.lastHardState = hs;
    this.inFlight = { ready: rd, write };
    if (isEmptyWrite(write)) this.completeWrite();
    else this.host.beginWrite(this, write, castsVote);
  }

  /** The disk reports the in-flight write durable: steps 2–4 of the contract. */
  completeWrite(): void {
    const pending = this.inFlight;
    if (pending === null || this.core === null) return;
    const { ready: rd, write } = pending;
    const before = this.disk.hardState;
    this.disk.commitWrite(write);
    if (write.hardState !== null) this.host.observer.madeDurable(this, before, this.disk.hardState);
    if (write.snapshot !== null) this.restoreFromSnapshot(write.snapshot);

    for (const m of rd.messagesAfterPersist) this.host.send(this, m);

    for (const e of rd.committedEntries) {
      if (e.index !== this.machine.appliedIndex + 1) {
        throw new RuleBroken(
          "driver contract",
          `node ${this.id}: committed entry ${e.index} handed out after applied ${this.machine.appliedIndex}`,
        );
      }
      const stored = this.log.entryAt(e.index);
      if (stored !== undefined && stored.term !== e.term) {
        throw new RuleBroken(
          "driver contract",
          `node ${this.id}: committed entry ${e.index}/${e.term} differs from the log's ${stored.index}/${stored.term}`,
        );
      }
      this.machine.apply(e);
      this.host.observer.applied(this, e);
    }
    for (const rs of rd.readStates) this.host.observer.readState(this, rs);

    this.inFlight = null;
    this.core.advance();
    const status = this.core.status();
    if (status.applied !== this.machine.appliedIndex) {
      throw new RuleBroken(
        "driver contract",
        `node ${this.id}: status.applied ${status.applied} after advance, state machine at ${this.machine.appliedIndex}`,
      );
    }
    this.host.observer.advanced(this, status);
    this.maybeSnapshot(status);
  }

  private restoreFromSnapshot(snap: StoredSnapshot): void {
    if (snap.meta.index <= this.machine.appliedIndex) {
      throw new RuleBroken(
        "driver contract",
        `node ${this.id}: snapshot ${snap.meta.index} is not ahead of applied ${this.machine.appliedIndex}`,
      );
    }
    this.machine = ListStateMachine.fromBytes(snap.bytes);
    for (const key of [...this.staged.keys()]) this.staged.delete(key);
    this.host.observer.restoredSnapshot(this, snap.meta);
  }

  /** Every K applied entries, checkpoint the state machine and let the core compact. */
  private maybeSnapshot(status: Status): void {
    const sm = this.machine;
    const lastSnapshotIndex = this.disk.snapshot?.meta.index ?? 0;
    if (sm.appliedIndex - lastSnapshotIndex < this.settings.snapshotEveryEntries) return;
    const meta: SnapshotMeta = {
      index: sm.appliedIndex,
      term: sm.appliedTerm,
      conf: { voters: status.conf.voters.slice(), learners: status.conf.learners.slice() },
    };
    this.disk.saveSnapshot({ meta, bytes: sm.toBytes() });
    this.log.compact(meta.index, meta.term);
    this.host.traceNode(this.id, `snapshot+compact at ${meta.index}/${meta.term}`);
    this.raft.compact(meta);
  }
}

function snapshotKey(meta: SnapshotMeta): string {
  return `${meta.index}/${meta.term}`;
}
