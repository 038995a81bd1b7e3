import { Hono } from "hono";
import type { NodeView } from "./node-view.ts";

/** Health, readiness and the cluster view (GET /v1/cluster). */
export function clusterRoutes(node: NodeView): Hono {
  const app = new Hono();

  app.get("/healthz", (c) => c.json({ ok: true }));

  app.get("/readyz", (c) => {
    const s = node.status();
    // Ready: a leader is known and we have applied everything we know to be committed.
    const ready = s.leader !== 0 && s.applied >= s.commit;
    return c.json({ ready, leader: s.leader, commitIndex: s.commit, appliedIndex: s.applied }, ready ? 200 : 503);
  });

  app.get("/v1/cluster", async (c) => {
    const s = node.status();
    const applied = await node.appliedState();
    const progress = new Map(s.progress.map((p) => [p.id, p]));
    const members = [
      ...s.conf.voters.map((id) => ({ id, voter: true })),
      ...s.conf.learners.map((id) => ({ id, voter: false })),
    ].map(({ id, voter }) => {
      const p = progress.get(id);
      return {
        id,
        voter,
        matchIndex: p?.match ?? null,
        lastContactMs: p === undefined ? null : p.lastContactTicks * s.tickIntervalMs,
      };
    });
    return c.json({
      cluster: node.cluster,
      nodeId: s.id,
      role: s.role,
      term: s.term,
      leader: s.leader === 0 ? null : s.leader,
      commitIndex: s.commit,
      appliedIndex: s.applied,
      lastIndex: s.lastIndex,
      snapshotIndex: s.snapshotIndex,
      // The digest chained over every applied entry, at the index it describes.
      stateDigest: { index: applied.index, digest: applied.digest },
      members,
      io: s.io,
    });
  });

  return app;
}
