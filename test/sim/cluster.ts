// The simulated world: nodes, network, disks and virtual time, driven by one event
// queue. It is the host every node's driver talks to (send, disk writes) and the
// observer hub that forwards what drivers see to the checks and the client model.
// After every event, the status of each node the event touched is checked.

import { Raft, type RaftConfig } from "../../src/raft/raft.ts";
import { SeededRng } from "../../src/raft/random.ts";
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
import { ClientModel } from "./client.ts";
import { describeMessage } from "./describe.ts";
import type { DiskWrite } from "./disk.ts";
import { EventQueue } from "./event-queue.ts";
import { InvariantChecker } from "./invariants.ts";
import { MembershipTracker } from "./membership-tracker.ts";
import { CALM_NETWORK, SimNetwork } from "./network.ts";
import type { Scenario } from "./scenario.ts";
import { type DriverObserver, type NodeHost, SimNode } from "./sim-node.ts";
import { deriveSeed, type SimRandom } from "./sim-random.ts";
import type { Trace } from "./trace.ts";
import { RuleBroken } from "./violation.ts";

export type SimEvent =
  | { readonly kind: "tick"; readonly node: SimNode; readonly incarnation: number }
  | { readonly kind: "deliver"; readonly message: Message; readonly snapshotBytes: Uint8Array | null }
  | { readonly kind: "durable"; readonly node: SimNode; readonly incarnation: number }
  | { readonly kind: "action"; readonly label: string; readonly run: () => void };

/** Moments worth aiming a fault at; see Chaos. */
export interface MomentFaults {
  /** The node's Ready says it just became leader. */
  leaderElected(node: SimNode): void;
  /** A leader's Ready carries a higher commit index (its broadcast of it is in the same Ready). */
  leaderCommitted(node: SimNode): void;
}

export type UnsafeTestingFaults = NonNullable<RaftConfig["unsafeTestingFaults"]>;

export interface ClusterConfig {
  readonly seed: number;
  readonly scenario: Scenario;
  readonly unsafeTestingFaults: UnsafeTestingFaults | null;
  readonly trace: Trace;
  /** Draws for message fates, disk latencies and crash timing. */
  readonly rng: SimRandom;
}

export interface ClusterStats {
  events: number;
  crashes: number;
  restarts: number;
  messagesSent: number;
  snapshotsSent: number;
  snapshotsInstalled: number;
}

/** While a node's disk is slow, writes take this long. */
const SLOW_DISK_MS = { min: 20, max: 60 };
/** A crash aimed at a write is a process crash under a supervisor: back quickly. */
const CRASH_POINT_RESTART_MS = { min: 1, max: 40 };

export class SimCluster implements NodeHost, DriverObserver {
  nowMs = 0;
  /** Off during the liveness phase: crash points already scheduled then do nothing. */
  faultsEnabled = true;
  /** Faults aimed at protocol moments. Called from inside a node's driver (while faults
   *  are on), so they may only schedule, not act. */
  momentFaults: MomentFaults | null = null;
  readonly nodes = new Map<NodeId, SimNode>();
  readonly network: SimNetwork;
  readonly checker = new InvariantChecker();
  readonly client = new ClientModel();
  readonly stats: ClusterStats = {
    events: 0,
    crashes: 0,
    restarts: 0,
    messagesSent: 0,
    snapshotsSent: 0,
    snapshotsInstalled: 0,
  };
  private readonly membership: MembershipTracker;
  private readonly queue = new EventQueue<SimEvent>();
  private readonly slowDiskUntilMs = new Map<NodeId, number>();

  constructor(private readonly config: ClusterConfig) {
    this.network = new SimNetwork(config.scenario.network, config.rng);
    this.membership = new MembershipTracker((removed, seenBy) => {
      const node = this.nodes.get(removed);
      if (node === undefined || node.state === "stopped") return;
      // Stopping from inside another node's driver callback would pull the core out
      // from under a running pump; do it as the next event instead.
      this.schedule(0, `stop n${removed}: its removal was applied by n${seenBy}`, () => this.stop(removed));
    });
  }

  get observer(): DriverObserver {
    return this;
  }

  get trace(): Trace {
    return this.config.trace;
  }

  // ---- topology ------------------------------------------------------------------

  addNode(id: NodeId, bootstrap: ConfState | null): SimNode {
    const s = this.config.scenario;
    const node = new SimNode(
      id,
      {
        bootstrap,
        snapshotEveryEntries: s.snapshotEveryEntries,
        tickIntervalMs: s.baseTickMs + this.config.rng.between(s.tickSkewMs.min, s.tickSkewMs.max),
      },
      this,
    );
    this.nodes.set(id, node);
    this.startNode(node, "join");
    return node;
  }

  crash(id: NodeId, why: string): void {
    const node = this.nodes.get(id);
    if (node === undefined || !node.running) return;
    this.traceNode(id, `CRASH (${why})`);
    node.crash();
    this.stats.crashes++;
  }

