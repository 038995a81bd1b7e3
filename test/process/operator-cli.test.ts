import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalCluster } from "../../harness/cluster/local-cluster.ts";
import { EXIT } from "../../src/cli/exit-codes.ts";

// `concord cluster status|members|add|promote|transfer|remove` as an operator runs them,
// against real node processes and a real nats-server, each effect checked through the
// CLI's own status. The admin token comes from the data directory (--data), as after
// `cluster up`. Every process is stopped by PID, even when a check fails.

const MAIN = join(import.meta.dir, "../../src/main.ts");

let cluster: LocalCluster | null = null;
let scratch: string | null = null;
afterEach(async () => {
  await cluster?.stop();
  cluster = null;
  if (scratch !== null) rmSync(scratch, { recursive: true, force: true });
  scratch = null;
});

interface NodeRow {
  address: string;
  up: boolean;
  id?: number;
  role?: string;
  voter?: boolean | null;
  term?: number;
  leader?: number | null;
  commitIndex?: number;
  appliedIndex?: number;
  lag?: number | null;
  snapshotIndex?: number;
}
interface StatusDoc {
  leader: number | null;
  term: number | null;
  nodes: NodeRow[];
}
interface MembersDoc {
  leader: number | null;
  voters: number[];
  learners: number[];
}

async function concord(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = Bun.spawn([process.execPath, MAIN, ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { ...process.env, CONCORD_ADMIN_TOKEN: "", CONCORD_ADMIN_TOKEN_FILE: "" } });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { code, stdout, stderr };
}

test("status, add a learner, promote it, transfer leadership, remove it: each effect shows in status", async () => {
  cluster = await LocalCluster.start({ nodes: 3, maxNodeId: 4 });
  const c = cluster;
  const firstLeader = await c.leader();
  // Node 4 runs but is no member yet: it waits to be added.
  await c.startNode(4, { join: true });
  const endpoints = ["--endpoints", [1, 2, 3, 4].map((id) => c.urls.get(id)!).join(",")];
  const admin = [...endpoints, "--data", c.dir];

  const ok = async (args: string[]): Promise<string> => {
    const result = await concord(args);
    expect({ args, code: result.code, stderr: result.stderr }).toEqual({ args, code: EXIT.ok, stderr: "" });
    return result.stdout;
  };
  const status = async () => JSON.parse(await ok(["cluster", "status", "--json", ...endpoints])) as StatusDoc;
  const members = async () => JSON.parse(await ok(["cluster", "members", "--json", ...endpoints])) as MembersDoc;
  /** Changes are acknowledged once the leader commits them; followers learn of them a moment later. */
  const until = <T>(what: string, check: () => Promise<T | undefined>) => c.waitFor(what, check, 20_000);

  // status: every node up, the leader everyone agrees on, indexes and lag as numbers.
  const before = await status();
  expect(before.leader).toBe(firstLeader);
  expect(before.nodes.map((n) => [n.id, n.up, n.voter])).toEqual([[1, true, true], [2, true, true], [3, true, true], [4, true, null]]);
  for (const n of before.nodes.filter((n) => n.id !== 4)) {
    expect(n.leader).toBe(firstLeader);
    expect(n.appliedIndex).toBeGreaterThan(0);
    expect(n.lag).toBeGreaterThanOrEqual(0);
    expect(typeof n.snapshotIndex).toBe("number");
  }
  const table = await ok(["cluster", "status", ...endpoints]);
  expect(table).toMatch(/^ID\s+ADDRESS\s+ROLE\s+TERM\s+LEADER\s+COMMIT\s+APPLIED\s+LAG\s+SNAPSHOT\n/);
  expect(table).toContain(`leader: node ${firstLeader} (term ${before.term})`);
  expect(table.split("\n").find((line) => line.startsWith("4 "))).toMatch(/^4\s+\S+\s+follower \(not a member\)\s/);
  expect(await members()).toMatchObject({ leader: firstLeader, voters: [1, 2, 3], learners: [] });

  // A wrong token is refused by the cluster: exit 5, with the server's code.
  scratch = mkdtempSync(join(tmpdir(), "concord-operator-"));
  writeFileSync(join(scratch, "admin-token"), "not-the-token\n", { mode: 0o600 });
  const refused = await concord(["cluster", "add", "4", "--learner", ...endpoints, "--data", scratch]);
  expect([refused.code, refused.stderr]).toEqual([EXIT.auth, "concord cluster: admin routes need Authorization: Bearer <admin token> (forbidden)\n"]);

  // add --learner: node 4 joins without a vote and catches up.
  expect(await ok(["cluster", "add", "4", "--learner", ...admin])).toBe("node 4 is a learner\n");
  expect(await members()).toMatchObject({ voters: [1, 2, 3], learners: [4] });
  await until("learner 4 to catch up, as status shows it", async () => {
    const s = await status();
    const four = s.nodes.find((n) => n.id === 4);
    return four?.voter === false && four.lag === 0 ? true : undefined;
  });
  expect((await ok(["cluster", "status", ...endpoints])).split("\n").find((line) => line.startsWith("4 "))).toMatch(/^4\s+\S+\s+learner\s/);

  // promote: the learner becomes a voter.
  expect(await ok(["cluster", "promote", "4", ...admin])).toBe("node 4 is a voter\n");
  expect(await members()).toMatchObject({ voters: [1, 2, 3, 4], learners: [] });
  expect((await status()).nodes.find((n) => n.id === 4)?.voter).toBe(true);

  // transfer: leadership moves to another original voter.
  const target = [1, 2, 3].find((id) => id !== firstLeader)!;
  expect(await ok(["cluster", "transfer", String(target), ...admin])).toBe(`node ${target} leads\n`);
  await until(`every node to follow node ${target}`, async () => {
    const s = await status();
    return s.leader === target && s.nodes.every((n) => n.leader === target) ? true : undefined;
  });
  expect((await status()).nodes.find((n) => n.id === target)?.role).toBe("leader");

  // remove: node 4 leaves the configuration; once it is stopped, status lists it as down.
  expect(await ok(["cluster", "remove", "4", ...admin])).toBe("node 4 removed\n");
  expect(await members()).toMatchObject({ leader: target, voters: [1, 2, 3], learners: [] });
  await c.kill(4);
  const after = await status();
  expect(after.leader).toBe(target);
  expect(after.nodes.find((n) => n.address === c.urls.get(4))).toMatchObject({ up: false });
  expect(after.nodes.filter((n) => n.up).map((n) => n.id)).toEqual([1, 2, 3]);
  expect((await ok(["cluster", "status", ...endpoints])).split("\n").find((line) => line.includes(c.urls.get(4)!))).toMatch(/^-\s+\S+\s+down\s/);
}, 120_000);
