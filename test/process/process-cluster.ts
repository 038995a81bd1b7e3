import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, NatsServer } from "../../src/cli/nats-server-process.ts";
import { NodeProcess } from "../../src/cli/node-process.ts";
import { createClient } from "@libsql/client";
import { NodeRpcClient } from "../../src/node/node-rpc-client.ts";

export interface ClusterView {
  nodeId: number;
  role: string;
  term: number;
  leader: number | null;
  commitIndex: number;
  appliedIndex: number;
  snapshotIndex: number;
  stateDigest: { index: number; digest: string };
  members: { id: number; voter: boolean; matchIndex: number | null }[];
  io: { raftWrites: number; fsyncs: number; applyBatches: number; entriesApplied: number };
}

export interface ProcessClusterOptions {
  nodes: number;
  /** Ids that get NATS users (room for members added later). */
  maxNodeId?: number;
  snapshotEvery?: number;
}

const WAIT_MS = 20_000;
const POLL_MS = 25;

/** Real nats-server + node processes on free ports in a temp dir; stop() ends them all by PID. */
export class ProcessCluster {
  readonly processes = new Map<number, NodeProcess>();
  readonly urls = new Map<number, string>();

  private constructor(
    readonly dir: string,
    readonly nats: NatsServer,
    readonly client: NodeRpcClient,
    private readonly options: ProcessClusterOptions,
  ) {}

  static async start(options: ProcessClusterOptions): Promise<ProcessCluster> {
    const dir = await mkdtemp(join(tmpdir(), "concord-cluster-"));
    const ids = Array.from({ length: options.maxNodeId ?? options.nodes }, (_, i) => i + 1);
    const nats = await NatsServer.start({ cluster: "concord", nodeIds: ids });
    let client: NodeRpcClient;
    try {
      client = await NodeRpcClient.connect({ servers: nats.url, cluster: "concord", user: nats.client.user, pass: nats.client.pass });
    } catch (error) {
      await nats.stop();
      throw error;
    }
    const cluster = new ProcessCluster(dir, nats, client, options);
    try {
      const voters = ids.slice(0, options.nodes);
      await Promise.all(voters.map((id) => cluster.startNode(id, { peers: voters })));
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  /** Start (or restart, on its existing data) node `id`. */
  async startNode(id: number, how: { peers?: number[]; join?: boolean } = {}): Promise<void> {
    let node = this.processes.get(id);
    if (node === undefined) {
      const port = await freePort();
      const { user, pass } = this.nats.credentials(id);
      const args = ["--id", String(id), "--data", join(this.dir, `node-${id}`), "--nats", this.nats.url, "--nats-user", user, "--nats-pass", pass,
        "--http", `127.0.0.1:${port}`, "--tick-ms", "20", "--snapshot-every", String(this.options.snapshotEvery ?? 10_000)];
      if (how.join === true) args.push("--join");
      else args.push("--peers", (how.peers ?? []).join(","));
      node = new NodeProcess({ id, args, logPath: join(this.dir, `node-${id}.log`) });
      this.processes.set(id, node);
    }
    const { http } = await node.start();
    this.urls.set(id, http);
  }

  node(id: number): NodeProcess {
    const node = this.processes.get(id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  running(): number[] {
    return [...this.processes.values()].filter((n) => n.running).map((n) => n.id);
  }

  /** GET /v1/cluster on node `id`, or null when it does not answer. */
  async view(id: number): Promise<ClusterView | null> {
    const url = this.urls.get(id);
    if (url === undefined || !this.node(id).running) return null;
    try {
      const response = await fetch(`${url}/v1/cluster`, { signal: AbortSignal.timeout(1000) });
      return response.ok ? ((await response.json()) as ClusterView) : null;
    } catch {
      return null;
    }
  }

  /** Poll until `check` returns a value (state in other processes has no event to await here). */
  async waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = WAIT_MS): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await check();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await Bun.sleep(POLL_MS);
    }
  }

  /** The leader every running node agrees on. */
  leader(timeoutMs = WAIT_MS): Promise<number> {
    return this.waitFor(
      "one leader agreed by every running node",
      async () => {
        const views = await Promise.all(this.running().map((id) => this.view(id)));
        if (views.some((v) => v === null)) return undefined;
        const leaders = new Set(views.map((v) => v!.leader));
        const leader = views.find((v) => v!.role === "leader");
        return leaders.size === 1 && leader != null && leader.leader === leader.nodeId ? leader.nodeId : undefined;
      },
      timeoutMs,
    );
  }

  /** Every running node has applied at least `index`; returns their views. */
  converged(index: number, timeoutMs = WAIT_MS): Promise<ClusterView[]> {
    return this.waitFor(
      `every running node to apply ${index}`,
      async () => {
        const views = await Promise.all(this.running().map((id) => this.view(id)));
        return views.every((v) => v !== null && v.appliedIndex >= index && v.stateDigest.index === v.appliedIndex) ? (views as ClusterView[]) : undefined;
      },
      timeoutMs,
    );
  }

  /** Propose through `via` (any node); resolves with the entry's index. */
  async propose(via: number, text: string, timeoutMs = 5000): Promise<number> {
    return (await this.client.propose(via, new TextEncoder().encode(text), timeoutMs)).index;
  }

  /**
   * The raft log as node `id` holds it on disk (readable while it runs: WAL mode), as
   * the proposals' own bytes (the leader's 8-byte clock stamp removed).
   */
  async logOnDisk(id: number): Promise<Map<number, string>> {
    const db = createClient({ url: `file:${join(this.dir, `node-${id}`, "node.db")}` });
    try {
      const rows = await db.execute("SELECT idx, data FROM raft_log WHERE kind = 0 ORDER BY idx");
      // Every proposal starts with the leader's clock (8 bytes, see command-codec.ts).
      return new Map(rows.rows.map((r) => [Number(r[0]), new TextDecoder().decode(new Uint8Array(r[1] as ArrayBuffer).subarray(8))]));
    } finally {
      db.close();
    }
  }

  async stop(): Promise<void> {
    await Promise.all([...this.processes.values()].map((n) => n.kill()));
    for (const n of this.processes.values()) n.dispose();
    await this.client.close().catch(() => {});
    await this.nats.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}
