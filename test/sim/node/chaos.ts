// The whole-node simulator's fault schedule: each step draws client traffic or a fault,
// weighted by the seed's scenario. Faults that last schedule their own end. Crashes land
// anywhere in the node's work — mid-write, mid-snapshot copy, mid-transfer, mid-install,
// mid-compaction — and "crash busy" aims one at a node with disk work in flight.

import type { Message, NodeId } from "../../../src/raft/types.ts";
import type { Scenario } from "../scenario.ts";
import type { SimRandom } from "../sim-random.ts";
import { RuleBroken } from "../violation.ts";
import type { CrashKind } from "./disk.ts";
import type { ChatWorkload } from "./workload.ts";
import type { Machine, NodeWorld } from "./world.ts";

type Action =
  | "send"
  | "read"
  | "crash"
  | "powerLoss"
  | "crashBusy"
  | "partition"
  | "isolateLeader"
  | "oneWay"
  | "membership"
  | "transfer"
  | "slowDisk"
  | "stallLeaderDisk"
  | "forge"
  | "isolateAndTransfer"
  | "crashOnVote";

const MIN_VOTERS = 3;
const REQUEST_TIMEOUT_MS = 2000;

export class NodeChaos {
  private readonly weights: ReadonlyArray<readonly [Action, number]>;
  private nextNodeId: number;
  /** A leader whose disk was stalled on purpose, and what must follow. */
  stallChecks = 0;
  /** For each watched stall, how long until another node led, in (base) election timeouts. */
  readonly stallRecoveryTimeouts: number[] = [];
  private quietUntilMs = 0;

  constructor(
    private readonly world: NodeWorld,
    private readonly rng: SimRandom,
    private readonly scenario: Scenario,
    private readonly workload: ChatWorkload,
    initialNodes: number,
    private readonly maxMembers: number,
  ) {
    this.nextNodeId = initialNodes + 1;
    const f = scenario.faultIntensity;
    this.weights = [
      ["send", 30],
      ["read", 8],
      ["crash", 1.5 * f],
      ["powerLoss", 1 * f],
      ["crashBusy", 2 * f],
      ["partition", 1.5 * f],
      ["isolateLeader", 1 * f],
      ["oneWay", 1 * f],
      ["membership", 1.5 * f],
      ["transfer", 1.5 * f],
      ["slowDisk", 0.7 * f],
      ["stallLeaderDisk", 0.4 * f],
      ["forge", 0.5 * f],
      ["isolateAndTransfer", 0.5 * f],
      ["crashOnVote", 2 * f],
    ];
  }

  step(): void {
    const action = this.rng.weighted(this.weights);
    // While a stalled leader is being watched, only clients act: nothing else may slow the election.
    if (this.world.nowMs < this.quietUntilMs && action !== "send" && action !== "read") return;
    switch (action) {
      case "send":
        return this.workload.send();
      case "read":
        return this.workload.read();
      case "crash":
        return this.crash(this.anyAlive(), "process", "kill -9");
      case "powerLoss":
        return this.crash(this.anyAlive(), "power", "power loss");
      case "crashBusy":
        return this.crash(this.busy(), this.rng.chance(0.3) ? "power" : "process", "crash with disk work in flight");
      case "partition":
        return this.partition();
      case "isolateLeader":
        return this.isolateLeader();
      case "oneWay":
        return this.oneWay();
      case "membership":
        return this.membership();
      case "transfer":
        return this.transfer();
      case "slowDisk":
        return this.slowDisk();
      case "stallLeaderDisk":
        return this.stallLeaderDisk();
      case "forge":
        return this.forge();
      case "isolateAndTransfer":
        return this.isolateAndTransfer();
      case "crashOnVote": {
        const m = this.anyAlive();
        if (m !== null) this.world.armVoteCrash(m.id);
        return;
      }
    }
  }

  private electionTimeoutMs(): number {
    return this.scenario.raft.electionTimeoutTicks * this.scenario.baseTickMs;
  }

  private anyAlive(): Machine | null {
    const alive = [...this.world.machines.values()].filter((m) => m.state === "running" || m.state === "starting");
    return alive.length === 0 ? null : this.rng.pick(alive);
  }

