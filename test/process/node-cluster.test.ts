import { afterEach, describe, expect, test } from "bun:test";
import { LocalCluster, type ClusterView } from "../../harness/cluster/local-cluster.ts";

// Real node processes on libSQL and a real nats-server. Each test starts its own
// cluster and stops every process it started, by PID, even when it fails.

let cluster: LocalCluster | null = null;
afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

/** All views at one applied index with one digest: the same state everywhere. */
function expectSameState(views: ClusterView[]): void {
  expect(new Set(views.map((v) => v.appliedIndex)).size).toBe(1);
  expect(new Set(views.map((v) => v.stateDigest.digest)).size).toBe(1);
}

/** Wait until every running node has applied the leader's commit, then compare. */
async function settle(c: LocalCluster): Promise<ClusterView[]> {
  const leader = await c.leader();
  const commit = (await c.view(leader))!.commitIndex;
  const views = await c.converged(commit);
  return c.waitFor("identical applied index on every node", async () => {
    const again = await Promise.all(c.running().map((id) => c.view(id)));
    return again.every((v) => v !== null && v.appliedIndex === again[0]!.appliedIndex) ? (again as ClusterView[]) : undefined;
  }).catch(() => views);
}

/**
 * `total` proposals through the running nodes, `concurrency` at a time; returns index →
 * text. Like any client it retries a proposal that failed (an election under load);
 * a retry may duplicate a command whose first try committed, which these checks allow.
 */
async function writeMany(c: LocalCluster, total: number, concurrency: number, tag: string): Promise<Map<number, string>> {
  const acked = new Map<number, string>();
  let next = 0;
  let retries = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const n = next++;
        const text = `${tag}-${n}`;
        for (let attempt = 0; ; attempt++) {
          const running = c.running();
          try {
            acked.set(await c.propose(running[(n + attempt) % running.length]!, text), text);
            break;
          } catch (error) {
            if (attempt >= 20) throw error;
            retries++;
          }
        }
      }
    }),
  );
  if (retries > 0) console.log(`${tag}: ${retries} proposals retried`);
  return acked;
}

