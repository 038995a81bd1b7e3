// The fault schedule: each step draws one action — client traffic or a fault — with
// weights set by the seed's scenario. Faults that last (crashes, partitions, slow
// disks) schedule their own end, so they overlap and come and go on their own.

import { RaftError } from "../../src/raft/raft.ts";
import type { NodeId } from "../../src/raft/types.ts";
import type { MomentFaults, SimCluster } from "./cluster.ts";
import type { MembershipChurn } from "./membership-churn.ts";
import type { Scenario } from "./scenario.ts";
import type { CrashPoint, SimNode } from "./sim-node.ts";
import type { SimRandom } from "./sim-random.ts";

type ChaosAction =
  | "propose"
  | "read"
  | "crash"
  | "crashPoint"
  | "partition"
  | "isolateLeader"
  | "oneWay"
  | "membership"
  | "transfer"
  | "campaign"
  | "slowDisk";

export class Chaos implements MomentFaults {
  private readonly weights: ReadonlyArray<readonly [ChaosAction, number]>;
  private readonly newLeaderFaultRate: number;
  private readonly commitFaultRate: number;

  constructor(
    private readonly cluster: SimCluster,
    private readonly rng: SimRandom,
    scenario: Scenario,
    private readonly churn: MembershipChurn,
  ) {
    this.newLeaderFaultRate = scenario.newLeaderFaultRate;
    this.commitFaultRate = scenario.commitFaultRate;
    const f = scenario.faultIntensity;
    this.weights = [
      ["propose", 30],
      ["read", 10],
      ["crash", 2 * f],
      ["crashPoint", 3 * f],
      ["partition", 1.5 * f],
      ["isolateLeader", 1 * f],
      ["oneWay", 1 * f],
      ["membership", 2 * f],
      ["transfer", 1.5 * f],
      ["campaign", 1.5 * f],
      ["slowDisk", 0.5 * f],
    ];
  }

  step(): void {
    switch (this.rng.weighted(this.weights)) {
      case "propose":
        return this.propose();
      case "read":
        return this.read();
      case "crash":
        return this.crash();
      case "crashPoint":
        return this.armCrashPoint();
      case "partition":
        return this.partition();
      case "isolateLeader":
        return this.isolateLeader();
      case "oneWay":
        return this.oneWay();
      case "membership":
        return this.churn.step();
      case "transfer":
        return this.transfer();
      case "campaign":
        return this.campaign();
      case "slowDisk":
        return this.slowDisk();
    }
  }

  /**
   * A leader that fails within its first few milliseconds leaves its no-op (and any
   * early writes) on a minority, so two branches of the log compete. Together with
   * tiny append messages this is how the Figure-8 interleaving becomes likely.
   */
  leaderElected(node: SimNode): void {
    if (!this.rng.chance(this.newLeaderFaultRate)) return;
    // Half the time before its first broadcast lands (no-op on the leader alone), half
    // a little later (no-op on some followers only).
    const delayMs = this.rng.chance(0.5) ? 0 : this.rng.between(1, 60);
    const incarnation = node.incarnation;
    const roll = this.rng.int(100);
    if (roll < 50) {
      this.isolateSoon(node, delayMs, this.rng.between(20, 400), "new leader");
    } else if (roll < 75) {
      this.muteSoon(node, delayMs, this.rng.between(20, 300));
    } else {
      const downMs = this.rng.between(20, 300);
      this.cluster.schedule(delayMs, "", () => {
        if (node.incarnation !== incarnation || !this.cluster.faultsEnabled) return;
        this.cluster.crash(node.id, `new leader, down ${downMs}ms`);
        this.cluster.schedule(downMs, "", () => this.cluster.restart(node.id));
      });
    }
  }

  /** The node keeps hearing everyone but nothing it sends arrives. */
  private muteSoon(node: SimNode, delayMs: number, lastsMs: number): void {
    this.cluster.schedule(delayMs, "", () => {
      if (!this.cluster.faultsEnabled) return;
      const links = this.liveIds()
        .filter((id) => id !== node.id)
        .map((id): readonly [NodeId, NodeId] => [node.id, id]);
      const p = this.cluster.network.partition(links);
      this.note(`partition #${p}: new leader n${node.id} cannot send for ${lastsMs}ms`);
      this.cluster.schedule(lastsMs, `heal partition #${p}`, () => this.cluster.network.heal(p));
    });
  }

  /**
   * Cutting a leader off the moment it commits drops the broadcast that would carry
   * the new commit index and whatever it appended after the committed entries; a
   * follower is left holding entries the leader considers committed, and nothing more.
   */
  leaderCommitted(node: SimNode): void {
    if (!this.rng.chance(this.commitFaultRate)) return;
    this.isolateSoon(node, 0, this.rng.between(50, 500), "committing leader");
  }

  private isolateSoon(node: SimNode, delayMs: number, lastsMs: number, who: string): void {
    this.cluster.schedule(delayMs, "", () => {
      if (!this.cluster.faultsEnabled) return;
      const links: Array<readonly [NodeId, NodeId]> = [];
      for (const id of this.liveIds()) if (id !== node.id) links.push([node.id, id], [id, node.id]);
      const p = this.cluster.network.partition(links);
      this.note(`partition #${p}: ${who} n${node.id} isolated for ${lastsMs}ms`);
      this.cluster.schedule(lastsMs, `heal partition #${p}`, () => this.cluster.network.heal(p));
    });
  }

  private note(text: string): void {
    this.cluster.trace.add(this.cluster.nowMs, "sim", text);
  }

  /** Mostly the leader (where writes succeed), sometimes anyone (exercises refusals). */
  private clientTarget(): SimNode | null {
    const running = this.cluster.runningNodes();
    if (running.length === 0) return null;
    const leader = this.cluster.leader();
    if (leader !== null && this.rng.chance(0.8)) return leader;
    return this.rng.pick(running);
  }