  private busy(): Machine | null {
    const busy = this.world.running().filter((m) => m.disk.pendingOps > 0);
    return busy.length === 0 ? this.anyAlive() : this.rng.pick(busy);
  }

  private crash(m: Machine | null, kind: CrashKind, why: string): void {
    if (m === null) return;
    this.world.crash(m.id, kind, why);
    const downMs = this.rng.chance(0.5) ? this.rng.between(1, 40) : this.rng.between(50, 6 * this.electionTimeoutMs());
    // Some come back on a slow disk: a restarted node then holds committed entries it has
    // not applied (configuration changes among them) for several election timeouts.
    const slowBootMs = this.rng.chance(0.25) ? this.rng.between(this.electionTimeoutMs(), 5 * this.electionTimeoutMs()) : 0;
    this.world.scheduler.at(downMs, () => {
      this.world.restart(m.id);
      if (slowBootMs > 0) this.world.stallDisk(m.id, slowBootMs);
    });
  }

  private liveIds(): NodeId[] {
    return [...this.world.machines.values()].filter((m) => m.state !== "stopped").map((m) => m.id);
  }

  private healLater(partition: number): void {
    const e = this.electionTimeoutMs();
    this.world.scheduler.at(this.rng.between(e, 8 * e), () => this.world.network.heal(partition));
  }

  private partition(): void {
    const ids = this.liveIds();
    if (ids.length < 2) return;
    const side = this.rng.sample(ids, this.rng.between(1, Math.floor(ids.length / 2)));
    const links: Array<readonly [NodeId, NodeId]> = [];
    for (const a of side) for (const b of ids) if (!side.includes(b)) links.push([a, b], [b, a]);
    this.world.note(`partition {${side.join(",")}} | rest`);
    this.healLater(this.world.network.partition(links));
  }

  private isolateLeader(): void {
    const leader = this.world.leader();
    if (leader === null) return;
    const links: Array<readonly [NodeId, NodeId]> = [];
    for (const b of this.liveIds()) if (b !== leader.id) links.push([leader.id, b], [b, leader.id]);
    this.world.note(`isolate leader n${leader.id}`);
    this.healLater(this.world.network.partition(links));
  }

  private oneWay(): void {
    const ids = this.liveIds();
    if (ids.length < 2) return;
    const [a, b] = this.rng.sample(ids, 2) as [NodeId, NodeId];
    this.world.note(`cut n${a} -> n${b}`);
    this.healLater(this.world.network.partition([[a, b]]));
  }

  private transfer(): void {
    const leader = this.world.leader();
    if (leader === null) return;
    const st = leader.node!.status();
    const others = st.conf.voters.filter((id) => id !== leader.id);
    if (others.length === 0) return;
    const to = this.rng.pick(others);
    this.world.traceNode(leader.id, `transfer leadership to n${to}`);
    leader.node!.transferLeadership(to, this.rng.between(50, 4 * this.electionTimeoutMs())).catch(() => {});
  }

  private membership(): void {
    const leader = this.world.leader();
    if (leader === null) return;
    const node = leader.node!;
    const { voters, learners } = node.status().conf;
    const moves: Array<readonly ["join" | "promote" | "removeVoter" | "dropLearner", number]> = [];
    if (voters.length + learners.length < this.maxMembers) moves.push(["join", 2]);
    if (learners.length > 0) moves.push(["promote", 3], ["dropLearner", 0.5]);
    if (voters.length > MIN_VOTERS) moves.push(["removeVoter", 2]);
    if (moves.length === 0) return;
    const move = this.rng.weighted(moves);
    const timeoutMs = 4 * this.electionTimeoutMs();
    switch (move) {
      case "join": {
        const id = this.nextNodeId++;
        this.world.addMachine(id, null);
        this.world.traceNode(leader.id, `membership: add learner n${id}`);
        node.addMember(id, false, timeoutMs).catch(() => {});
        return;
      }
      case "promote": {
        const id = this.rng.pick(learners);
        this.world.traceNode(leader.id, `membership: promote n${id}`);
        node.changeMembership({ type: "addVoter", nodeId: id }, timeoutMs).catch(() => {});
        return;
      }
      case "dropLearner":
      case "removeVoter": {
        const id = this.rng.pick(move === "dropLearner" ? learners : voters);
        this.world.traceNode(leader.id, `membership: remove n${id}`);
        node.changeMembership({ type: "removeNode", nodeId: id }, timeoutMs).catch(() => {});
        return;
      }
    }
  }

