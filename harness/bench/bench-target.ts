// What `concord bench` drives: a 5-node LocalCluster it starts (and stops by PID), or an
// existing cluster given by URL (no process control: no CPU figures, failover or growth).
import { LocalCluster, type ClusterView } from "../cluster/local-cluster.ts";

/** The benchmark's own process (its clients) among the metered ones. */
export const CLIENT_PROCESS = "bench (clients)";

export interface BenchTarget {
  /** Node id -> HTTP base URL of every node. */
  urls(): Map<number, string>;
  /** The node every answering node agrees leads. */
  leader(timeoutMs?: number): Promise<number>;
  view(id: number): Promise<ClusterView | null>;
  /** Named PIDs to meter ("node 3", "nats-server", "bench"); empty for a remote cluster. */
  pids(): Map<string, number>;
  /** The cluster when we run it here; null for --target. */
  readonly local: LocalCluster | null;
  stop(): Promise<void>;
}

export async function startLocalTarget(options: { snapshotEvery: number; dir?: string }): Promise<BenchTarget> {
  const cluster = await LocalCluster.start({ nodes: 5, snapshotEvery: options.snapshotEvery, ...(options.dir !== undefined ? { dir: options.dir } : {}) });
  return {
    local: cluster,
    urls: () => new Map(cluster.urls),
    leader: (timeoutMs) => cluster.leader(timeoutMs),
    view: (id) => cluster.view(id),
    pids: () => {
      const pids = new Map<string, number>();
      for (const id of cluster.running()) {
        const pid = cluster.node(id).pid;
        if (pid !== null) pids.set(`node ${id}`, pid);
      }
      if (cluster.nats.pid !== null) pids.set("nats-server", cluster.nats.pid);
      pids.set(CLIENT_PROCESS, process.pid);
      return pids;
    },
    stop: () => cluster.stop(),
  };
}

export function remoteTarget(list: readonly string[]): BenchTarget {
  const byId = new Map<number, string>();
  const pending = list.map((u) => u.replace(/\/+$/, ""));
  const view = async (url: string): Promise<ClusterView | null> => {
    try {
      const response = await fetch(`${url}/v1/cluster`, { signal: AbortSignal.timeout(2000) });
      return response.ok ? ((await response.json()) as ClusterView) : null;
    } catch {
      return null;
    }
  };
  const resolve = async () => {
    if (byId.size === pending.length) return;
    for (const url of pending) {
      const v = await view(url);
      if (v === null) throw new Error(`--target ${url} does not answer GET /v1/cluster`);
      byId.set(v.nodeId, url);
    }
  };
  return {
    local: null,
    urls: () => new Map(byId),
    view: async (id) => {
      await resolve();
      const url = byId.get(id);
      return url === undefined ? null : view(url);
    },
    leader: async (timeoutMs = 20_000) => {
      await resolve();
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const views = (await Promise.all([...byId.values()].map(view))).filter((v): v is ClusterView => v !== null);
        const lead = views.find((v) => v.role === "leader" && v.leader === v.nodeId);
        if (lead !== undefined && views.every((v) => v.leader === lead.nodeId)) return lead.nodeId;
        if (Date.now() > deadline) throw new Error("the target cluster has no agreed leader");
        await Bun.sleep(50);
      }
    },
    pids: () => new Map([[CLIENT_PROCESS, process.pid]]),
    stop: async () => {},
  };
}

/** URLs ordered starting at the leader, then by node id: client 0 talks to the leader. */
export function urlsFromLeader(urls: ReadonlyMap<number, string>, leader: number): string[] {
  const ids = [...urls.keys()].sort((a, b) => a - b);
  const at = Math.max(0, ids.indexOf(leader));
  return [...ids.slice(at), ...ids.slice(0, at)].map((id) => urls.get(id)!);
}
