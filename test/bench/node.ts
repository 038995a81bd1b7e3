// bench:node — 5 node processes + nats-server on this machine; 1 and 64 concurrent
// proposers of 200-byte commands through the node API (NATS request to the leader,
// no HTTP). Prints committed/s, commit latency p50/p99, and fsyncs per commit.
//
// Usage: bun test/bench/node.ts [--seconds 5] [--warmup 1] [--size 200] [--clients 1,64] [--commands opaque|chat] [--json] [--profile DIR]
// --commands opaque (default): `size` bytes the chat state machine refuses at once, so the
//   figures are raft, storage and transport. --commands chat: sendMessage commands with a
//   200-character message among 64 accounts, as bench:http sends them (no idempotency
//   key), so the two benchmarks differ only by HTTP.
// CONCORD_TRACE=DIR makes every process log per-proposal stage times (test/bench/trace-breakdown.ts).
import { appendFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { encodeCommand } from "../../src/chat/command-codec.ts";
import { nowUs } from "../../src/node/stage-trace.ts";
import { LocalCluster } from "../../harness/cluster/local-cluster.ts";
import { measuredWindow } from "./measured-window.ts";
import { percentile } from "../../harness/bench/stats.ts";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    seconds: { type: "string", default: "5" },
    warmup: { type: "string", default: "1" },
    size: { type: "string", default: "200" },
    clients: { type: "string", default: "1,64" },
    commands: { type: "string", default: "opaque" },
    json: { type: "boolean", default: false },
    profile: { type: "string" },
  },
});
// Run the nodes under `bun --cpu-prof` (summarize with test/bench/profile-summary.ts).
if (values.profile !== undefined) process.env["CONCORD_NODE_BUN_FLAGS"] = `--cpu-prof --cpu-prof-dir=${values.profile}`;
const seconds = Number(values.seconds);
const warmupSeconds = Number(values.warmup);
const size = Number(values.size);
const clientCounts = values.clients.split(",").map(Number);
const commands = values.commands;
if (commands !== "opaque" && commands !== "chat") throw new Error(`--commands is opaque or chat, not ${commands}`);
const CHAT_ACCOUNTS = 64;
const chatAccount = (i: number) => `bench${i % CHAT_ACCOUNTS}`;
const progress = (line: string) => process.stderr.write(`${line}\n`);



function processes(cluster: LocalCluster, leader: number): Record<string, number> {
  const pids: Record<string, number> = { "nats-server": cluster.nats.pid!, bench: process.pid };
  for (const id of cluster.running()) pids[id === leader ? `leader (node ${id})` : `node ${id}`] = cluster.node(id).pid!;
  return pids;
}

interface Phase {
  clients: number;
  committedPerSecond: number;
  latencyMsP50: number;
  latencyMsP99: number;
  latencyMsMax: number;
  fsyncsPerCommit: number;
  entriesPerAppendBatch: number;
  /** Where the CPU goes: microseconds of CPU per commit, by process. */
  cpuUsPerCommit: Record<string, number>;
  /** The kernel's part of it. */
  sysUsPerCommit: Record<string, number>;
}


async function runPhase(cluster: LocalCluster, leader: number, clients: number): Promise<Phase> {
  const opaque = new Uint8Array(size).fill(97);
  const content = "x".repeat(200);
  const command = (client: number): Uint8Array => {
    if (commands === "opaque") return opaque;
    const from = chatAccount(client);
    return encodeCommand({ type: "sendMessage", from, to: chatAccount(client + 1), content });
  };
  let measuring = false;
  let stop = false;
  const latencies: number[] = [];
  // CONCORD_TRACE=DIR: the nodes log stage times per entry; we log when each proposal
  // left and came back (see test/bench/trace-breakdown.ts).
  const traceDir = process.env["CONCORD_TRACE"];
  const traced: string[] = [];
  const loops = Array.from({ length: clients }, async (_, client) => {
    while (!stop) {
      const started = performance.now();
      const sentUs = traceDir !== undefined ? nowUs() : 0;
      const { index } = await cluster.client.propose(leader, command(client), 5000);
      if (measuring) {
        latencies.push(performance.now() - started);
        if (traceDir !== undefined) traced.push(`${sentUs} 0 client_send ${index}\n${nowUs()} 0 client_recv ${index}`);
      }
    }
  });
  const { elapsedS, cpuMs, sysMs, fsyncs, applyBatches } = await measuredWindow(cluster, processes(cluster, leader), warmupSeconds * 1000, seconds, (on) => (measuring = on));
  stop = true;
  await Promise.all(loops);
  if (traceDir !== undefined && traced.length > 0) appendFileSync(join(traceDir, `client-${clients}.trace`), traced.join("\n") + "\n");
  latencies.sort((a, b) => a - b);
  const commits = latencies.length;
  return {
    clients,
    committedPerSecond: Math.round(commits / elapsedS),
    latencyMsP50: +percentile(latencies, 50).toFixed(3),
    latencyMsP99: +percentile(latencies, 99).toFixed(3),
    latencyMsMax: +(latencies[latencies.length - 1] ?? NaN).toFixed(3),
    fsyncsPerCommit: +(fsyncs / Math.max(1, commits)).toFixed(3),
    // Entries per apply batch on one node ≈ how many commands travel per round.
    entriesPerAppendBatch: +((commits * cluster.running().length) / Math.max(1, applyBatches)).toFixed(1),
    cpuUsPerCommit: Object.fromEntries(
      Object.entries(cpuMs).map(([name, ms]) => [name, +((ms * 1000) / Math.max(1, commits)).toFixed(1)]),
    ),
    sysUsPerCommit: Object.fromEntries(
      Object.entries(sysMs).map(([name, ms]) => [name, +((ms * 1000) / Math.max(1, commits)).toFixed(1)]),
    ),
  };
}

