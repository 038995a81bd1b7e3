import { formatDuration } from "../scenario/parse.ts";
import type { NodeId, Step, Target } from "../scenario/steps.ts";
import { LocalCluster, type ClusterView, type LinkFaults, type LocalClusterOptions } from "../cluster/local-cluster.ts";
import { ChatWorkload, DEFAULT_OPERATION_DEADLINE_MS, type WorkloadResult } from "../workload/chat-workload.ts";
import { HistoryRecorder } from "../workload/history-recorder.ts";
import { SeededRandom } from "../workload/seeded-random.ts";
import { runFinalCheck } from "./final-check.ts";
import type { NodeRow, StatusBoard } from "./status-board.ts";

const LEADER_TIMEOUT_MS = 20_000;
const MEMBERSHIP_TIMEOUT_MS = 30_000;
/** Ids with NATS users beyond the initial voters, for `add`. */
const SPARE_NODE_IDS = 4;

export interface RunnerOptions {
  readonly seed: number;
  readonly board: StatusBoard;
  /** Node i's HTTP port is base + i - 1 (default: free ports). */
  readonly httpPortBase?: number;
  /** Snapshot after this many applied entries; small so scenarios exercise snapshots. */
  readonly snapshotEvery?: number;
  /** Extra cluster settings (two machines: hosted ids, remote URLs, the local NATS server). */
  readonly cluster?: Partial<LocalClusterOptions>;
  /** The other machine of a two-machine run: steps on nodes it hosts go there. */
  readonly peer?: PeerMachine;
}

/**
 * Runs a step on the other machine and resolves once it is done there. For a partition
 * or heal it resolves true when it carried the step out as a real network change (a link
 * cut between the machines), so the nodes' fault hooks must stay out of it.
 */
export interface PeerMachine {
  run(step: Step): Promise<boolean | void>;
}

/** A step that did not do what it promised; the scenario stops with a non-zero exit. */
export class StepFailure extends Error {
  override readonly name = "StepFailure";
  constructor(
    readonly code: "expectation_failed" | "check_failed" | "no_cluster" | "step_failed",
    message: string,
    readonly excerpt: readonly string[] = [],
  ) {
    super(message);
  }
}

/**
 * Runs scenario steps against real processes on this machine: the cluster, the faults,
 * the recorded workload and the checkers. One runner per scenario (or prompt session).
 */
export class ScenarioRunner {
  private cluster: LocalCluster | null = null;
  private readonly recorder = new HistoryRecorder();
  private readonly random: SeededRandom;
  private workload: ChatWorkload | null = null;
  private lastWorkload: WorkloadResult | null = null;
  /** A `workload --background` still running. */
  private background: Promise<void> | null = null;

  constructor(private readonly options: RunnerOptions) {
    this.random = new SeededRandom(options.seed);
  }

  get hasHistory(): boolean {
    return this.recorder.size > 0;
  }

  get running(): LocalCluster | null {
    return this.cluster;
  }

