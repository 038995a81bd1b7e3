// bench:http — 64 clients sending 200-byte messages over HTTP to a 5-node cluster on
// this machine (each client talks to one node; followers forward to the leader).
// Prints messages/s, p50/p99/max latency, and logins/s.
//
// Usage: bun test/bench/http.ts [--seconds 5] [--warmup 1] [--clients 64] [--login-clients 16] [--json]
import { parseArgs } from "node:util";
import { ProcessCluster } from "../process/process-cluster.ts";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    seconds: { type: "string", default: "5" },
    warmup: { type: "string", default: "1" },
    clients: { type: "string", default: "64" },
    "login-clients": { type: "string", default: "16" },
    json: { type: "boolean", default: false },
  },
});
const seconds = Number(values.seconds);
const warmupMs = Number(values.warmup) * 1000;
const clients = Number(values.clients);
const loginClients = Number(values["login-clients"]);
const progress = (line: string) => process.stderr.write(`${line}\n`);
const PASSWORD = "bench-password-1";
const CONTENT = "x".repeat(200);

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function post(url: string, body: unknown, token?: string): Promise<Response> {
  return fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
}

/** Run `clients` closed loops of `op` for the measured window; returns latencies (ms) of successes. */
async function closedLoop(count: number, op: (client: number) => Promise<boolean>): Promise<{ latencies: number[]; errors: number; elapsedS: number }> {
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
  await Bun.sleep(warmupMs);
  measuring = true;
  const startedAt = performance.now();
  await Bun.sleep(seconds * 1000);
  measuring = false;
  const elapsedS = (performance.now() - startedAt) / 1000;
  stop = true;
  await Promise.all(loops);
  latencies.sort((a, b) => a - b);
  return { latencies, errors, elapsedS };
}

progress("bench:http  starting nats-server and 5 node processes …");
const cluster = await ProcessCluster.start({ nodes: 5, snapshotEvery: 50_000 });
try {
  await cluster.leader();
  const urls = [...cluster.urls.values()];
  const names = Array.from({ length: clients }, (_, i) => `bench${i}`);
  progress(`bench:http  creating ${clients} accounts and sessions …`);
  const tokens: string[] = [];
  for (const [i, username] of names.entries()) {
    const url = urls[i % urls.length]!;
    const created = await post(`${url}/v1/accounts`, { username, password: PASSWORD });
    if (created.status !== 201 && created.status !== 409) throw new Error(`signup ${username}: ${created.status} ${await created.text()}`);
    const session = await post(`${url}/v1/sessions`, { username, password: PASSWORD });
    if (session.status !== 201) throw new Error(`login ${username}: ${session.status} ${await session.text()}`);
    tokens.push(((await session.json()) as { token: string }).token);
  }

  progress(`bench:http  ${clients} senders, ${seconds}s after ${warmupMs / 1000}s warm-up …`);
  const send = await closedLoop(clients, async (i) => {
    const response = await post(`${urls[i % urls.length]}/v1/messages`, { to: names[(i + 1) % clients], content: CONTENT }, tokens[i]);
    await response.arrayBuffer();
    return response.status === 201;
  });

  progress(`bench:http  ${loginClients} concurrent logins …`);
  const login = await closedLoop(loginClients, async (i) => {
    const response = await post(`${urls[i % urls.length]}/v1/sessions`, { username: names[i % clients], password: PASSWORD });
    await response.arrayBuffer();
    return response.status === 201;
  });

  const result = {
    benchmark: "bench:http",
    nodes: 5,
    clients,
    contentBytes: CONTENT.length,
    seconds,
    messagesPerSecond: Math.round(send.latencies.length / send.elapsedS),
    latencyMsP50: +percentile(send.latencies, 50).toFixed(2),
    latencyMsP99: +percentile(send.latencies, 99).toFixed(2),
    latencyMsMax: +(send.latencies[send.latencies.length - 1] ?? NaN).toFixed(2),
    sendErrors: send.errors,
    loginClients,
    loginsPerSecond: Math.round(login.latencies.length / login.elapsedS),
    loginLatencyMsP50: +percentile(login.latencies, 50).toFixed(2),
    loginErrors: login.errors,
    machine: { cpus: navigator.hardwareConcurrency, bun: Bun.version },
  };
  if (values.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } else {
    process.stdout.write(
      [
        `bench:http  5 node processes + nats-server, ${clients} clients over HTTP, ${CONTENT.length}-byte messages`,
        `  messages/s     ${result.messagesPerSecond}   (p50 ${result.latencyMsP50} ms, p99 ${result.latencyMsP99} ms, max ${result.latencyMsMax} ms, ${result.sendErrors} errors)`,
        `  logins/s       ${result.loginsPerSecond}   (${loginClients} clients, p50 ${result.loginLatencyMsP50} ms, argon2id, ${result.loginErrors} errors)`,
        `  machine        bun ${Bun.version}, ${navigator.hardwareConcurrency} cpus`,
      ].join("\n") + "\n",
    );
  }
} finally {
  await cluster.stop();
}