progress("bench:node  starting nats-server and 5 node processes …");
const cluster = await LocalCluster.start({ nodes: 5, snapshotEvery: 50_000, rpcTool: true });
try {
  const leader = await cluster.leader();
  progress(`bench:node  leader is node ${leader}; ${seconds}s per phase after ${warmupSeconds}s warm-up, ${commands === "chat" ? "chat sendMessage commands" : `${size}-byte commands`}`);
  if (commands === "chat") {
    // Accounts exist before messages can be sent to them; the hash is a placeholder (nobody logs in).
    for (let i = 0; i < CHAT_ACCOUNTS; i++) {
      const { result } = await cluster.client.propose(leader, encodeCommand({ type: "createAccount", username: chatAccount(i), passwordHash: "x".repeat(97) }), 5000);
      if ((result as { ok?: boolean }).ok !== true) throw new Error(`creating ${chatAccount(i)}: ${JSON.stringify(result)}`);
    }
  }
  const phases: Phase[] = [];
  for (const clients of clientCounts) {
    progress(`  ${clients} in flight …`);
    phases.push(await runPhase(cluster, leader, clients));
  }
  const result = { benchmark: "bench:node", nodes: 5, commands, commandBytes: commands === "chat" ? null : size, seconds, phases, machine: { cpus: navigator.hardwareConcurrency, bun: Bun.version } };
  if (values.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } else {
    const lines = [`bench:node  5 node processes + nats-server, ${commands === "chat" ? "chat sendMessage commands (200-character messages)" : `${size}-byte commands`} through the node API (no HTTP)`];
    lines.push("  in flight   committed/s   p50 ms   p99 ms   max ms   fsyncs/commit   commands/batch");
    for (const p of phases) {
      lines.push(`  ${String(p.clients).padStart(9)}   ${String(p.committedPerSecond).padStart(11)}   ${p.latencyMsP50.toFixed(2).padStart(6)}   ${p.latencyMsP99.toFixed(2).padStart(6)}   ${p.latencyMsMax.toFixed(1).padStart(6)}   ${p.fsyncsPerCommit.toFixed(2).padStart(13)}   ${p.entriesPerAppendBatch.toFixed(1).padStart(14)}`);
    }
    lines.push("  CPU µs per commit, by process (from /proc; system time in brackets):");
    for (const p of phases) {
      const total = Object.values(p.cpuUsPerCommit).reduce((a, b) => a + b, 0);
      lines.push(`    ${String(p.clients).padStart(3)} in flight: ${Object.entries(p.cpuUsPerCommit).map(([n, us]) => `${n} ${us} [${p.sysUsPerCommit[n]}]`).join(", ")}; total ${total.toFixed(0)}`);
    }
    lines.push(`  machine     bun ${Bun.version}, ${navigator.hardwareConcurrency} cpus`);
    process.stdout.write(`${lines.join("\n")}\n`);
  }
} finally {
  // A profile is written when its process exits normally: stop the nodes with SIGTERM first.
  if (values.profile !== undefined) await Promise.all(cluster.running().map((id) => cluster.node(id).stop()));
  await cluster.stop();
}