describe("five node processes on libSQL and NATS", () => {
  test("elect one leader; 10,000 proposals commit; every node applies the same sequence", async () => {
    // No compaction here: the test reads every acknowledged entry back from each log.
    cluster = await LocalCluster.start({ nodes: 5, rpcTool: true, snapshotEvery: 100_000 });
    const leader = await cluster.leader();
    const views = await Promise.all(cluster.running().map((id) => cluster!.view(id)));
    expect(views.filter((v) => v?.role === "leader").map((v) => v!.nodeId)).toEqual([leader]);

    const acked = await writeMany(cluster, 10_000, 64, "w");
    expect(acked.size).toBe(10_000);
    expectSameState(await settle(cluster));
    // Every acknowledged write sits at its index, with its bytes, on every node's disk.
    for (const id of cluster.running()) {
      const log = await cluster.logOnDisk(id);
      for (const [index, text] of acked) expect(log.get(index)).toBe(text);
    }
  }, 120_000);

  test("kill -9 the leader: a new one is elected and writes resume", async () => {
    cluster = await LocalCluster.start({ nodes: 5, rpcTool: true });
    const first = await cluster.leader();
    const acks: number[] = [];
    let writing = true;
    const writer = (async () => {
      for (let i = 0; writing; i++) {
        const via = cluster!.running().find((id) => id !== first) ?? 1;
        try {
          // A request caught by the kill waits out its timeout; keep it short so the
          // gap measures the election, not the client.
          await cluster!.propose(via, `k-${i}`, 300);
          acks.push(performance.now());
        } catch {
          // unavailable during the election: keep trying
        }
      }
    })();
    await cluster.waitFor("some writes before the kill", async () => (acks.length >= 50 ? true : undefined));
    await cluster.node(first).kill();
    const second = await cluster.leader();
    const before = acks.length;
    await cluster.waitFor("writes after the new leader", async () => (acks.length >= before + 50 ? true : undefined));
    writing = false;
    await writer;
    expect(second).not.toBe(first);
    // The longest pause between two acknowledged writes: what a user sees of the failover.
    let gapMs = 0;
    for (let i = 1; i < acks.length; i++) gapMs = Math.max(gapMs, acks[i]! - acks[i - 1]!);
    console.log(`leader ${first} killed: longest write gap ${gapMs.toFixed(0)} ms, new leader ${second}`);
    expect(gapMs).toBeLessThan(5000);
    expectSameState(await settle(cluster));
  }, 60_000);

  test("two followers killed and restarted catch up from their own disk", async () => {
    cluster = await LocalCluster.start({ nodes: 5, rpcTool: true });
    const leader = await cluster.leader();
    const [a, b] = cluster.running().filter((id) => id !== leader);
    await writeMany(cluster, 300, 16, "before");
    await cluster.node(a!).kill();
    await cluster.node(b!).kill();
    const acked = await writeMany(cluster, 500, 16, "during");
    await cluster.startNode(a!);
    await cluster.startNode(b!);
    const views = await settle(cluster);
    expectSameState(views);
    expect(views.length).toBe(5);
    for (const id of [a!, b!]) {
      const log = await cluster.logOnDisk(id);
      for (const [index, text] of acked) expect(log.get(index)).toBe(text);
    }
  }, 60_000);

  test("a node kept down past compaction catches up by snapshot", async () => {
    cluster = await LocalCluster.start({ nodes: 3, rpcTool: true, snapshotEvery: 200 });
    const leader = await cluster.leader();
    const lagging = cluster.running().find((id) => id !== leader)!;
    await writeMany(cluster, 50, 8, "early");
    const laggingApplied = (await cluster.view(lagging))!.appliedIndex;
    await cluster.node(lagging).kill();
    await writeMany(cluster, 1000, 16, "late");
    // The leader has compacted past everything the lagging node holds: only a snapshot can help it.
    const leaderView = await cluster.waitFor("leader compaction", async () => {
      const v = await cluster!.view(leader);
      return v !== null && v.snapshotIndex > laggingApplied + 1 ? v : undefined;
    });
    await cluster.startNode(lagging);
    const views = await settle(cluster);
    expectSameState(views);
    const caughtUp = views.find((v) => v.nodeId === lagging)!;
    expect(caughtUp.appliedIndex).toBeGreaterThanOrEqual(leaderView.snapshotIndex);
    expect(caughtUp.snapshotIndex).toBeGreaterThan(laggingApplied);
  }, 60_000);

  test("restarting the NATS server mid-load loses no acknowledged write; service resumes", async () => {
    cluster = await LocalCluster.start({ nodes: 5, rpcTool: true });
    await cluster.leader();
    const acked = new Map<number, string>();
    let writing = true;
    let failures = 0;
    const writers = Array.from({ length: 8 }, (_, w) =>
      (async () => {
        for (let i = 0; writing; i++) {
          const text = `n-${w}-${i}`;
          try {
            acked.set(await cluster!.propose(cluster!.running()[i % 5]!, text, 2000), text);
          } catch {
            failures++;
          }
        }
      })(),
    );
    await cluster.waitFor("writes before the restart", async () => (acked.size >= 200 ? true : undefined));
    await cluster.nats.restart("SIGKILL");
    const before = acked.size;
    await cluster.waitFor("writes after the restart", async () => (acked.size >= before + 200 ? true : undefined), 30_000);
    writing = false;
    await Promise.all(writers);
    expectSameState(await settle(cluster));
    for (const id of cluster.running()) {
      const log = await cluster.logOnDisk(id);
      for (const [index, text] of acked) expect(log.get(index)).toBe(text);
    }
    console.log(`NATS restart: ${acked.size} acknowledged writes kept, ${failures} failed during the outage`);
  }, 90_000);

  test("add a 6th node as a learner, promote it, remove the leader (admin calls through a follower): the cluster goes on", async () => {
    cluster = await LocalCluster.start({ nodes: 5, rpcTool: true, maxNodeId: 6 });
    const leader = await cluster.leader();
    // A follower forwards admin requests to the leader, sealed with the admin token.
    const follower = cluster.running().find((id) => id !== leader)!;
    const admin = async (method: string, path: string, body?: unknown) => {
      const response = await cluster!.admin(follower, method, path, body);
      expect(`${response.status} ${response.status === 202 ? "" : await response.text()}`).toBe("202 ");
    };
    await writeMany(cluster, 200, 8, "pre");
    await cluster.startNode(6, { join: true });
    await admin("POST", "/v1/cluster/members", { id: 6, voter: false });
    const commit = (await cluster.view(leader))!.commitIndex;
    await cluster.waitFor("learner 6 caught up", async () => ((await cluster!.view(6))?.appliedIndex ?? 0) >= commit ? true : undefined);
    await admin("POST", "/v1/cluster/members", { id: 6, voter: true });
    await cluster.waitFor("6 is a voter everywhere", async () => {
      const views = await Promise.all(cluster!.running().map((id) => cluster!.view(id)));
      return views.every((v) => v?.members.some((m) => m.id === 6 && m.voter)) ? true : undefined;
    });
    await admin("DELETE", `/v1/cluster/members/${leader}`);
    await cluster.node(leader).stop();
    const next = await cluster.leader();
    expect(next).not.toBe(leader);
    const acked = await writeMany(cluster, 200, 8, "post");
    expect(acked.size).toBe(200);
    const views = await settle(cluster);
    expectSameState(views);
    expect(views.map((v) => v.nodeId).sort()).toEqual([1, 2, 3, 4, 5, 6].filter((id) => id !== leader));
  }, 90_000);
});
