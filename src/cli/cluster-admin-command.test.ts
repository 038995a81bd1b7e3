import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FakeNodes, apiError, jsonResponse } from "../client/testing/fake-nodes.ts";
import { adminTokenSource } from "./admin-token.ts";
import { type OperatorIo, runClusterAdminCommand } from "./cluster-admin-command.ts";
import { CLUSTER_ADMIN_COMMANDS } from "./cluster-admin-options.ts";
import { EXIT } from "./exit-codes.ts";

const TOKEN = "the-admin-token-0123456789";
const nodes = new FakeNodes();
let dir = "";
let tokenFile = "";

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "concord-operator-"));
  tokenFile = join(dir, "admin-token");
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
});
afterEach(async () => {
  await nodes.stopAll();
  rmSync(dir, { recursive: true, force: true });
});

async function run(args: string[], env: Record<string, string> = {}) {
  let stdout = "";
  let stderr = "";
  const io: OperatorIo = { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), env };
  const status = await runClusterAdminCommand(args, io);
  return { status, stdout, stderr };
}

/** GET /v1/cluster as node `id` of a 3-voter, 1-learner cluster would answer it. */
function view(id: number, role: string, over: Record<string, unknown> = {}) {
  return {
    cluster: "concord",
    nodeId: id,
    role,
    term: 4,
    leader: 1,
    commitIndex: 120,
    appliedIndex: 120,
    lastIndex: 121,
    snapshotIndex: 100,
    stateDigest: { index: 120, digest: "ab" },
    members: [
      { id: 1, voter: true, matchIndex: 121, lastContactMs: 0 },
      { id: 2, voter: true, matchIndex: 120, lastContactMs: 40 },
      { id: 3, voter: true, matchIndex: 90, lastContactMs: 9000 },
      { id: 4, voter: false, matchIndex: 110, lastContactMs: 20 },
    ],
    io: {},
    ...over,
  };
}

/** A node that serves its view and records admin calls. */
function node(body: unknown, admin: (request: Request) => Response | Promise<Response> = () => new Response(null, { status: 202 })) {
  return nodes.start((request) => (new URL(request.url).pathname === "/v1/cluster" && request.method === "GET" ? jsonResponse(200, body) : admin(request)));
}

