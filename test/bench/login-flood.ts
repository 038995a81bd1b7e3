// bench:login-flood — does a flood of bad logins disturb raft? Starts nats-server and a
// 5-node cluster the way bench:http does, then, while one writer sends 200-byte messages
// to the leader, 64 clients send bad logins as fast as they are answered, spread over
// every node, each from its own loopback source address (127.0.0.2, 127.0.0.3, …: a
// botnet, so the per-address limit alone cannot absorb the flood). Half of them guess
// passwords of real accounts (the per-account limit answers), half try names that do not
// exist, a new one each time (only the hashing gate stands in their way). Prints the
// elections (term and leader changes) during the flood, the writer's failed writes and
// p50/p99, the logins' answers by status and code with their p99, and each node's longest
// event-loop stall (nodes log `event_loop_stalled` when a tick comes a third of an
// election timeout late). A baseline of the writer alone comes first.
//
// Usage: bun test/bench/login-flood.ts [--seconds 30] [--baseline 5] [--clients 64] [--addresses 64] [--nodes 5] [--json]
import { readFileSync } from "node:fs";
import http from "node:http";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { LocalCluster } from "../../harness/cluster/local-cluster.ts";
import { percentile } from "../../harness/bench/stats.ts";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    seconds: { type: "string", default: "30" },
    baseline: { type: "string", default: "5" },
    clients: { type: "string", default: "64" },
    addresses: { type: "string" },
    nodes: { type: "string", default: "5" },
    json: { type: "boolean", default: false },
  },
});
const seconds = Number(values.seconds);
const baselineSeconds = Number(values.baseline);
const clients = Number(values.clients);
const addresses = Number(values.addresses ?? values.clients);
const nodeCount = Number(values.nodes);
for (const [name, value, min, max] of [["seconds", seconds, 1, 3600], ["baseline", baselineSeconds, 0, 3600], ["clients", clients, 1, 1000], ["addresses", addresses, 1, 250], ["nodes", nodeCount, 1, 9]] as const) {
  if (!Number.isFinite(value) || value < min || value > max) throw new Error(`--${name} must be ${min}..${max}, got ${value}`);
}
const progress = (line: string) => process.stderr.write(`${line}\n`);
const PASSWORD = "flood-bench-password";
const CONTENT = "x".repeat(200);
const VICTIMS = 16;

interface Answer {
  status: number;
  code: string;
  ms: number;
}

/** One POST through `agent` (its own source address); never throws: a network failure is status 0. */
function post(agent: http.Agent, url: string, body: unknown, token?: string): Promise<Answer> {
  const started = performance.now();
  const target = new URL(url);
  return new Promise((resolve) => {
    const request = http.request(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: "POST",
        agent,
        timeout: 15_000,
        headers: { "content-type": "application/json", ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}) },
      },
      (response) => {
        let text = "";
        response.on("data", (chunk) => (text += chunk));
        response.on("end", () => {
          let code = "";
          try {
            code = (JSON.parse(text) as { error?: { code?: string } }).error?.code ?? "";
          } catch {
            // not JSON: the status says enough
          }
          resolve({ status: response.statusCode ?? 0, code, ms: performance.now() - started });
        });
        response.on("error", () => resolve({ status: 0, code: "network", ms: performance.now() - started }));
      },
    );
    request.on("timeout", () => request.destroy(new Error("timeout")));
    request.on("error", (error) => resolve({ status: 0, code: error.message === "timeout" ? "timeout" : "network", ms: performance.now() - started }));
    request.end(JSON.stringify(body));
  });
}

const agentFrom = (localAddress: string) => new http.Agent({ keepAlive: true, maxSockets: 1, localAddress });

