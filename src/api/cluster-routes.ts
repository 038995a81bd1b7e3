import { createRoute, z } from "@hono/zod-openapi";
import { createRouter, type ApiDeps } from "./api-env.ts";
import { anyClientError, errors, publicAccess } from "./schemas.ts";
import { openStream, Waker } from "./sse.ts";
import type { NodeView } from "../node/chat-backend.ts";

/** Status pushes per dashboard stream at most per second; changes in between are coalesced. */
const STATUS_EVENTS_PER_SECOND = 10;

export const ClusterStatus = z
  .object({
    cluster: z.string(),
    nodeId: z.number().int(),
    role: z.enum(["follower", "preCandidate", "candidate", "leader"]),
    term: z.number().int(),
    leader: z.number().int().nullable(),
    commitIndex: z.number().int(),
    appliedIndex: z.number().int(),
    lastIndex: z.number().int(),
    snapshotIndex: z.number().int(),
    stateDigest: z.object({ index: z.number().int(), digest: z.string() }).openapi({ description: "the digest chained over every applied entry, at the index it describes" }),
    members: z.array(
      z.object({
        id: z.number().int(),
        voter: z.boolean(),
        matchIndex: z.number().int().nullable().openapi({ description: "known on the leader only" }),
        lastContactMs: z.number().nullable(),
      }),
    ),
    io: z.record(z.string(), z.number()),
  })
  .openapi("ClusterStatus");

export type ClusterStatus = z.infer<typeof ClusterStatus>;

export async function clusterStatus(node: NodeView): Promise<ClusterStatus> {
  const s = node.status();
  const applied = await node.appliedState();
  const progress = new Map(s.progress.map((p) => [p.id, p]));
  const members = [...s.conf.voters.map((id) => ({ id, voter: true })), ...s.conf.learners.map((id) => ({ id, voter: false }))].map(({ id, voter }) => {
    const p = progress.get(id);
    return { id, voter, matchIndex: p?.match ?? null, lastContactMs: p === undefined ? null : p.lastContactTicks * s.tickIntervalMs };
  });
  return {
    cluster: node.cluster,
    nodeId: s.id,
    role: s.role,
    term: s.term,
    leader: s.leader === 0 ? null : s.leader,
    commitIndex: s.commit,
    appliedIndex: s.applied,
    lastIndex: s.lastIndex,
    snapshotIndex: s.snapshotIndex,
    stateDigest: { index: applied.index, digest: applied.digest },
    members,
    io: { ...s.io },
  };
}

/** Health, readiness and the cluster view (GET /v1/cluster): needs only the node's status. */
export function clusterRoutes(node: NodeView) {
  const app = createRouter();

  app.openapi(
    createRoute({
      method: "get",
      path: "/healthz",
      operationId: "getHealth",
      tags: ["operations"],
      summary: "200 while the process runs",
      security: publicAccess,
      responses: { 200: { description: "alive", content: { "application/json": { schema: z.object({ ok: z.boolean() }) } } }, ...anyClientError },
    }),
    (c) => c.json({ ok: true }, 200),
  );

  const Ready = z.object({ ready: z.boolean(), leader: z.number().int(), commitIndex: z.number().int(), appliedIndex: z.number().int() });
  app.openapi(
    createRoute({
      method: "get",
      path: "/readyz",
      operationId: "getReadiness",
      tags: ["operations"],
      summary: "200 when the node knows a leader and has applied up to the commit it knows",
      security: publicAccess,
      responses: {
        200: { description: "ready", content: { "application/json": { schema: Ready } } },
        503: { description: "not ready", content: { "application/json": { schema: Ready } } },
        ...anyClientError,
      },
    }),
    async (c) => {
      // A follower may hold committed entries back to apply them in one batch: apply them
      // now, so that ready means applied, as it says.
      await node.applyHeld(1000).catch(() => {});
      const s = node.status();
      const ready = s.leader !== 0 && s.applied >= s.commit;
      const body = { ready, leader: s.leader, commitIndex: s.commit, appliedIndex: s.applied };
      return ready ? c.json(body, 200) : c.json(body, 503);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/cluster",
      operationId: "getClusterStatus",
      tags: ["cluster"],
      summary: "This node's view of the cluster",
      security: publicAccess,
      responses: { 200: { description: "status", content: { "application/json": { schema: ClusterStatus } } }, ...anyClientError },
    }),
    async (c) => c.json(await clusterStatus(node), 200),
  );

  return app;
}