  async run(step: Step): Promise<void> {
    const board = this.options.board;
    switch (step.kind) {
      case "say":
        board.print(`\n» ${step.text}`);
        return;
      case "cluster":
        return this.startCluster(step.nodes);
      case "status":
        return board.printTable();
      case "wait":
        await new Promise((resolve) => setTimeout(resolve, step.ms));
        return;
      default:
        break;
    }
    const cluster = this.requireCluster();
    switch (step.kind) {
      case "fail":
      case "kill":
      case "stop":
      case "pause": {
        const ids = await this.resolve(step.target);
        const local = await this.forwardRemote(ids, (remote) => ({ ...step, target: remote }));
        for (const id of local) {
          if (step.kind === "stop") await cluster.stopNode(id);
          else if (step.kind === "pause") cluster.pause(id);
          else await cluster.kill(id);
          board.print(`  node ${id} ${step.kind === "stop" ? "stopped (SIGTERM)" : step.kind === "pause" ? "paused (SIGSTOP)" : "killed (SIGKILL)"}`);
        }
        return;
      }
      case "resume":
        for (const id of await this.forwardRemote(step.nodes, (remote) => ({ ...step, nodes: remote }))) {
          cluster.resume(id);
          board.print(`  node ${id} resumed (SIGCONT)`);
        }
        return;
      case "restart": {
        const local = await this.forwardRemote(step.nodes, (remote) => ({ ...step, nodes: remote }));
        // Restarting a node that runs is a no-op, so "restart 1,2,3,4,5" brings back
        // whichever nodes an earlier `fail leader` happened to take down.
        const down = local.filter((id) => cluster.processState(id) === "down");
        const up = local.filter((id) => !down.includes(id));
        await Promise.all(down.map((id) => cluster.startNode(id)));
        if (down.length > 0) board.print(`  restarted ${down.map((id) => `node ${id}`).join(", ")} on their own data`);
        if (up.length > 0) board.print(`  ${up.map((id) => `node ${id}`).join(", ")} already running`);
        return;
      }
      case "partition":
        if ((await this.peer?.run(step)) === true) return;
        return this.applyFaults(partitionFaults(cluster.nodeIds(), step.groups), `partitioned ${step.groups.map((g) => g.join(",")).join(" | ")}`);
      case "cut": {
        await this.peer?.run(step);
        const faults = new Map(cluster.nodeIds().map((id) => [id, cluster.linkFaults(id)]));
        for (const from of step.from) faults.set(from, addPeers(faults.get(from), step.to, []));
        for (const to of step.to) faults.set(to, addPeers(faults.get(to), [], step.from));
        return this.applyFaults(faults, `cut ${step.from.join(",")} -> ${step.to.join(",")} (one way)`);
      }
      case "isolate": {
        const targets = await this.resolve(step.target);
        await this.peer?.run({ kind: "isolate", target: targets });
        const faults = new Map(cluster.nodeIds().map((id) => [id, cluster.linkFaults(id)]));
        for (const id of targets) {
          const others = cluster.nodeIds().filter((o) => o !== id);
          faults.set(id, { dropTo: others, dropFrom: others });
        }
        return this.applyFaults(faults, `isolated ${step.target === "leader" ? "the leader" : step.target.join(",")}`);
      }
      case "heal":
        if ((await this.peer?.run(step)) === true) return;
        return this.applyFaults(new Map(cluster.nodeIds().map((id) => [id, { dropTo: [], dropFrom: [] }])), "healed every link");
      case "add":
        return this.addMember(step.node);
      case "remove":
        return this.removeMember(step.node);
      case "transfer":
        return this.transfer(step.node);
      case "wait-leader": {
        const leader = await this.waitLeader();
        board.print(`  leader: node ${leader.nodeId} (term ${leader.term})`);
        return;
      }
      case "workload": {
        await this.settleBackground();
        const running = this.runWorkload(step.count, step.clients ?? 8, step.deadlineMs ?? DEFAULT_OPERATION_DEADLINE_MS);
        if (step.background !== true) return running;
        running.catch(() => {}); // reported when a later step settles it
        this.background = running;
        return;
      }
      case "expect": {
        await this.settleBackground();
        const last = this.lastWorkload;
        if (last === null) throw new StepFailure("expectation_failed", "expect: no workload has run yet");
        if (last.outcome !== step.outcome) {
          throw new StepFailure("expectation_failed", `expected the workload to be ${step.outcome}, but it was ${last.outcome} (${describeWorkload(last)})`);
        }
        board.print(`  ✓ as expected: ${step.outcome}`);
        return;
      }
      case "check":
        return this.check();
    }
  }

  /** Wait for a background workload, if one runs. */
  private async settleBackground(): Promise<void> {
    const running = this.background;
    this.background = null;
    if (running !== null) {
      this.options.board.print("  waiting for the background workload to finish …");
      await running;
    }
  }

  /** The checkers over everything recorded so far. */
  async check(): Promise<void> {
    await this.settleBackground();
    const cluster = this.requireCluster();
    if (this.workload === null) {
      this.options.board.print("  check: no workload has run; nothing to check");
      return;
    }
    this.options.board.print("  checking: waiting for the nodes to converge, reading every conversation from every node …");
    const result = await runFinalCheck(cluster, this.recorder, this.workload);
    if (!result.ok) throw new StepFailure("check_failed", result.summary, result.excerpt);
    this.options.board.print(`  ✓ ${result.summary}`);
  }