  restart(id: NodeId): void {
    const node = this.nodes.get(id);
    if (node === undefined || node.state !== "down") return;
    this.stats.restarts++;
    this.startNode(node, "restart");
  }

  stop(id: NodeId): void {
    const node = this.nodes.get(id);
    if (node === undefined || node.state === "stopped") return;
    this.traceNode(id, "STOP (removed from the cluster)");
    node.stop();
  }

  slowDisk(id: NodeId, durationMs: number): void {
    this.slowDiskUntilMs.set(id, this.nowMs + durationMs);
  }

  /** Ends every fault: the network heals and calms down, disks recover, dead nodes restart. */
  healEverything(): void {
    this.faultsEnabled = false;
    this.network.healAll();
    this.network.conditions = CALM_NETWORK;
    this.slowDiskUntilMs.clear();
    for (const node of this.nodes.values()) {
      node.crashPoint = null;
      if (node.state === "down") this.restart(node.id);
    }
  }

  runningNodes(): SimNode[] {
    return [...this.nodes.values()].filter((n) => n.running);
  }

  /** The running leader with the highest term (stale leaders may linger in lower terms). */
  leader(): SimNode | null {
    let best: SimNode | null = null;
    let bestTerm = -1;
    for (const node of this.nodes.values()) {
      if (!node.running) continue;
      const st = node.raft.status();
      if (st.role === "leader" && st.term > bestTerm) {
        best = node;
        bestTerm = st.term;
      }
    }
    return best;
  }

  // ---- time ----------------------------------------------------------------------

  /** Runs `run` as its own event after `delayMs`; an empty label keeps it out of the trace. */
  schedule(delayMs: number, label: string, run: () => void): void {
    this.queue.push(this.nowMs + delayMs, { kind: "action", label, run });
  }

  /** Processes events up to `endMs`; returns true as soon as `done()` holds after an event. */
  runUntil(endMs: number, done: () => boolean): boolean {
    for (;;) {
      const next = this.queue.peekTimeMs();
      if (next === undefined || next > endMs) {
        if (Number.isFinite(endMs)) this.nowMs = endMs;
        return false;
      }
      const ev = this.queue.pop()!;
      this.nowMs = ev.atMs;
      this.stats.events++;
      this.dispatch(ev.item);
      if (done()) return true;
    }
  }

  private dispatch(ev: SimEvent): void {
    switch (ev.kind) {
      case "tick": {
        const node = ev.node;
        if (!node.running || node.incarnation !== ev.incarnation) return;
        this.queue.push(this.nowMs + node.settings.tickIntervalMs, ev);
        const core = node.raft;
        core.tick();
        if (core.hasReady()) this.traceNode(node.id, "tick");
        node.pump();
        this.checkNode(node);
        return;
      }
      case "deliver": {
        const m = ev.message;
        const to = this.nodes.get(m.to);
        if (to === undefined || !to.running) {
          this.traceNode(m.to, `drop (${to?.state ?? "unknown"}) ${describeMessage(m)}`);
          return;
        }
        if (this.network.isBlocked(m.from, m.to)) {
          this.traceNode(m.to, `drop (partitioned) ${describeMessage(m)}`);
          return;
        }
        this.traceNode(m.to, `recv ${describeMessage(m)}`);
        to.receive(m, ev.snapshotBytes);
        this.checkNode(to);
        return;
      }
      case "durable": {
        const node = ev.node;
        if (!node.running || node.incarnation !== ev.incarnation) return;
        this.traceNode(node.id, "write durable");
        node.completeWrite();
        node.pump();
        this.checkNode(node);
        return;
      }
      case "action": {
        if (ev.label !== "") this.config.trace.add(this.nowMs, "sim", ev.label);
        ev.run();
        // Actions call into cores directly (propose, campaign, ...): let every driver
        // catch up, then check everyone.
        for (const node of this.nodes.values()) {
          if (!node.running) continue;
          node.pump();
          this.checkNode(node);
        }
        return;
      }
    }
  }

  private checkNode(node: SimNode): void {
    if (node.running) this.checker.checkStatus(node, node.raft.status());
  }

  private startNode(node: SimNode, why: string): void {
    this.traceNode(node.id, `START (${why}) from ${describeDurable(node)}`);
    node.start();
    if (!node.running) return;
    const first = this.config.rng.between(1, node.settings.tickIntervalMs);
    this.queue.push(this.nowMs + first, { kind: "tick", node, incarnation: node.incarnation });
  }

  // ---- NodeHost ------------------------------------------------------------------