/**
 * The dashboard's status, built once per change for every open stream: each stream used
 * to build its own (a database read and a JSON text per stream per change), so 1,000
 * anonymous streams cost 1,000 of both ten times a second. It listens to the node only
 * while some stream is open, and rebuilds at most STATUS_EVENTS_PER_SECOND times a
 * second; changes in between are coalesced into the next build.
 */
export class SharedClusterStatus {
  private latest: string | null = null;
  private version = 0;
  private readonly subscribers = new Set<() => void>();
  private stopListening: (() => void) | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private building = false;
  private dirty = false;
  private lastBuildAt = -Infinity;
  /** Status objects built so far (tests count them). */
  builds = 0;

  constructor(private readonly node: NodeView & { onStatusChange(listener: () => void): () => void }) {}

  /** The latest status JSON and its version (versions only grow), or null before the first build. */
  current(): { readonly json: string; readonly version: number } | null {
    return this.latest === null ? null : { json: this.latest, version: this.version };
  }

  /** `listener` runs whenever a new status is built; returns the unsubscribe function. */
  subscribe(listener: () => void): () => void {
    this.subscribers.add(listener);
    if (this.stopListening === null) {
      this.stopListening = this.node.onStatusChange(() => this.changed());
      this.changed();
    }
    return () => {
      this.subscribers.delete(listener);
      if (this.subscribers.size > 0) return;
      this.stopListening?.();
      this.stopListening = null;
      if (this.timer !== null) clearTimeout(this.timer);
      this.timer = null;
      // Nobody watches: the next first stream builds afresh instead of seeing this one.
      this.latest = null;
    };
  }

  private changed(): void {
    if (this.timer !== null) return;
    if (this.building) {
      this.dirty = true;
      return;
    }
    const wait = Math.max(0, this.lastBuildAt + 1000 / STATUS_EVENTS_PER_SECOND - performance.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.build();
    }, wait);
  }

  private async build(): Promise<void> {
    if (this.stopListening === null) return;
    this.building = true;
    this.lastBuildAt = performance.now();
    try {
      this.builds++;
      const json = JSON.stringify(await clusterStatus(this.node));
      if (json !== this.latest && this.stopListening !== null) {
        this.latest = json;
        this.version++;
        for (const listener of [...this.subscribers]) listener();
      }
    } catch {
      // A failed read of the applied state: the next change tries again.
    } finally {
      this.building = false;
      if (this.dirty) {
        this.dirty = false;
        this.changed();
      }
    }
  }
}

/** GET /v1/cluster/events: the /v1/cluster object whenever it changes (dashboard). */
export function clusterEventRoutes(deps: ApiDeps, shared: SharedClusterStatus) {
  const app = createRouter();

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/cluster/events",
      operationId: "streamClusterStatus",
      tags: ["cluster"],
      security: publicAccess,
      summary: "The cluster status as Server-Sent Events, on every change (at most ~10/s)",
      description: `Anonymous streams have a pool of their own (${deps.dashboardStreams.limits.max} per node, ${deps.dashboardStreams.limits.perAddress} per client address); past it, 429 overloaded.`,
      responses: { 200: { description: "an event stream of ClusterStatus objects", content: { "text/event-stream": { schema: z.string() } } }, ...errors(429) },
    }),
    (c) =>
      openStream(c, deps, { pool: deps.dashboardStreams, account: null }, async (stream) => {
        const waker = new Waker(stream);
        const unsubscribe = shared.subscribe(() => waker.wake());
        try {
          let sent = 0;
          while (!stream.aborted) {
            // Only the newest status is written: a slow stream skips the ones in between.
            const status = shared.current();
            if (status !== null && status.version !== sent) {
              sent = status.version;
              await stream.writeSSE({ event: "status", data: status.json });
            }
            await waker.wait();
          }
        } finally {
          unsubscribe();
        }
      }),
  );

  return app;
}
