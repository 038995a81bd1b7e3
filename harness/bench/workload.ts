// The closed-loop workload of `concord bench` (and bench:vs-etcd): each client sends a
// 200-byte write, waits for the answer, and sends the next. Raw fetch (no client library
// retries or idempotency keys), so what is timed is one POST and nothing else: Concord's
// POST /v1/messages here, etcd's POST /v3/kv/put in etcd-cluster.ts, through the same loop.
import { percentile, round } from "./stats.ts";
import type { ProcessMeter, ProcessUsage } from "./proc-stats.ts";

export const CONTENT = "x".repeat(200);
export const PASSWORD = "bench-password-1";
const REQUEST_TIMEOUT_MS = 10_000;
const SIGN_IN_CONCURRENCY = 8;

/**
 * One client's write, prepared once: each POST sends `body` with `headers` to the next of
 * `targets` in turn (one URL: always there), and `okStatus` means acknowledged.
 */
export interface Write {
  readonly targets: readonly string[];
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  readonly okStatus: number;
}

/** One signed-in Concord client: the node it talks to first, its token, and whom it writes to. */
export interface Sender extends Write {
  url: string;
  token: string;
  to: string;
}

export interface Account {
  username: string;
  token: string;
}

async function post(url: string, body: unknown, token?: string, timeoutMs = REQUEST_TIMEOUT_MS): Promise<Response> {
  return fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
}

/** Create (or reuse) `count` accounts and sign each in; logins are argon2id and not timed. */
export async function signIn(urls: readonly string[], count: number, progress: (line: string) => void): Promise<Account[]> {
  const accounts: Account[] = new Array(count);
  let next = 0;
  let done = 0;
  let lastReport = Date.now();
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= count) return;
      const url = urls[i % urls.length]!;
      const username = `bench-${i}`;
      const created = await post(`${url}/v1/accounts`, { username, password: PASSWORD });
      if (created.status !== 201 && created.status !== 409) throw new Error(`sign-up ${username}: ${created.status} ${await created.text()}`);
      await created.arrayBuffer();
      const session = await post(`${url}/v1/sessions`, { username, password: PASSWORD });
      if (session.status !== 201) throw new Error(`login ${username}: ${session.status} ${await session.text()}`);
      accounts[i] = { username, token: ((await session.json()) as { token: string }).token };
      done++;
      if (Date.now() - lastReport > 3000) {
        lastReport = Date.now();
        progress(`  signed in ${done} / ${count} clients …`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(SIGN_IN_CONCURRENCY, count) }, worker));
  return accounts;
}

/** `list` starting at index `by` (modulo its length), then wrapping around. */
export function rotate<T>(list: readonly T[], by: number): T[] {
  if (list.length === 0) return [];
  const at = ((by % list.length) + list.length) % list.length;
  return [...list.slice(at), ...list.slice(0, at)];
}

/**
 * Client i talks to urls[i % urls.length] (pass the leader's URL first: one client then
 * talks to the leader, and many spread evenly over every node) and writes to the next
 * account. With `roundRobin`, each client's requests go round every URL in turn instead,
 * client i starting at urls[i % urls.length].
 */
export function senders(accounts: readonly Account[], urls: readonly string[], count: number, options: { roundRobin?: boolean } = {}): Sender[] {
  if (accounts.length === 0) throw new Error("no accounts");
  return Array.from({ length: count }, (_, i) => {
    const token = accounts[i % accounts.length]!.token;
    const to = accounts[(i + 1) % accounts.length]!.username;
    const url = urls[i % urls.length]!;
    return {
      url,
      token,
      to,
      targets: (options.roundRobin === true ? rotate(urls, i) : [url]).map((u) => `${u}/v1/messages`),
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ to, content: CONTENT }),
      okStatus: 201,
    };
  });
}

/** One POST of `write` to `target`: its status ("201"), or "timeout" / "network". Never throws. */
export async function sendOnce(write: Write, timeoutMs = REQUEST_TIMEOUT_MS, target = write.targets[0]!): Promise<string> {
  try {
    const response = await fetch(target, { method: "POST", headers: write.headers, body: write.body, signal: AbortSignal.timeout(timeoutMs) });
    await response.arrayBuffer();
    return String(response.status);
  } catch (error) {
    return (error as Error).name === "TimeoutError" ? "timeout" : "network";
  }
}