  private propose(): void {
    const node = this.clientTarget();
    if (node === null) return;
    const burst = this.rng.between(1, 3);
    for (let i = 0; i < burst; i++) {
      const w = this.cluster.client.propose(node);
      this.cluster.traceNode(
        node.id,
        w instanceof RaftError ? `propose refused (${w.code})` : `propose ${w.payload} at ${w.index}/${w.term}`,
      );
      if (w instanceof RaftError) return;
    }
  }

  private read(): void {
    const node = this.clientTarget();
    if (node === null) return;
    const r = this.cluster.client.read(node);
    this.cluster.traceNode(node.id, r instanceof RaftError ? `readIndex refused (${r.code})` : `readIndex ctx=${r}`);
  }

  /** Short outages are restarts; long ones leave a node far enough behind to need a snapshot. */
  private downtimeMs(): number {
    const roll = this.rng.int(100);
    if (roll < 50) return this.rng.between(5, 80);
    if (roll < 85) return this.rng.between(80, 600);
    return this.rng.between(600, 3000);
  }

  private crash(): void {
    const members = [...this.cluster.nodes.values()].filter((n) => n.state !== "stopped");
    const running = members.filter((n) => n.running);
    // Keep at least one node up; a fully dead cluster only wastes simulated time.
    if (running.length <= 1) return;
    const leader = this.cluster.leader();
    const victim = leader !== null && this.rng.chance(0.4) ? leader : this.rng.pick(running);
    const downMs = this.downtimeMs();
    this.cluster.crash(victim.id, `fault, down ${downMs}ms`);
    this.cluster.schedule(downMs, "", () => this.cluster.restart(victim.id));
  }

  /** The next matching write of the node never becomes durable: the process dies first. */
  private armCrashPoint(): void {
    const running = this.cluster.runningNodes();
    if (running.length === 0) return;
    const leader = this.cluster.leader();
    let node: SimNode;
    let point: CrashPoint;
    if (leader !== null && this.rng.chance(0.5)) {
      // A leader dying right after shipping entries to a minority: the Figure-8 opening.
      node = leader;
      point = this.rng.pick<CrashPoint>(["entriesWrite", "anyWrite"]);
    } else {
      node = this.rng.pick(running);
      point = this.rng.pick<CrashPoint>(["voteWrite", "voteWrite", "anyWrite"]);
    }
    node.crashPoint = point;
    this.note(`arm crash point ${point} on n${node.id}`);
  }

  private liveIds(): NodeId[] {
    return [...this.cluster.nodes.values()].filter((n) => n.state !== "stopped").map((n) => n.id);
  }

  private healLater(partition: number, minMs: number, maxMs: number): void {
    const afterMs = this.rng.between(minMs, maxMs);
    this.cluster.schedule(afterMs, `heal partition #${partition}`, () => this.cluster.network.heal(partition));
  }

  private partition(): void {
    const ids = this.liveIds();
    if (ids.length < 2) return;
    const shuffled = this.rng.sample(ids, ids.length);
    const side = shuffled.slice(0, this.rng.between(1, Math.floor(ids.length / 2)));
    const rest = shuffled.slice(side.length);
    const links: Array<readonly [NodeId, NodeId]> = [];
    for (const a of side) {
      for (const b of rest) links.push([a, b], [b, a]);
    }
    const p = this.cluster.network.partition(links);
    this.note(`partition #${p}: {${side.join(",")}} | {${rest.join(",")}}`);
    this.healLater(p, 30, 800);
  }

  private isolateLeader(): void {
    const leader = this.cluster.leader();
    if (leader !== null) this.isolateSoon(leader, 0, this.rng.between(50, 600), "leader");
  }

  /** Asymmetric faults: a node that can send but not hear, or hear but not send. */
  private oneWay(): void {
    const ids = this.liveIds();
    if (ids.length < 2) return;
    const node = this.rng.pick(ids);
    const others = ids.filter((id) => id !== node);
    const targets = this.rng.chance(0.5) ? others : this.rng.sample(others, this.rng.between(1, others.length));
    const outbound = this.rng.chance(0.5);
    const links = targets.map((t): readonly [NodeId, NodeId] => (outbound ? [node, t] : [t, node]));
    const p = this.cluster.network.partition(links);
    this.note(
      `partition #${p}: one-way, n${node} ${outbound ? "cannot send to" : "cannot hear from"} {${targets.join(",")}}`,
    );
    this.healLater(p, 30, 600);
  }

  private transfer(): void {
    const leader = this.cluster.leader();
    if (leader === null) return;
    const voters = leader.raft.status().conf.voters.filter((id) => id !== leader.id);
    if (voters.length === 0) return;
    const target = this.rng.pick(voters);
    const err = leader.raft.transferLeader(target);
    this.cluster.traceNode(leader.id, `transferLeader to n${target}${err ? ` refused (${err.code})` : ""}`);
  }

  /** One or two nodes start an election at the same instant: split votes, same-term rivals. */
  private campaign(): void {
    const running = this.cluster.runningNodes().filter((n) => n.raft.status().role !== "leader");
    if (running.length === 0) return;
    for (const node of this.rng.sample(running, Math.min(running.length, this.rng.between(1, 2)))) {
      this.cluster.traceNode(node.id, "campaign()");
      node.raft.campaign();
    }
  }

  private slowDisk(): void {
    const running = this.cluster.runningNodes();
    if (running.length === 0) return;
    const node = this.rng.pick(running);
    const durationMs = this.rng.between(50, 500);
    this.cluster.slowDisk(node.id, durationMs);
    this.note(`slow disk on n${node.id} for ${durationMs}ms`);
  }
}