  /**
   * Messages no correct member sends: acknowledgements beyond the leader's log from a
   * member, and responses and vote requests at a far higher term from a non-member.
   */
  private forge(): void {
    const leader = this.world.leader();
    if (leader === null) return;
    const st = leader.node!.status();
    const voters = st.conf.voters.filter((id) => id !== leader.id);
    if (voters.length === 0) return;
    const base = { to: leader.id, logTerm: 0, entries: [], commit: 0, reject: false, rejectHint: 0, context: 0, snapshot: null };
    const beyond = st.lastIndex + this.rng.between(1, 40);
    const forged: Message[] = voters.slice(0, 2).map((from) => ({ ...base, type: "appResp", from, term: st.term, index: beyond }));
    const stranger = 90 + this.rng.int(9);
    forged.push({ ...base, type: "appResp", from: stranger, term: st.term + this.rng.between(1, 5), index: beyond });
    forged.push({ ...base, type: "vote", from: stranger, term: st.term + this.rng.between(1, 5), index: 0, logTerm: 0 });
    // A snapshot announced in a plain batch, with no bytes beside it, at a follower.
    const follower = voters[0]!;
    const snapshot = { index: st.commit, term: st.term, conf: st.conf };
    this.world.board.forge(follower, [{ ...base, to: follower, type: "snap", from: leader.id, term: st.term, index: 0, snapshot }]);
    this.world.note(`forge to leader n${leader.id}: acks at ${beyond} from ${voters.slice(0, 2).map((id) => `n${id}`).join(",")}, higher-term messages from n${stranger}`);
    this.world.board.forge(leader.id, forged);
  }

  /**
   * Cut the leader off and keep asking it to hand over to a node it cannot reach, as an
   * operator's retrying script would. Check-quorum must still depose it on schedule.
   */
  private isolateAndTransfer(): void {
    const leader = this.world.leader();
    if (leader === null) return;
    const others = leader.node!.status().conf.voters.filter((id) => id !== leader.id);
    if (others.length === 0) return;
    const e = this.electionTimeoutMs();
    const links: Array<readonly [NodeId, NodeId]> = [];
    for (const b of this.liveIds()) if (b !== leader.id) links.push([leader.id, b], [b, leader.id]);
    const lastsMs = this.rng.between(6 * e, 10 * e);
    const partition = this.world.network.partition(links);
    this.world.note(`isolate leader n${leader.id} and retry a transfer every ${Math.round(e / 2)} ms`);
    this.world.scheduler.at(lastsMs, () => this.world.network.heal(partition));
    const to = this.rng.pick(others);
    for (let at = 0; at < lastsMs; at += Math.max(1, Math.floor(e / 2))) {
      this.world.scheduler.at(at, () => {
        const m = this.world.machines.get(leader.id);
        if (m?.node !== null && m?.node !== undefined && m.state === "running") m.node.transferLeadership(to, e).catch(() => {});
      });
    }
  }

  private slowDisk(): void {
    const m = this.anyAlive();
    if (m === null) return;
    this.world.stallDisk(m.id, this.rng.between(5, 2 * this.electionTimeoutMs()));
  }

