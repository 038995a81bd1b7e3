// bench:http — closed-loop clients sending 200-byte messages over HTTP to a 5-node cluster
// on this machine (each client talks to one node; followers forward to the leader), with
// 1 and then 64 clients by default. Prints messages/s, p50/p99/max latency, fsyncs and
// CPU µs per message by process (from /proc: wall-clock figures are noisy on a shared
// machine, CPU per message much less so), and logins/s.
//
// Usage: bun test/bench/http.ts [--seconds 5] [--warmup 1] [--clients 1,64] [--login-clients 16] [--nodes 5] [--json]
//        [--nodes N]       a cluster of N voters (1 shows what a node costs without replication)
//        [--via spread|leader|follower]  where many clients send: spread over every node (default),
//                          all to the leader (no forwarding), or all to one follower
//        [--profile DIR]   run the nodes under `bun --cpu-prof`, profiles in DIR (summarize with profile-summary.ts)
import { parseArgs } from "node:util";
import { LocalCluster } from "../../harness/cluster/local-cluster.ts";
import { measuredWindow, type Window } from "./measured-window.ts";
import { percentile } from "../../harness/bench/stats.ts";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    seconds: { type: "string", default: "5" },
    warmup: { type: "string", default: "1" },
    clients: { type: "string", default: "1,64" },
    "login-clients": { type: "string", default: "16" },
    nodes: { type: "string", default: "5" },
    via: { type: "string", default: "spread" },
    profile: { type: "string" },
    json: { type: "boolean", default: false },
  },
});
const seconds = Number(values.seconds);
const warmupMs = Number(values.warmup) * 1000;
const clientCounts = values.clients.split(",").map(Number);
const maxClients = Math.max(...clientCounts);
const loginClients = Number(values["login-clients"]);
const nodeCount = Number(values.nodes);
const via = values.via;
if (via !== "spread" && via !== "leader" && via !== "follower") throw new Error(`--via is spread, leader or follower, not ${via}`);
const progress = (line: string) => process.stderr.write(`${line}\n`);
const PASSWORD = "bench-password-1";
const CONTENT = "x".repeat(200);

if (values.profile !== undefined) process.env["CONCORD_NODE_BUN_FLAGS"] = `--cpu-prof --cpu-prof-dir=${values.profile}`;




async function post(url: string, body: unknown, token?: string): Promise<Response> {
  return fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
}

interface Measured extends Window {
  latencies: number[];
  errors: number;
}

/** Run `count` closed loops of `op` for the measured window; returns latencies (ms) of successes and CPU used by process. */
async function closedLoop(cluster: LocalCluster, pids: Record<string, number>, count: number, op: (client: number) => Promise<boolean>): Promise<Measured> {
  let measuring = false;
  let stop = false;
  let errors = 0;
  const latencies: number[] = [];
  const loops = Array.from({ length: count }, async (_, client) => {
    while (!stop) {
      const started = performance.now();
      const ok = await op(client).catch(() => false);
      if (!measuring) continue;
      if (ok) latencies.push(performance.now() - started);
      else errors++;
    }
  });
  const measured = await measuredWindow(cluster, pids, warmupMs, seconds, (on) => (measuring = on));
  stop = true;
  await Promise.all(loops);
  latencies.sort((a, b) => a - b);
  return { latencies, errors, ...measured };
}

function summary(m: Measured, nodes: number) {
  const count = Math.max(1, m.latencies.length);
  const perMessage = (ms: number) => +((ms * 1000) / count).toFixed(1);
  const followers = Object.entries(m.cpuMs).filter(([name]) => name.startsWith("node "));
  return {
    perSecond: Math.round(m.latencies.length / m.elapsedS),
    latencyMsP50: +percentile(m.latencies, 50).toFixed(2),
    latencyMsP99: +percentile(m.latencies, 99).toFixed(2),
    latencyMsMax: +(m.latencies[m.latencies.length - 1] ?? NaN).toFixed(2),
    errors: m.errors,
    fsyncsPerMessage: +(m.fsyncs / count).toFixed(3),
    messagesPerApplyBatch: +((count * nodes) / Math.max(1, m.applyBatches)).toFixed(1),
    /** CPU µs per message, by process; "follower (mean)" averages the four followers. */
    cpuUsPerMessage: {
      ...Object.fromEntries(Object.entries(m.cpuMs).map(([name, ms]) => [name, perMessage(ms)])),
      "follower (mean)": perMessage(followers.reduce((sum, [, ms]) => sum + ms, 0) / Math.max(1, followers.length)),
    },
    /** The kernel's part of it (system time): fsync, sockets. */
    sysUsPerMessage: Object.fromEntries(Object.entries(m.sysMs).map(([name, ms]) => [name, perMessage(ms)])),
  };
}

