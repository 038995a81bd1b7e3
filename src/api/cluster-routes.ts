import { createRoute, z } from "@hono/zod-openapi";
import { createRouter, type ApiDeps } from "./api-env.ts";
import { errors } from "./schemas.ts";
import { openStream, Waker } from "./sse.ts";
import type { NodeView } from "./node-view.ts";

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
    createRoute({ method: "get", path: "/healthz", summary: "200 while the process runs", responses: { 200: { description: "alive", content: { "application/json": { schema: z.object({ ok: z.boolean() }) } } } } }),
    (c) => c.json({ ok: true }, 200),
  );

  const Ready = z.object({ ready: z.boolean(), leader: z.number().int(), commitIndex: z.number().int(), appliedIndex: z.number().int() });
  app.openapi(
    createRoute({
      method: "get",
      path: "/readyz",
      summary: "200 when the node knows a leader and has applied up to the commit it knows",
      responses: { 200: { description: "ready", content: { "application/json": { schema: Ready } } }, 503: { description: "not ready", content: { "application/json": { schema: Ready } } } },
    }),
    (c) => {
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
      summary: "This node's view of the cluster",
      responses: { 200: { description: "status", content: { "application/json": { schema: ClusterStatus } } } },
    }),
    async (c) => c.json(await clusterStatus(node), 200),
  );

  return app;
}

/** GET /v1/cluster/events: the /v1/cluster object whenever it changes (dashboard). */
export function clusterEventRoutes(deps: ApiDeps) {
  const app = createRouter();
  const { backend } = deps;

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/cluster/events",
      summary: "The cluster status as Server-Sent Events, on every change (at most ~10/s)",
      responses: { 200: { description: "an event stream of ClusterStatus objects", content: { "text/event-stream": { schema: z.string() } } }, ...errors(429) },
    }),
    (c) =>
      openStream(c, deps, async (stream) => {
        const waker = new Waker(stream);
        const unsubscribe = backend.onStatusChange(() => waker.wake());
        try {
          let last = "";
          while (!stream.aborted) {
            const json = JSON.stringify(await clusterStatus(backend));
            if (json !== last) await stream.writeSSE({ event: "status", data: json });
            last = json;
            // Changes during this pause are coalesced into the next push.
            await new Promise((resolve) => setTimeout(resolve, 1000 / STATUS_EVENTS_PER_SECOND));
            await waker.wait();
          }
        } finally {
          unsubscribe();
        }
      }),
  );

  return app;
}
