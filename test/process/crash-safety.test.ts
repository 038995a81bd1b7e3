import { afterEach, describe, expect, test } from "bun:test";
import { SeededRng } from "../../src/raft/random.ts";
import { LocalCluster } from "../../harness/cluster/local-cluster.ts";

// kill -9 in the middle of heavy writes, again and again: every write the node
// acknowledged must be on its disk afterwards, at its index, with its bytes, and the
// node must start again on the log it left (a hole or a torn entry would refuse).

const KILLS = 10;
const SEED = 7;

let cluster: LocalCluster | null = null;
afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

async function writeUntilKilled(c: LocalCluster, via: () => number, killAfterMs: number, kill: () => Promise<void>, tag: string) {
  const acked = new Map<number, string>();
  let stop = false;
  const writers = Array.from({ length: 32 }, (_, w) =>
    (async () => {
      for (let i = 0; !stop; i++) {
        const text = `${tag}-${w}-${i}`;
        try {
          acked.set(await c.propose(via(), text, 1000), text);
        } catch {
          // the kill: outcomes from here on are unknown and not counted
        }
      }
    })(),
  );
  await c.waitFor("writes under way", async () => (acked.size >= 20 ? true : undefined));
  await Bun.sleep(killAfterMs); // a random point in the middle of the load
  await kill();
  stop = true;
  await Promise.all(writers);
  return acked;
}

describe("crash safety under kill -9", () => {
  test(`a single node killed ${KILLS} times mid-write keeps every write it acknowledged (seed ${SEED})`, async () => {
    const rng = new SeededRng(SEED);
    cluster = await LocalCluster.start({ nodes: 1, rpcTool: true, snapshotEvery: 1_000_000 });
    const all = new Map<number, string>();
    for (let round = 0; round < KILLS; round++) {
      await cluster.leader();
      const acked = await writeUntilKilled(cluster, () => 1, 20 + rng.nextInt(200), () => cluster!.node(1).kill(), `r${round}`);
      for (const [index, text] of acked) all.set(index, text);
      // The log on disk right after the kill, before the node runs again.
      const log = await cluster.logOnDisk(1);
      for (const [index, text] of all) expect(log.get(index)).toBe(text);
      await cluster.startNode(1);
    }
    const view = await cluster.converged(Math.max(...all.keys()));
    expect(view[0]!.appliedIndex).toBeGreaterThanOrEqual(Math.max(...all.keys()));
    console.log(`${KILLS} kills: ${all.size} acknowledged writes, all on disk`);
  }, 120_000);

  test("the leader of three killed repeatedly mid-write: no acknowledged write is lost on any node", async () => {
    const rng = new SeededRng(SEED + 1);
    cluster = await LocalCluster.start({ nodes: 3, rpcTool: true, snapshotEvery: 1_000_000 });
    const all = new Map<number, string>();
    for (let round = 0; round < 5; round++) {
      const leader = await cluster.leader();
      const others = () => cluster!.running().filter((id) => id !== leader);
      const acked = await writeUntilKilled(cluster, () => others()[rng.nextInt(others().length)] ?? leader, 20 + rng.nextInt(200), () => cluster!.node(leader).kill(), `l${round}`);
      for (const [index, text] of acked) all.set(index, text);
      await cluster.startNode(leader);
    }
    await cluster.leader();
    await cluster.converged(Math.max(...all.keys()));
    for (const id of cluster.running()) {
      const log = await cluster.logOnDisk(id);
      for (const [index, text] of all) expect(log.get(index)).toBe(text);
    }
  }, 120_000);
});