progress(`bench:http  starting nats-server and ${nodeCount} node processes …`);
// One address sends every sign-up and login (a load generator): the edge limits are bench:login-flood's to measure.
const cluster = await LocalCluster.start({ nodes: nodeCount, snapshotEvery: 50_000, unlimitedLogins: true });
try {
  const leader = await cluster.leader();
  const ids = [...cluster.urls.keys()];
  const urls = [...cluster.urls.values()];
  const pids: Record<string, number> = { "nats-server": cluster.nats.pid!, bench: process.pid };
  for (const id of cluster.running()) pids[id === leader ? "leader" : `node ${id}`] = cluster.node(id).pid!;
  const names = Array.from({ length: maxClients }, (_, i) => `bench${i}`);
  progress(`bench:http  leader is node ${leader}; creating ${maxClients} accounts and sessions …`);
  const tokens: string[] = [];
  for (const [i, username] of names.entries()) {
    const url = urls[i % urls.length]!;
    const created = await post(`${url}/v1/accounts`, { username, password: PASSWORD });
    if (created.status !== 201 && created.status !== 409) throw new Error(`signup ${username}: ${created.status} ${await created.text()}`);
    const session = await post(`${url}/v1/sessions`, { username, password: PASSWORD });
    if (session.status !== 201) throw new Error(`login ${username}: ${session.status} ${await session.text()}`);
    tokens.push(((await session.json()) as { token: string }).token);
  }

  const phases = [];
  for (const clients of clientCounts) {
    // One client talks to the leader (the fast path); many go where --via says.
    const follower = ids.find((id) => id !== leader) ?? leader;
    const urlOf = (i: number) =>
      clients === 1 || via === "leader" ? cluster.urls.get(leader)! : via === "follower" ? cluster.urls.get(follower)! : urls[i % urls.length]!;
    progress(`bench:http  ${clients} senders, ${seconds}s after ${warmupMs / 1000}s warm-up …`);
    const send = await closedLoop(cluster, pids, clients, async (i) => {
      const response = await post(`${urlOf(i)}/v1/messages`, { to: names[(i + 1) % maxClients], content: CONTENT }, tokens[i]);
      await response.arrayBuffer();
      return response.status === 201;
    });
    phases.push({ clients, ...summary(send, ids.length) });
  }

  progress(`bench:http  ${loginClients} concurrent logins …`);
  const login = await closedLoop(cluster, pids, loginClients, async (i) => {
    const response = await post(`${urls[i % urls.length]}/v1/sessions`, { username: names[i % maxClients], password: PASSWORD });
    await response.arrayBuffer();
    return response.status === 201;
  });

  const result = {
    benchmark: "bench:http",
    nodes: nodeCount,
    via,
    contentBytes: CONTENT.length,
    seconds,
    phases,
    loginClients,
    loginsPerSecond: Math.round(login.latencies.length / login.elapsedS),
    loginLatencyMsP50: +percentile(login.latencies, 50).toFixed(2),
    loginErrors: login.errors,
    machine: { cpus: navigator.hardwareConcurrency, bun: Bun.version },
  };
  if (values.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } else {
    const lines = [`bench:http  ${nodeCount} node processes + nats-server, clients over HTTP (${via === "spread" ? "spread over every node" : `all to the ${via}`}), ${CONTENT.length}-byte messages`];
    lines.push("  clients   messages/s   p50 ms   p99 ms   max ms   errors   fsyncs/msg   msgs/apply batch");
    for (const p of phases) {
      lines.push(`  ${String(p.clients).padStart(7)}   ${String(p.perSecond).padStart(10)}   ${p.latencyMsP50.toFixed(2).padStart(6)}   ${p.latencyMsP99.toFixed(2).padStart(6)}   ${p.latencyMsMax.toFixed(1).padStart(6)}   ${String(p.errors).padStart(6)}   ${p.fsyncsPerMessage.toFixed(2).padStart(10)}   ${p.messagesPerApplyBatch.toFixed(1).padStart(16)}`);
    }
    lines.push("  CPU µs per message, by process (from /proc, 10 ms ticks):");
    for (const p of phases) {
      const { "follower (mean)": follower, ...byProcess } = p.cpuUsPerMessage;
      const total = Object.values(byProcess as Record<string, number>).reduce((a, b) => a + b, 0);
      lines.push(`    ${String(p.clients).padStart(3)} clients: ${Object.entries(byProcess).map(([n, us]) => `${n} ${us} (sys ${p.sysUsPerMessage[n]})`).join(", ")}; follower mean ${follower}; total ${total.toFixed(0)}`);
    }
    lines.push(`  logins/s  ${result.loginsPerSecond}   (${loginClients} clients, p50 ${result.loginLatencyMsP50} ms, argon2id, ${result.loginErrors} errors)`);
    lines.push(`  machine   bun ${Bun.version}, ${navigator.hardwareConcurrency} cpus`);
    process.stdout.write(`${lines.join("\n")}\n`);
  }
} finally {
  // A profile is written when its process exits normally: stop the nodes with SIGTERM first.
  if (values.profile !== undefined) await Promise.all(cluster.running().map((id) => cluster.node(id).stop()));
  await cluster.stop();
}