  async close(): Promise<void> {
    await this.background?.catch(() => {});
    this.options.board.attach(null);
    await this.cluster?.stop();
    this.cluster = null;
  }

  private requireCluster(): LocalCluster {
    if (this.cluster === null) throw new StepFailure("no_cluster", "no cluster is running: start one with `cluster N`");
    return this.cluster;
  }

  private async startCluster(nodes: number): Promise<void> {
    if (this.cluster !== null) throw new StepFailure("step_failed", "a cluster is already running");
    this.options.board.print(`  starting nats-server and ${nodes} nodes …`);
    const cluster = await LocalCluster.start({
      nodes,
      maxNodeId: nodes + SPARE_NODE_IDS,
      faultInjection: true,
      // The workload's clients all log in from 127.0.0.1; per-address limits would turn
      // its races (sign-ups, logins to accounts deleted meanwhile) into 429s.
      unlimitedLogins: true,
      snapshotEvery: this.options.snapshotEvery ?? 1000,
      ...(this.options.httpPortBase !== undefined ? { httpPortBase: this.options.httpPortBase } : {}),
      ...this.options.cluster,
    });
    this.cluster = cluster;
    await this.peer?.run({ kind: "cluster", nodes });
    this.workload = new ChatWorkload(() => reachableUrls(cluster), this.recorder, this.random);
    this.options.board.attach({ rows: () => clusterRows(cluster) });
    const urls = cluster.nodeIds().map((id) => `${id}=${cluster.urls.get(id)}`).join("  ");
    this.options.board.print(`  ${nodes} nodes up: ${urls}`);
  }

  private get peer(): PeerMachine | undefined {
    return this.options.peer;
  }

  /** Send the ids hosted elsewhere to the peer (as `make(ids)`); returns the ids hosted here. */
  private async forwardRemote(ids: readonly NodeId[], make: (remote: NodeId[]) => Step): Promise<NodeId[]> {
    const cluster = this.requireCluster();
    const remote = ids.filter((id) => !cluster.isHosted(id));
    if (remote.length > 0) {
      if (this.peer === undefined) throw new StepFailure("step_failed", `node ${remote.join(",")} does not run on this machine`);
      await this.peer.run(make(remote));
    }
    return ids.filter((id) => cluster.isHosted(id));
  }

  private async resolve(target: Target): Promise<NodeId[]> {
    if (target !== "leader") return [...target];
    return [(await this.waitLeader()).nodeId];
  }

  private waitLeader(): Promise<ClusterView> {
    return this.requireCluster().majorityLeader(LEADER_TIMEOUT_MS);
  }

  private async applyFaults(faults: ReadonlyMap<number, LinkFaults>, what: string): Promise<void> {
    const cluster = this.requireCluster();
    // Each machine sets the cuts of the nodes it hosts (the other machine got the step too).
    await Promise.all([...faults].filter(([id]) => cluster.isHosted(id)).map(([id, f]) => cluster.setLinkFaults(id, f)));
    this.options.board.print(`  ${what}`);
  }

  private async addMember(id: number): Promise<void> {
    const cluster = this.requireCluster();
    await cluster.startNode(id, { join: true });
    const leader = await this.waitLeader();
    const response = await cluster.admin(leader.nodeId, "POST", "/v1/cluster/members", { id, voter: true });
    if (response.status !== 202) throw new StepFailure("step_failed", `add ${id}: ${response.status} ${await response.text()}`);
    await cluster.waitFor(`node ${id} to become a voter`, async () => ((await this.waitLeader()).members.some((m) => m.id === id && m.voter) ? true : undefined), MEMBERSHIP_TIMEOUT_MS);
    this.options.board.print(`  node ${id} joined as a voter`);
  }

  private async removeMember(id: number): Promise<void> {
    const cluster = this.requireCluster();
    const leader = await this.waitLeader();
    const response = await cluster.admin(leader.nodeId, "DELETE", `/v1/cluster/members/${id}`);
    if (response.status !== 202) throw new StepFailure("step_failed", `remove ${id}: ${response.status} ${await response.text()}`);
    await cluster.waitFor(`node ${id} to leave the configuration`, async () => ((await this.waitLeader()).members.some((m) => m.id === id) ? undefined : true), MEMBERSHIP_TIMEOUT_MS);
    if (cluster.isHosted(id)) await cluster.stopNode(id);
    this.options.board.print(`  node ${id} removed from the cluster and stopped`);
  }