describe("concord cluster (operator)", () => {
  test("status: a row per endpoint, lag against the leader's commit, down nodes as down; --json says the same", async () => {
    const leader = node(view(1, "leader"));
    const follower = node(view(2, "follower", { appliedIndex: 115, commitIndex: 118 }));
    const learner = node(view(4, "follower", { appliedIndex: 110, snapshotIndex: 0 }));
    const dead = await nodes.dead();
    const endpoints = ["--endpoints", [leader.url, follower.url, learner.url, dead].join(",")];

    const table = await run(["status", ...endpoints]);
    expect([table.status, table.stderr]).toEqual([EXIT.ok, ""]);
    const lines = table.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^ID\s+ADDRESS\s+ROLE\s+TERM\s+LEADER\s+COMMIT\s+APPLIED\s+LAG\s+SNAPSHOT$/);
    expect(lines[1]!.split(/\s+/)).toEqual(["1", leader.url, "leader", "4", "1", "120", "120", "0", "100"]);
    expect(lines[2]!.split(/\s+/)).toEqual(["2", follower.url, "follower", "4", "1", "118", "115", "5", "100"]);
    expect(lines[3]!.split(/\s+/)).toEqual(["4", learner.url, "learner", "4", "1", "120", "110", "10", "0"]);
    expect(lines[4]).toMatch(new RegExp(`^-\\s+${dead}\\s+down\\s.*\\(network\\)$`));
    expect(lines[5]).toBe("leader: node 1 (term 4); members not answering here: 3");

    const json = await run(["status", "--json", ...endpoints]);
    expect(json.status).toBe(EXIT.ok);
    const doc = JSON.parse(json.stdout);
    expect(doc).toMatchObject({ leader: 1, term: 4, silentMembers: [3] });
    expect(doc.nodes[1]).toEqual({ address: follower.url, up: true, id: 2, role: "follower", voter: true, term: 4, leader: 1, commitIndex: 118, appliedIndex: 115, lag: 5, snapshotIndex: 100, lastIndex: 121 });
    expect(doc.nodes[2]).toMatchObject({ id: 4, voter: false, lag: 10 });
    expect(doc.nodes[3]).toMatchObject({ address: dead, up: false, error: { code: "network" } });
  });

  test("status: a node outside the configuration (joining, or removed and still running) says so", async () => {
    const leader = node(view(1, "leader"));
    const stray = node(view(9, "follower", { leader: null, term: 0, members: [] }));
    const endpoints = ["--endpoints", `${leader.url},${stray.url}`];
    expect((await run(["status", ...endpoints])).stdout.split("\n")[2]).toMatch(/^9\s+\S+\s+follower \(not a member\)\s+0\s+-\s/);
    expect(JSON.parse((await run(["status", "--json", ...endpoints])).stdout).nodes[1]).toMatchObject({ id: 9, voter: null });
  });

  test("status and members with no node answering exit 6; without a leader, lag is unknown", async () => {
    const dead = await nodes.dead();
    for (const command of ["status", "members"]) expect((await run([command, "--endpoints", dead])).status).toBe(EXIT.unavailable);
    const candidate = node(view(2, "candidate", { leader: null }));
    const doc = JSON.parse((await run(["status", "--json", "--endpoints", candidate.url])).stdout);
    expect([doc.leader, doc.nodes[0].lag]).toEqual([null, null]);
  });

  test("members: voters and learners as the leader sees them, with addresses where known", async () => {
    const leader = node(view(1, "leader"));
    const follower = node(view(2, "follower", { term: 3, members: [] }));
    const result = await run(["members", "--json", "--endpoints", `${follower.url},${leader.url}`]);
    expect(result.status).toBe(EXIT.ok);
    const doc = JSON.parse(result.stdout);
    expect(doc).toMatchObject({ leader: 1, seenBy: 1, voters: [1, 2, 3], learners: [4] });
    expect(doc.members[1]).toEqual({ id: 2, voter: true, address: follower.url, matchIndex: 120, lastContactMs: 40 });
    expect(doc.members[2].address).toBeNull();
    const table = (await run(["members", "--endpoints", leader.url])).stdout;
    expect(table).toContain("voter (leader)");
    expect(table).toMatch(/\n4\s+learner\s+-\s+110\s+20 ms\n/);
  });

  test("add, remove, transfer send the admin call with the token from the file, never from argv", async () => {
    const calls: string[] = [];
    const leader = node(view(1, "leader"), async (request) => {
      calls.push(`${request.method} ${new URL(request.url).pathname} ${await request.text()} ${request.headers.get("authorization")}`);
      return new Response(null, { status: 202 });
    });
    const common = ["--endpoints", leader.url, "--token-file", tokenFile];
    expect(await run(["add", "6", "--learner", ...common])).toEqual({ status: EXIT.ok, stdout: "node 6 is a learner\n", stderr: "" });
    expect((await run(["add", "7", ...common, "--json"])).stdout).toBe('{"id":7,"voter":true}\n');
    expect((await run(["remove", "6", ...common])).stdout).toBe("node 6 removed\n");
    expect((await run(["transfer", "2", ...common])).stdout).toBe("node 2 leads\n");
    expect(calls).toEqual([
      `POST /v1/cluster/members {"id":6,"voter":false} Bearer ${TOKEN}`,
      `POST /v1/cluster/members {"id":7,"voter":true} Bearer ${TOKEN}`,
      `DELETE /v1/cluster/members/6  Bearer ${TOKEN}`,
      `POST /v1/cluster/leader {"to":2} Bearer ${TOKEN}`,
    ]);
  });

  test("promote: a learner becomes a voter; a voter is left alone; a stranger is refused before any change", async () => {
    const posted: string[] = [];
    const leader = node(view(1, "leader"), async (request) => {
      posted.push(await request.text());
      return new Response(null, { status: 202 });
    });
    const common = ["--endpoints", leader.url, "--token-file", tokenFile];
    expect((await run(["promote", "4", ...common])).stdout).toBe("node 4 is a voter\n");
    expect((await run(["promote", "2", ...common])).stdout).toBe("node 2 is already a voter\n");
    const stranger = await run(["promote", "9", ...common]);
    expect([stranger.status, stranger.stderr]).toEqual([EXIT.failed, "concord cluster: node 9 is not a member: add it first (concord cluster add 9 --learner) (not_a_learner)\n"]);
    expect(posted).toEqual(['{"id":4,"voter":true}']);
  });

  test("the server's refusals keep their code and get the table's exit code", async () => {
    const forbidden = node(view(1, "leader"), () => apiError(403, "forbidden", "admin routes need Authorization: Bearer <admin token>"));
    const refused = await run(["transfer", "2", "--endpoints", forbidden.url, "--token-file", tokenFile, "--json"]);
    expect(refused.status).toBe(EXIT.auth);
    expect(refused.stderr).toBe("concord cluster: admin routes need Authorization: Bearer <admin token> (forbidden)\n");
    expect(JSON.parse(refused.stdout)).toEqual({ error: { code: "forbidden", message: "admin routes need Authorization: Bearer <admin token>", status: 403 } });

    const invalid = node(view(1, "leader"), () => apiError(400, "invalid_request", "node 9 is not a member"));
    const notMember = await run(["remove", "9", "--endpoints", invalid.url, "--token-file", tokenFile]);
    expect([notMember.status, notMember.stderr]).toEqual([EXIT.failed, "concord cluster: node 9 is not a member (invalid_request)\n"]);

    const noQuorum = node(view(1, "leader"), () => apiError(503, "unavailable", "no quorum", { "retry-after": "0" }));
    const unavailable = await run(["add", "6", "--endpoints", noQuorum.url, "--token-file", tokenFile]);
    expect(unavailable.status).toBe(EXIT.unavailable);
    expect(unavailable.stderr).toEndWith("(unavailable)\n");
  }, 20_000);

  test("the admin token: missing is exit 5, readable by others is refused (exit 3), and never taken from argv", async () => {
    const leader = node(view(1, "leader"));
    const missing = await run(["remove", "6", "--endpoints", leader.url, "--data", join(dir, "nowhere")]);
    expect(missing.status).toBe(EXIT.auth);
    expect(missing.stderr).toContain(`no admin token at ${join(dir, "nowhere", "admin-token")} (--data)`);
    expect(missing.stderr).toEndWith("(admin_token_missing)\n");

    chmodSync(tokenFile, 0o644);
    const exposed = await run(["remove", "6", "--endpoints", leader.url, "--data", dir]);
    expect(exposed.status).toBe(EXIT.refused);
    expect(exposed.stderr).toEndWith("(secret_exposed)\n");
    expect(exposed.stderr).not.toContain(TOKEN);

    for (const flag of ["--token", "--admin-token", `--token=${TOKEN}`]) {
      const refused = await run(["remove", "6", "--endpoints", leader.url, flag, ...(flag.includes("=") ? [] : [TOKEN])]);
      expect(refused.status).toBe(EXIT.usage);
      expect(refused.stderr).toContain("a token on the command line is readable by every local user");
    }
    expect(leader.requests.filter((r) => r.method !== "GET")).toEqual([]);
  });

  test("where the token comes from: flags, then the environment, then ./data", () => {
    expect(adminTokenSource({ tokenFile: "/t", dataDir: "/d" }, { CONCORD_ADMIN_TOKEN: "x" })).toEqual({ from: "file", path: "/t", origin: "--token-file" });
    expect(adminTokenSource({ tokenFile: null, dataDir: "/d" }, { CONCORD_ADMIN_TOKEN: "x" })).toEqual({ from: "file", path: "/d/admin-token", origin: "--data" });
    expect(adminTokenSource({ tokenFile: null, dataDir: null }, { CONCORD_ADMIN_TOKEN_FILE: "/f", CONCORD_ADMIN_TOKEN: "x" })).toMatchObject({ from: "file", path: "/f" });
    expect(adminTokenSource({ tokenFile: null, dataDir: null }, { CONCORD_ADMIN_TOKEN: "x" })).toMatchObject({ from: "env" });
    expect(adminTokenSource({ tokenFile: null, dataDir: null }, {})).toMatchObject({ from: "file", path: "data/admin-token" });
  });

  test("the token from env CONCORD_ADMIN_TOKEN reaches the node", async () => {
    const seen: (string | null)[] = [];
    const leader = node(view(1, "leader"), (request) => {
      seen.push(request.headers.get("authorization"));
      return new Response(null, { status: 202 });
    });
    expect((await run(["transfer", "1", "--endpoints", leader.url], { CONCORD_ADMIN_TOKEN: TOKEN })).status).toBe(EXIT.ok);
    expect(seen).toEqual([`Bearer ${TOKEN}`]);
  });

  test("usage: -h/--help per command with no request; mistakes exit 2 and say what to fix", async () => {
    const leader = node(view(1, "leader"));
    for (const command of CLUSTER_ADMIN_COMMANDS) {
      for (const flag of ["-h", "--help"]) {
        const help = await run([command, "--endpoints", leader.url, "--bogus", flag]);
        expect([help.status, help.stderr]).toEqual([EXIT.ok, ""]);
        expect(help.stdout).toStartWith(`usage: concord cluster ${command}`);
      }
    }
    expect((await run(["add", "-h"])).stdout).toContain("--learner");
    expect((await run(["status", "-h"])).stdout).not.toContain("--token-file");
    expect(leader.requests).toEqual([]);
    const mistakes: [string[], string][] = [
      [["add"], "usage: concord cluster add <id>"],
      [["add", "0"], "a node id is a positive integer, got '0'"],
      [["remove", "two"], "a node id is a positive integer, got 'two'"],
      [["status", "3"], "'status' takes no arguments"],
      [["remove", "3", "--learner"], "--learner applies to 'add' only"],
      [["add", "3", "--token-file", "a", "--data", "b"], "give --token-file or --data, not both"],
      [["status", "--endpoints", "127.0.0.1:8081"], "--endpoints takes http(s) URLs"],
      [["status", "--bogus"], "Unknown option '--bogus'"],
    ];
    for (const [args, message] of mistakes) {
      const result = await run(args);
      expect(result.status).toBe(EXIT.usage);
      expect(result.stderr).toContain(message);
      expect(result.stderr).toEndWith("run 'concord cluster --help' for usage\n");
    }
  });
});