  /**
   * The leader's fsyncs hang for many election timeouts. The cluster must not be held
   * hostage: within two election timeouts (each up to twice the base, randomized) of the
   * first raft write that hangs, the others have started an election; a leader follows
   * as soon as they agree (the time is recorded: split votes can take a few rounds); and
   * once the disk is back, the old leader has stepped down. The final checks show it lost
   * nothing. The clock starts at the hung write, not the stall: a leader with nothing to
   * write (its proposals refused during a leadership transfer, say) still heartbeats,
   * rightly, and holds nobody hostage. Watched only when the rest of the cluster is
   * whole, the network loses nothing, the cluster runs the shipped election settings,
   * and no other fault acts meanwhile; otherwise the stall is just one more fault.
   */
  private stallLeaderDisk(): void {
    const leader = this.world.leader();
    if (leader === null) return;
    const e = this.electionTimeoutMs();
    const stallMs = this.rng.between(10 * e, 16 * e);
    const term = leader.node!.status().term;
    const watched = this.wholeAndCalm(leader);
    this.world.stallDisk(leader.id, stallMs);
    // A write that should hang: the first thing a stalled leader cannot do.
    this.workload.send();
    if (!watched) return;
    this.stallChecks++;
    const stalledAtMs = this.world.nowMs;
    const conditions = this.world.network.conditions;
    const slackMs = 100 + 2 * (conditions.slowRate > 0 ? conditions.slowMaxDelayMs : conditions.maxDelayMs);
    const noticedByMs = STALL_NOTICED_WITHIN_TIMEOUTS * 2 * e + slackMs;
    this.quietUntilMs = stalledAtMs + stallMs + noticedByMs;
    this.world.note(`watching stalled leader n${leader.id} (term ${term}): an election within ${noticedByMs} ms of its first hung raft write`);
    let hungAtMs: number | null = null;
    const poll = (): void => {
      if (!this.world.faultsEnabled) return;
      const m = this.world.machines.get(leader.id);
      if (hungAtMs === null && m !== undefined && m.state === "running" && m.disk.stalled && m.disk.pendingRaftWrites > 0) {
        const since = (hungAtMs = this.world.nowMs);
        this.world.note(`n${leader.id}'s raft write hangs: an election by +${noticedByMs} ms`);
        this.world.scheduler.at(noticedByMs, () => {
          if (!this.world.faultsEnabled) return;
          // A leader of a later term counts too: a transfer begun just before the stall
          // may have moved leadership already, with its election before the stall.
          if (!this.world.checker.campaignedSince(term, leader.id, stalledAtMs) && !this.world.checker.ledAfter(term, leader.id)) {
            this.world.violate(new RuleBroken("stalled leader", `n${leader.id}'s disk stalled while it led term ${term}; its raft write hung at ${since} ms and nobody campaigned within ${noticedByMs} ms`));
          }
        });
      }
      if (this.world.checker.ledAfter(term, leader.id)) {
        this.stallRecoveryTimeouts.push(Math.round(((this.world.nowMs - (hungAtMs ?? stalledAtMs)) / e) * 10) / 10);
        return;
      }
      if (this.world.nowMs - stalledAtMs < stallMs) this.world.scheduler.at(this.scenario.baseTickMs, poll);
    };
    this.world.scheduler.at(0, poll);
    this.world.scheduler.at(stallMs + noticedByMs, () => {
      const m = this.world.machines.get(leader.id);
      if (!this.world.faultsEnabled || m === undefined || m.node === null || m.state !== "running") return;
      const st = m.node.status();
      if (st.role === "leader" && st.term === term) this.world.violate(new RuleBroken("stalled leader", `n${leader.id} still leads term ${term} after its disk came back`));
    });
  }

  /** Every voter but `leader` runs with a healthy disk, no link among voters is cut, and nothing is lost. */
  private wholeAndCalm(leader: Machine): boolean {
    if (this.world.network.conditions.lossRate > 0) return false;
    // Without pre-vote a follower with a stale log keeps bumping the term and resetting the
    // others' timers, and an election can take many timeouts (Raft's known limit). The
    // bound is for the configuration that ships: pre-vote and check-quorum on.
    if (!this.scenario.raft.preVote || !this.scenario.raft.checkQuorum) return false;
    const { voters } = leader.node!.status().conf;
    for (const id of voters) {
      const m = this.world.machines.get(id);
      if (m === undefined || m.state !== "running" || (id !== leader.id && m.disk.stalled)) return false;
      for (const other of voters) if (other !== id && this.world.network.isBlocked(id, other)) return false;
    }
    return true;
  }
}

/** "Within two election timeouts" of the stall, each up to twice the base timeout (randomized). */
const STALL_NOTICED_WITHIN_TIMEOUTS = 2;
