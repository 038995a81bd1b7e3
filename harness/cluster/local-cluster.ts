import { randomBytes } from "node:crypto";
import { chmod, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@libsql/client";
import { freePort, NatsServer } from "../../src/cli/nats-server-process.ts";
import { NodeProcess } from "../../src/cli/node-process.ts";
import { NodeRpcClient } from "../../src/cli/node-rpc-client.ts";
import { readNatsIdentity, writeSecretFile } from "../../src/transport/nats-identity.ts";
import { type NatsPermissions, toolPermissions } from "../../src/transport/subjects.ts";

/** GET /v1/cluster as a node reports it. */
export interface ClusterView {
  nodeId: number;
  role: string;
  term: number;
  leader: number | null;
  commitIndex: number;
  appliedIndex: number;
  snapshotIndex: number;
  stateDigest: { index: number; digest: string };
  members: { id: number; voter: boolean; matchIndex: number | null; lastContactMs?: number | null }[];
  io: { raftWrites: number; fsyncs: number; applyBatches: number; entriesApplied: number };
}

/** Traffic node `id` loses: to these peers, and from these peers (see FaultInjectingTransport). */
export interface LinkFaults {
  readonly dropTo: readonly number[];
  readonly dropFrom: readonly number[];
}

export type ProcessState = "up" | "down" | "paused" | "remote";

export interface LocalClusterOptions {
  /** Voters of the new cluster: nodes 1..nodes. */
  nodes: number;
  /** Ids that get NATS users (room for members added later); default `nodes`. */
  maxNodeId?: number;
  /** The ids this machine runs (default all); others are reached at `remoteUrls`. */
  hosted?: readonly number[];
  /** HTTP address of nodes another machine runs. */
  remoteUrls?: ReadonlyMap<number, string>;
  /** Keep data here (default: a temp dir, removed at stop()). */
  dir?: string;
  /** Interface nodes listen on (default 127.0.0.1). */
  httpHost?: string;
  /** Node i listens on httpPortBase + i - 1 (default: free ports). */
  httpPortBase?: number;
  /** A running NATS server to use (two machines); default: start one on a free port. */
  nats?: NatsServer;
  snapshotEvery?: number;
  tickMs?: number;
  /** Start nodes with --fault-injection so partitions act on their traffic. */
  faultInjection?: boolean;
  /** Start nodes with --unlimited-logins: every client of the workload logs in from 127.0.0.1. */
  unlimitedLogins?: boolean;
  logLevel?: "debug" | "info" | "warn" | "error";
  /** Bearer token for the admin routes (default: a random one). */
  adminToken?: string;
  /**
   * Give this cluster's own nats-server the tool identity and connect `client` with it:
   * opaque proposals straight to the nodes, no HTTP (process tests, bench:node). Off by
   * default; never with a server passed in `nats`. Everything else goes through HTTP.
   */
  rpcTool?: boolean;
  /** More identities on this cluster's own nats-server (tests: an intruder). */
  guests?: Readonly<Record<string, NatsPermissions>>;
}

const WAIT_MS = 20_000;
const POLL_MS = 25;
const VIEW_TIMEOUT_MS = 1000;

/**
 * Real nats-server and node processes on this machine: start, kill -9, stop, pause,
 * restart on existing data, cut links, change membership. Every process is controlled by
 * the PID it got, and stop() ends them all. Used by the harness, `concord bench` and the
 * process tests.
 */
export class LocalCluster {
  readonly processes = new Map<number, NodeProcess>();
  /** HTTP base URL per node id, hosted here or remote. */
  readonly urls = new Map<number, string>();
  private readonly faults = new Map<number, LinkFaults>();

  private constructor(
    readonly dir: string,
    readonly nats: NatsServer,
    private readonly rpcClient: NodeRpcClient | null,
    readonly adminToken: string,
    /** The admin token's file (0600), which nodes are pointed at. */
    readonly adminTokenFile: string,
    private readonly options: LocalClusterOptions,
    private readonly ownsDir: boolean,
    private readonly ownsNats: boolean,
  ) {
    for (const [id, url] of options.remoteUrls ?? []) this.urls.set(id, url);
  }

  static async start(options: LocalClusterOptions): Promise<LocalCluster> {
    const dir = options.dir ?? (await mkdtemp(join(tmpdir(), "concord-cluster-")));
    await mkdir(dir, { recursive: true });
    const ids = Array.from({ length: options.maxNodeId ?? options.nodes }, (_, i) => i + 1);
    await chmod(dir, 0o700);
    if (options.nats !== undefined && (options.rpcTool === true || options.guests !== undefined)) {
      throw new Error("rpcTool and guests are for a cluster's own nats-server: give the identities to the server passed in `nats`");
    }
    const guests = { ...(options.guests ?? {}), ...(options.rpcTool === true ? { tool: toolPermissions("concord") } : {}) };
    // As `cluster up` does: the server's configuration and identities in the data directory.
    const nats = options.nats ?? (await NatsServer.start({ cluster: "concord", nodeIds: ids, guests, dir: join(dir, "nats") }));
    let client: NodeRpcClient | null = null;
    try {
      if (options.rpcTool === true) {
        client = await NodeRpcClient.connect({
          servers: nats.url,
          cluster: "concord",
          seed: readNatsIdentity(nats.guestIdentityFile("tool")).seed,
          ...(nats.caFile !== null ? { tls: { caFile: nats.caFile } } : {}),
        });
      }
    } catch (error) {
      if (options.nats === undefined) await nats.stop();
      throw error;
    }
    const token = options.adminToken ?? randomBytes(18).toString("base64url");
    const tokenFile = join(dir, "admin-token");
    writeSecretFile(tokenFile, token);
    const cluster = new LocalCluster(dir, nats, client, token, tokenFile, options, options.dir === undefined, options.nats === undefined);
    try {
      const voters = ids.slice(0, options.nodes);
      const hosted = options.hosted ?? voters;
      await Promise.all(hosted.map((id) => cluster.startNode(id, { peers: voters })));
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  /** The tool's node API client (only with rpcTool). */
  get client(): NodeRpcClient {
    if (this.rpcClient === null) throw new Error("this cluster has no tool identity: start it with rpcTool (tools go through HTTP)");
    return this.rpcClient;
  }

  /** Ids of the nodes this machine runs (whatever their state). */
  hosted(): number[] {
    return [...this.processes.keys()].sort((a, b) => a - b);
  }

  /** Every node id known here: hosted or remote. */
  nodeIds(): number[] {
    return [...new Set([...this.processes.keys(), ...this.urls.keys()])].sort((a, b) => a - b);
  }

  /** Start (or restart, on its existing data) node `id`. */
  async startNode(id: number, how: { peers?: readonly number[]; join?: boolean } = {}): Promise<void> {
    let node = this.processes.get(id);
    if (node === undefined) {
      const host = this.options.httpHost ?? "127.0.0.1";
      const port = this.options.httpPortBase !== undefined ? this.options.httpPortBase + id - 1 : await freePort();
      // Paths only: the identity and the admin token stay in their 0600 files.
      const args = ["--id", String(id), "--data", join(this.dir, `node-${id}`), ...this.nats.nodeArgs(id), "--admin-token-file", this.adminTokenFile,
        "--http", `${host}:${port}`, "--tick-ms", String(this.options.tickMs ?? 20), "--snapshot-every", String(this.options.snapshotEvery ?? 10_000),
        "--log-level", this.options.logLevel ?? "warn"];
      if (this.options.faultInjection === true) args.push("--fault-injection");
      if (this.options.unlimitedLogins === true) args.push("--unlimited-logins");
      if (how.join === true) args.push("--join");
      else args.push("--peers", (how.peers ?? []).join(","));
      node = new NodeProcess({ id, args, logPath: join(this.dir, `node-${id}.log`) });
      this.processes.set(id, node);
    }
    const { http } = await node.start();
    this.urls.set(id, http.replace("//0.0.0.0:", "//127.0.0.1:"));
    // A restarted process starts with no cuts: put back the ones in force.
    const faults = this.faults.get(id);
    if (faults !== undefined && (faults.dropTo.length > 0 || faults.dropFrom.length > 0)) await this.putFaults(id, faults);
  }

  node(id: number): NodeProcess {
    const node = this.processes.get(id);
    if (node === undefined) throw new Error(`node ${id} does not run on this machine`);
    return node;
  }

  isHosted(id: number): boolean {
    return this.processes.has(id);
  }

  /** Hosted nodes whose process is alive (paused ones included). */
  running(): number[] {
    return [...this.processes.values()].filter((n) => n.running).map((n) => n.id).sort((a, b) => a - b);
  }

  processState(id: number): ProcessState {
    const node = this.processes.get(id);
    if (node === undefined) return "remote";
    if (!node.running) return "down";
    return node.paused ? "paused" : "up";
  }

  /** GET /v1/cluster on node `id`, or null when it does not answer. */
  async view(id: number): Promise<ClusterView | null> {
    const url = this.urls.get(id);
    if (url === undefined) return null;
    const node = this.processes.get(id);
    if (node !== undefined && (!node.running || node.paused)) return null;
    try {
      const response = await fetch(`${url}/v1/cluster`, { signal: AbortSignal.timeout(VIEW_TIMEOUT_MS) });
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

  /** Nodes that answer right now: running, not paused, reachable. */
  async answering(): Promise<ClusterView[]> {
    const views = await Promise.all(this.nodeIds().map((id) => this.view(id)));
    return views.filter((v): v is ClusterView => v !== null);
  }

  /**
   * The leader every running hosted node agrees on (remote nodes that answer count too).
   * Paused and cut-off nodes cannot agree, so pass `among` to name the nodes that must.
   */
  leader(timeoutMs = WAIT_MS, among?: readonly number[]): Promise<number> {
    return this.waitFor(
      "one leader agreed by every running node",
      async () => {
        const ids = among ?? this.nodeIds().filter((id) => this.processState(id) === "up" || this.processState(id) === "remote");
        const views = await Promise.all(ids.map((id) => this.view(id)));
        const answered = views.filter((v): v is ClusterView => v !== null);
        // Hosted nodes we expect up must answer; remote ones may be down.
        if (views.some((v, i) => v === null && this.processState(ids[i]!) !== "remote")) return undefined;
        const leaders = new Set(answered.map((v) => v.leader));
        const leader = answered.find((v) => v.role === "leader");
        return leaders.size === 1 && leader !== undefined && leader.leader === leader.nodeId ? leader.nodeId : undefined;
      },
      timeoutMs,
    );
  }

  /**
   * A leader that a majority of its voters, among the nodes that answer, follow in its
   * term. Unlike leader(), it holds under a partition, where the minority cannot agree.
   */
  majorityLeader(timeoutMs = WAIT_MS): Promise<ClusterView> {
    return this.waitFor(
      "a leader followed by a majority",
      async () => {
        const views = await this.answering();
        for (const leader of views.filter((v) => v.role === "leader")) {
          const voters = leader.members.filter((m) => m.voter).map((m) => m.id);
          const following = views.filter((v) => voters.includes(v.nodeId) && v.leader === leader.nodeId && v.term === leader.term).length;
          if (following > voters.length / 2) return leader;
        }
        return undefined;
      },
      timeoutMs,
    );
  }

  /** Every running hosted node has applied at least `index`; returns their views. */
  converged(index: number, timeoutMs = WAIT_MS, among: readonly number[] = this.running()): Promise<ClusterView[]> {
    return this.waitFor(
      `nodes ${among.join(",")} to apply ${index}`,
      async () => {
        const views = await Promise.all(among.map((id) => this.view(id)));
        return views.every((v) => v !== null && v.appliedIndex >= index && v.stateDigest.index === v.appliedIndex) ? (views as ClusterView[]) : undefined;
      },
      timeoutMs,
    );
  }

  /** Propose opaque bytes through `via` (any node; needs rpcTool); resolves with the entry's index. */
  async propose(via: number, text: string, timeoutMs = 5000): Promise<number> {
    return (await this.client.propose(via, new TextEncoder().encode(text), timeoutMs)).index;
  }

  async kill(id: number): Promise<void> {
    await this.node(id).kill();
  }

  async stopNode(id: number): Promise<void> {
    await this.node(id).stop();
  }

  pause(id: number): void {
    this.node(id).pause();
  }

  resume(id: number): void {
    this.node(id).resume();
  }

  /** The cuts now in force at node `id`. */
  linkFaults(id: number): LinkFaults {
    return this.faults.get(id) ?? { dropTo: [], dropFrom: [] };
  }

  /**
   * Set node `id`'s cut links (needs faultInjection). A node that is down gets them when
   * it restarts; a paused one gets them on the next set after it resumes.
   */
  async setLinkFaults(id: number, faults: LinkFaults): Promise<void> {
    if (this.options.faultInjection !== true) throw new Error("partitions need a cluster started with faultInjection");
    this.faults.set(id, faults);
    if (this.processState(id) === "up" || this.processState(id) === "remote") await this.putFaults(id, faults);
  }

  private async putFaults(id: number, faults: LinkFaults): Promise<void> {
    const response = await this.admin(id, "PUT", "/v1/debug/faults", faults);
    if (!response.ok) throw new Error(`node ${id} refused the fault set: ${response.status} ${await response.text()}`);
  }

  /** An admin call to node `id` (membership, transfer, faults). */
  async admin(id: number, method: string, path: string, body?: unknown): Promise<Response> {
    const url = this.urls.get(id);
    if (url === undefined) throw new Error(`no address for node ${id}`);
    return fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.adminToken}`, "content-type": "application/json" },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(10_000),
    });
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

  /** Kill every process we started (by PID) and remove what we own. Safe to call twice. */
  async stop(): Promise<void> {
    await Promise.all([...this.processes.values()].map((n) => n.kill()));
    for (const n of this.processes.values()) n.dispose();
    await this.rpcClient?.close().catch(() => {});
    if (this.ownsNats) await this.nats.stop();
    if (this.ownsDir) await rm(this.dir, { recursive: true, force: true });
  }
}