  private async transfer(to: number): Promise<void> {
    const cluster = this.requireCluster();
    const leader = await this.waitLeader();
    if (leader.nodeId !== to) {
      const response = await cluster.admin(leader.nodeId, "POST", "/v1/cluster/leader", { to });
      if (response.status !== 202) throw new StepFailure("step_failed", `transfer ${to}: ${response.status} ${await response.text()}`);
      await cluster.waitFor(`node ${to} to lead`, async () => ((await this.waitLeader()).nodeId === to ? true : undefined), LEADER_TIMEOUT_MS);
    }
    this.options.board.print(`  leadership is with node ${to}`);
  }

  private async runWorkload(count: number, clients: number, deadlineMs: number): Promise<void> {
    const workload = this.workload;
    if (workload === null) throw new StepFailure("no_cluster", "no cluster is running");
    this.options.board.print(`  workload: ${count} operations from ${clients} clients (each within ${formatDuration(deadlineMs)}) …`);
    this.lastWorkload = await workload.run({ count, clients, deadlineMs });
    this.options.board.print(`  workload ${this.lastWorkload.outcome}: ${describeWorkload(this.lastWorkload)}`);
  }
}

export function describeWorkload(r: WorkloadResult): string {
  const errors = Object.entries(r.errors).map(([code, n]) => `${n}× ${code}`).join(", ");
  return `${r.ok} ok, ${r.failed} failed, ${r.unknown} unknown of ${r.operations} in ${r.elapsedMs} ms (slowest ${r.latencyMsMax} ms)${errors === "" ? "" : `; errors: ${errors}`}`;
}

/** The cut set of every node for a partition: nothing crosses between groups. */
export function partitionFaults(nodeIds: readonly number[], groups: readonly (readonly number[])[]): Map<number, LinkFaults> {
  const groupOf = new Map<number, number>();
  groups.forEach((g, i) => g.forEach((id) => groupOf.set(id, i)));
  const faults = new Map<number, LinkFaults>();
  for (const id of nodeIds) {
    const mine = groupOf.get(id);
    // A node in no group keeps every link; a grouped node loses those to other groups.
    const cut = mine === undefined ? [] : nodeIds.filter((o) => o !== id && groupOf.has(o) && groupOf.get(o) !== mine);
    faults.set(id, { dropTo: cut, dropFrom: cut });
  }
  return faults;
}

function addPeers(current: LinkFaults | undefined, dropTo: readonly number[], dropFrom: readonly number[]): LinkFaults {
  const union = (a: readonly number[], b: readonly number[]) => [...new Set([...a, ...b])].sort((x, y) => x - y);
  return { dropTo: union(current?.dropTo ?? [], dropTo), dropFrom: union(current?.dropFrom ?? [], dropFrom) };
}

/**
 * The nodes a client on this machine can reach: every hosted node (a killed one refuses
 * at once, a paused one hangs — both are what clients meet), and the other machine's
 * nodes that answer now (behind a cut link they would only swallow each attempt).
 */
async function reachableUrls(cluster: LocalCluster): Promise<string[]> {
  const urls = await Promise.all(
    cluster.nodeIds().map(async (id) => {
      const url = cluster.urls.get(id);
      if (url === undefined) return null;
      if (cluster.isHosted(id)) return url;
      const answered = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(500) }).then((r) => r.ok, () => false);
      return answered ? url : null;
    }),
  );
  return urls.filter((u): u is string => u !== null);
}

async function clusterRows(cluster: LocalCluster): Promise<NodeRow[]> {
  return Promise.all(
    cluster.nodeIds().map(async (id) => {
      const faults = cluster.linkFaults(id);
      const cut = [...new Set([...faults.dropTo, ...faults.dropFrom])].sort((a, b) => a - b);
      return { id, state: cluster.processState(id), view: await cluster.view(id), cuts: cut.length === 0 ? "" : `cut ${cut.join(",")}` };
    }),
  );
}