/**
 * Run one closed loop per sender until `stop()` says so. `onResult` sees every answer with
 * its start and end (performance.now() ms). Failed writes pause `errorBackoffMs` so a
 * cluster without a leader is not spun against.
 */
export async function runLoops(
  list: readonly Write[],
  stop: () => boolean,
  onResult: (ok: boolean, startedAt: number, endedAt: number, client: number, outcome: string) => void,
  options: { timeoutMs?: number; errorBackoffMs?: number } = {},
): Promise<void> {
  await Promise.all(
    list.map(async (write, client) => {
      const ack = String(write.okStatus);
      for (let n = 0; !stop(); n++) {
        const startedAt = performance.now();
        const outcome = await sendOnce(write, options.timeoutMs, write.targets[n % write.targets.length]);
        const ok = outcome === ack;
        onResult(ok, startedAt, performance.now(), client, outcome);
        if (!ok && options.errorBackoffMs !== undefined) await Bun.sleep(options.errorBackoffMs);
      }
    }),
  );
}

export interface LevelResult {
  clients: number;
  seconds: number;
  messages: number;
  messagesPerSecond: number;
  latencyMs: { p50: number; p99: number; max: number };
  errors: number;
  /** Failed writes by HTTP status, "timeout" or "network". */
  errorsBy: Record<string, number>;
  /** Per process: CPU % of one core, CPU µs per message, RSS MB (empty when not measured). */
  processes: ProcessUsage[];
}

/** A warm-up, then a measured window of `measureMs` with `list.length` closed-loop clients. */
export async function measureLevel(list: readonly Write[], warmupMs: number, measureMs: number, meter: ProcessMeter | null): Promise<LevelResult> {
  let measuring = false;
  let stopped = false;
  const errorsBy: Record<string, number> = {};
  const latencies: number[] = [];
  const loops = runLoops(list, () => stopped, (ok, startedAt, endedAt, _client, outcome) => {
    if (!measuring) return;
    if (ok) latencies.push(endedAt - startedAt);
    else errorsBy[outcome] = (errorsBy[outcome] ?? 0) + 1;
  }, { errorBackoffMs: 10 });
  await Bun.sleep(warmupMs);
  const before = meter?.start() ?? null;
  measuring = true;
  const startedAt = performance.now();
  await Bun.sleep(measureMs);
  measuring = false;
  const elapsedMs = performance.now() - startedAt;
  const processes = before !== null && meter !== null ? meter.finish(before, elapsedMs, latencies.length) : [];
  stopped = true;
  await loops;
  latencies.sort((a, b) => a - b);
  return summarizeLevel(list.length, latencies, errorsBy, elapsedMs, processes);
}

/** Pure: a level's figures from sorted latencies (ms). */
export function summarizeLevel(clients: number, sortedLatencies: readonly number[], errorsBy: Record<string, number>, elapsedMs: number, processes: ProcessUsage[]): LevelResult {
  const n = sortedLatencies.length;
  return {
    clients,
    seconds: round(elapsedMs / 1000, 2),
    messages: n,
    messagesPerSecond: elapsedMs > 0 ? Math.round((n * 1000) / elapsedMs) : 0,
    latencyMs: {
      p50: round(percentile(sortedLatencies, 50), 3),
      p99: round(percentile(sortedLatencies, 99), 3),
      max: round(sortedLatencies[n - 1] ?? NaN, 3),
    },
    errors: Object.values(errorsBy).reduce((a, b) => a + b, 0),
    errorsBy,
    processes: processes.map((p) => ({ ...p, cpuPercent: round(p.cpuPercent, 1), cpuUsPerMessage: round(p.cpuUsPerMessage, 1), sysUsPerMessage: round(p.sysUsPerMessage, 1), rssMB: round(p.rssMB, 1) })),
  };
}