/** Who leads in which term, as each node says, sampled until stopped: elections show as new terms and leaders. */
function watchLeadership(cluster: LocalCluster) {
  const terms = new Set<number>();
  const leaders: number[] = [];
  let stopped = false;
  const done = (async () => {
    while (!stopped) {
      const views = await cluster.answering();
      for (const view of views) terms.add(view.term);
      const leader = views.find((v) => v.role === "leader");
      if (leader !== undefined && leaders.at(-1) !== leader.nodeId) leaders.push(leader.nodeId);
      await Bun.sleep(100);
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await done;
      return { terms: [...terms].sort((a, b) => a - b), leaders };
    },
  };
}

/** The writer: one closed loop of sends to `url`, recording every answer. */
function startWriter(url: string, token: string, to: string) {
  const agent = agentFrom("127.0.0.1");
  const answers: Answer[] = [];
  let stopped = false;
  const done = (async () => {
    while (!stopped) answers.push(await post(agent, `${url}/v1/messages`, { to, content: CONTENT }, token));
  })();
  return {
    stop: async () => {
      stopped = true;
      await done;
      agent.destroy();
      return answers;
    },
  };
}

function writeSummary(answers: readonly Answer[]) {
  const ok = answers.filter((a) => a.status === 201).map((a) => a.ms).sort((a, b) => a - b);
  return {
    writes: answers.length,
    failed: answers.length - ok.length,
    failures: countBy(answers.filter((a) => a.status !== 201)),
    p50Ms: round(percentile(ok, 50)),
    p99Ms: round(percentile(ok, 99)),
    maxMs: round(ok.at(-1) ?? NaN),
  };
}

function countBy(answers: readonly Answer[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const a of answers) {
    const key = `${a.status}${a.code === "" ? "" : ` ${a.code}`}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

const round = (ms: number) => (Number.isFinite(ms) ? +ms.toFixed(2) : null);

/** The longest event_loop_stalled each node logged at or after `since` (ms since the epoch), and how many. */
function stalls(cluster: LocalCluster, ids: readonly number[], since: number, until: number): Record<string, { maxMs: number; count: number }> {
  const out: Record<string, { maxMs: number; count: number }> = {};
  for (const id of ids) {
    let maxMs = 0;
    let count = 0;
    let text = "";
    try {
      text = readFileSync(join(cluster.dir, `node-${id}.log`), "utf8");
    } catch {
      // no log: nothing stalled loudly enough to say so
    }
    for (const line of text.split("\n")) {
      if (!line.includes("event_loop_stalled")) continue;
      try {
        const entry = JSON.parse(line) as { time: string; ms: number };
        const at = Date.parse(entry.time);
        if (at < since || at > until) continue;
        count++;
        maxMs = Math.max(maxMs, entry.ms);
      } catch {
        // a torn line
      }
    }
    out[`node ${id}`] = { maxMs, count };
  }
  return out;
}

progress(`bench:login-flood  starting nats-server and ${nodeCount} node processes …`);
const cluster = await LocalCluster.start({ nodes: nodeCount, snapshotEvery: 50_000 });
try {
  const leader = await cluster.leader();
  const ids = [...cluster.urls.keys()];
  const urls = [...cluster.urls.values()];
  const leaderUrl = cluster.urls.get(leader)!;
  const setup = agentFrom("127.0.0.1");
  progress(`bench:login-flood  leader is node ${leader}; creating ${VICTIMS} accounts and the writer …`);
  const names = ["writer", ...Array.from({ length: VICTIMS }, (_, i) => `victim${i}`)];
  for (const [i, username] of names.entries()) {
    const created = await post(setup, `${urls[i % urls.length]}/v1/accounts`, { username, password: PASSWORD });
    if (created.status !== 201 && created.status !== 409) throw new Error(`signup ${username}: ${created.status} ${created.code}`);
  }
  const session = await new Promise<string>((resolve, reject) => {
    const request = http.request(`${leaderUrl}/v1/sessions`, { method: "POST", agent: setup, headers: { "content-type": "application/json" } }, (response) => {
      let text = "";
      response.on("data", (chunk) => (text += chunk));
      response.on("end", () => (response.statusCode === 201 ? resolve((JSON.parse(text) as { token: string }).token) : reject(new Error(`writer login: ${response.statusCode} ${text}`))));
    });
    request.on("error", reject);
    request.end(JSON.stringify({ username: "writer", password: PASSWORD }));
  });
  setup.destroy();

  let baseline: ReturnType<typeof writeSummary> | null = null;
  if (baselineSeconds > 0) {
    progress(`bench:login-flood  baseline: the writer alone for ${baselineSeconds}s …`);
    const writer = startWriter(leaderUrl, session, "victim0");
    await Bun.sleep(baselineSeconds * 1000);
    baseline = writeSummary(await writer.stop());
  }

  progress(`bench:login-flood  ${clients} clients from ${addresses} addresses send bad logins for ${seconds}s while the writer writes …`);
  const floodStartedAt = Date.now();
  const leadership = watchLeadership(cluster);
  const writer = startWriter(leaderUrl, session, "victim0");
  const agents = Array.from({ length: addresses }, (_, i) => agentFrom(`127.0.0.${2 + i}`));
  const logins: Answer[] = [];
  let stop = false;
  let guess = 0;
  const flood = Array.from({ length: clients }, async (_, i) => {
    const agent = agents[i % addresses]!;
    const url = urls[i % urls.length]!;
    while (!stop) {
      // Even clients guess at real accounts; odd ones at names that never exist.
      const username = i % 2 === 0 ? `victim${(i >> 1) % VICTIMS}` : `ghost${i}x${++guess}`;
      logins.push(await post(agent, `${url}/v1/sessions`, { username, password: `guess-${guess}` }));
    }
  });
  await Bun.sleep(seconds * 1000);
  stop = true;
  await Promise.all(flood);
  const floodEndedAt = Date.now();
  const written = await writer.stop();
  const { terms, leaders } = await leadership.stop();
  for (const agent of agents) agent.destroy();

  const loginMs = logins.map((a) => a.ms).sort((a, b) => a - b);
  const result = {
    benchmark: "bench:login-flood",
    nodes: nodeCount,
    clients,
    addresses,
    seconds,
    // Terms seen beyond the first: each is an election someone started (pre-vote keeps idle ones out).
    elections: Math.max(0, terms.length - 1),
    terms,
    leaderChanges: Math.max(0, leaders.length - 1),
    leaders,
    baselineWrites: baseline,
    writes: writeSummary(written),
    logins: {
      answered: logins.length,
      perSecond: Math.round(logins.length / ((floodEndedAt - floodStartedAt) / 1000)),
      byAnswer: countBy(logins),
      answered429: logins.filter((a) => a.status === 429).length,
      p50Ms: round(percentile(loginMs, 50)),
      p99Ms: round(percentile(loginMs, 99)),
      maxMs: round(loginMs.at(-1) ?? NaN),
    },
    eventLoopStalls: stalls(cluster, ids, floodStartedAt, floodEndedAt + 1000),
    machine: { cpus: navigator.hardwareConcurrency, bun: Bun.version },
  };
  if (values.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } else {
    const w = result.writes;
    const lines = [
      `bench:login-flood  ${nodeCount} nodes, ${clients} bad-login clients from ${addresses} addresses for ${seconds}s, one writer to the leader`,
      `  elections during the flood  ${result.elections} (terms ${terms.join(", ")}); leader changes ${result.leaderChanges} (leaders ${leaders.join(" → ")})`,
      ...(baseline !== null ? [`  writes, writer alone        ${baseline.writes} sent, ${baseline.failed} failed, p50 ${baseline.p50Ms} ms, p99 ${baseline.p99Ms} ms, max ${baseline.maxMs} ms`] : []),
      `  writes during the flood     ${w.writes} sent, ${w.failed} failed${w.failed > 0 ? ` (${JSON.stringify(w.failures)})` : ""}, p50 ${w.p50Ms} ms, p99 ${w.p99Ms} ms, max ${w.maxMs} ms`,
      `  logins                      ${result.logins.answered} answered (${result.logins.perSecond}/s), 429: ${result.logins.answered429}, p50 ${result.logins.p50Ms} ms, p99 ${result.logins.p99Ms} ms, max ${result.logins.maxMs} ms`,
      `  logins by answer            ${Object.entries(result.logins.byAnswer).map(([k, n]) => `${k}: ${n}`).join(", ")}`,
      `  max event-loop stall        ${Object.entries(result.eventLoopStalls).map(([node, s]) => `${node} ${s.count === 0 ? "none logged" : `${s.maxMs} ms (${s.count}×)`}`).join(", ")}`,
      `  machine                     bun ${Bun.version}, ${navigator.hardwareConcurrency} cpus`,
    ];
    process.stdout.write(`${lines.join("\n")}\n`);
  }
} finally {
  await cluster.stop();
}