  createRaft(node: SimNode, restored: RestoredState): Raft {
    const cfg: RaftConfig = {
      id: node.id,
      rng: new SeededRng(deriveSeed(this.config.seed, node.id * 7919 + node.incarnation)),
      ...this.config.scenario.raft,
      ...(node.settings.bootstrap !== null ? { bootstrap: node.settings.bootstrap } : {}),
      ...(this.config.unsafeTestingFaults !== null ? { unsafeTestingFaults: this.config.unsafeTestingFaults } : {}),
    };
    return new Raft(cfg, restored);
  }

  send(from: SimNode, m: Message): void {
    this.checker.sent(from, m);
    this.stats.messagesSent++;
    let bytes: Uint8Array | null = null;
    if (m.type === "snap") {
      if (m.snapshot === null) throw new RuleBroken("driver contract", `n${from.id} sent a snap message without meta`);
      bytes = from.snapshotBytesFor(m.snapshot);
      if (bytes === null) {
        throw new RuleBroken(
          "driver contract",
          `n${from.id} sent snapshot ${m.snapshot.index}/${m.snapshot.term}, which its driver never took`,
        );
      }
      this.stats.snapshotsSent++;
    }
    const delays = this.network.deliveryDelaysMs();
    if (delays.length === 0) this.traceNode(from.id, `lost ${describeMessage(m)}`);
    for (const d of delays) {
      // Each copy is its own object: a real network serialises, so no two nodes may
      // ever share a message or its entries array.
      const copy: Message = { ...m, entries: m.entries.slice() };
      this.queue.push(this.nowMs + d, { kind: "deliver", message: copy, snapshotBytes: bytes });
    }
  }

  beginWrite(node: SimNode, write: DiskWrite, castsVote: boolean): void {
    const rng = this.config.rng;
    const slow = (this.slowDiskUntilMs.get(node.id) ?? -1) > this.nowMs;
    const range = slow ? SLOW_DISK_MS : this.config.scenario.diskLatencyMs;
    const latencyMs = rng.between(range.min, range.max);
    this.queue.push(this.nowMs + latencyMs, { kind: "durable", node, incarnation: node.incarnation });

    const point = node.crashPoint;
    if (point === null || !this.faultsEnabled) return;
    const hit =
      point === "anyWrite" || (point === "voteWrite" && castsVote) || (point === "entriesWrite" && write.entries.length > 0);
    if (!hit) return;
    node.crashPoint = null;
    // Strictly before the durable event: same-time events run in scheduling order,
    // and this one is scheduled after it, so never use `latencyMs` itself.
    const crashInMs = rng.int(latencyMs);
    const incarnation = node.incarnation;
    const restartInMs = crashInMs + rng.between(CRASH_POINT_RESTART_MS.min, CRASH_POINT_RESTART_MS.max);
    this.schedule(crashInMs, "", () => {
      if (!this.faultsEnabled || node.incarnation !== incarnation) return;
      this.crash(node.id, `${point} crash point, write not durable`);
    });
    this.schedule(restartInMs, "", () => this.restart(node.id));
  }

  traceNode(id: NodeId, text: string): void {
    this.config.trace.add(this.nowMs, `n${id}`, text);
  }

  // ---- DriverObserver: fan out to the checks and the client model ------------------

  started(node: SimNode, status: Status): void {
    this.checker.started(node, status);
    this.membership.started(node, status);
  }

  readied(node: SimNode, rd: Ready, status: Status, overwritten: readonly Entry[]): void {
    this.checker.readied(node, rd, status, overwritten);
    const hooks = this.momentFaults;
    if (hooks === null || !this.faultsEnabled) return;
    if (rd.softState?.role === "leader") hooks.leaderElected(node);
    else if (status.role === "leader" && rd.hardState !== null && rd.hardState.commit > node.lastHardState.commit) {
      hooks.leaderCommitted(node);
    }
  }

  madeDurable(node: SimNode, before: HardState, after: HardState): void {
    this.checker.madeDurable(node, before, after);
  }

  restoredSnapshot(node: SimNode, meta: SnapshotMeta): void {
    this.stats.snapshotsInstalled++;
    this.traceNode(node.id, `installed snapshot ${meta.index}/${meta.term}`);
    this.checker.restoredSnapshot(node, meta);
  }

  applied(node: SimNode, entry: Entry): void {
    this.checker.applied(node, entry);
    this.client.applied(node, entry);
  }

  readState(node: SimNode, rs: ReadState): void {
    this.client.readState(node, rs);
  }

  advanced(node: SimNode, status: Status): void {
    this.membership.advanced(node, status);
    this.client.advanced(node);
  }

  crashed(node: SimNode): void {
    this.client.crashed(node);
  }
}

function describeDurable(node: SimNode): string {
  const hs = node.disk.hardState;
  const snap = node.disk.snapshot?.meta;
  return `t${hs.term}/v${hs.vote}/c${hs.commit} snap=${snap ? `${snap.index}/${snap.term}` : "none"} last=${node.disk.log.lastIndex()}`;
}
