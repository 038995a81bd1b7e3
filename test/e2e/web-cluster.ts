// A real cluster for the browser tests: nats-server and N node processes on free ports,
// each told every node's address (--web-peers) so the page can fail over. stop() ends
// everything it started, by PID, and removes the data.

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, NatsServer } from "../../src/cli/nats-server-process.ts";
import { NodeProcess } from "../../src/cli/node-process.ts";

export const ADMIN_TOKEN = "e2e-admin-token";

export interface NodeStatus {
  nodeId: number;
  role: string;
  leader: number | null;
  term: number;
}

export class WebCluster {
  private constructor(
    readonly dir: string,
    readonly nats: NatsServer,
    readonly nodes: Map<number, NodeProcess>,
    readonly urls: Map<number, string>,
  ) {}

  static async start(count: number): Promise<WebCluster> {
    const dir = await mkdtemp(join(tmpdir(), "concord-e2e-"));
    const ids = Array.from({ length: count }, (_, i) => i + 1);
    const nats = await NatsServer.start({ cluster: "concord", nodeIds: ids });
    const cluster = new WebCluster(dir, nats, new Map(), new Map());
    try {
      const ports = await Promise.all(ids.map(() => freePort()));
      for (const [i, id] of ids.entries()) cluster.urls.set(id, `http://127.0.0.1:${ports[i]}`);
      const webPeers = [...cluster.urls.values()].join(",");
      await Promise.all(
        ids.map(async (id) => {
          const node = new NodeProcess({
            id,
            logPath: join(dir, `node-${id}.log`),
            args: ["--id", String(id), "--data", join(dir, `node-${id}`), ...nats.nodeArgs(id),
              "--http", cluster.urls.get(id)!.replace("http://", ""), "--peers", ids.join(","), "--web-peers", webPeers],
            env: { CONCORD_ADMIN_TOKEN: ADMIN_TOKEN },
          });
          cluster.nodes.set(id, node);
          await node.start();
        }),
      );
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  url(id: number): string {
    const url = this.urls.get(id);
    if (url === undefined) throw new Error(`no node ${id}`);
    return url;
  }

  idOf(url: string): number {
    for (const [id, u] of this.urls) if (u === url) return id;
    throw new Error(`no node at ${url}`);
  }

  async status(id: number): Promise<NodeStatus | null> {
    try {
      const response = await fetch(`${this.url(id)}/v1/cluster`, { signal: AbortSignal.timeout(1000) });
      return response.ok ? ((await response.json()) as NodeStatus) : null;
    } catch {
      return null;
    }
  }

  /** The leader every running node agrees on (other processes' state: polled, bounded). */
  async leader(timeoutMs = 15_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const running = [...this.nodes.values()].filter((n) => n.running).map((n) => n.id);
      const views = await Promise.all(running.map((id) => this.status(id)));
      const leaders = new Set(views.map((v) => v?.leader ?? null));
      const leader = views.find((v) => v?.role === "leader");
      if (leaders.size === 1 && leader != null && !leaders.has(null)) return leader.nodeId;
      if (Date.now() > deadline) throw new Error(`no agreed leader within ${timeoutMs} ms`);
      await Bun.sleep(50);
    }
  }

  async kill(id: number): Promise<void> {
    await this.nodes.get(id)?.kill();
  }

  async stop(): Promise<void> {
    await Promise.all([...this.nodes.values()].map((n) => n.kill()));
    for (const n of this.nodes.values()) n.dispose();
    await this.nats.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}
