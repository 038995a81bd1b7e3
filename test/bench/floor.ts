// bench:floor — what this machine and one node's storage cost, before any cluster runs:
// the floors the cluster benchmarks sit on.
//
//   fsync          write+fdatasync of 4 KiB, by 1, 3 and 5 processes at once (a commit
//                  waits for the third of five nodes, all on this one disk), appending
//                  and, by 1 and 5, overwriting blocks the file has (a node's WAL)
//   nats           request/reply round trip through nats-server, one at a time
//   http           a bare fetch → Bun.serve round trip, one at a time, and its CPU
//   raft log       LibsqlRaftStorage.write of sendMessage entries (fsync'd), per entry
//   apply          the chat state machine applying them, per message, by batch size
//
// Usage: bun test/bench/floor.ts [--json]
// Every figure is a median of several runs' means (wall) or CPU from process.cpuUsage().
import { spawn } from "node:child_process";
import { fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { encodeCommand, encodeProposal } from "../../src/chat/command-codec.ts";
import type { ChatCommand } from "../../src/chat/commands.ts";
import { chatStateMachine } from "../../src/node/concord-node.ts";
import type { Entry } from "../../src/raft/types.ts";
import { LibsqlRaftStorage } from "../../src/storage/libsql-storage.ts";
import { closeNodeDatabase, openNodeDatabase } from "../../src/storage/node-database.ts";
import { NatsServer } from "../../src/cli/nats-server-process.ts";

const { values } = parseArgs({ args: process.argv.slice(2), options: { json: { type: "boolean", default: false }, "fsync-writer": { type: "string" }, overwrite: { type: "boolean", default: false } } });
const progress = (line: string) => process.stderr.write(`${line}\n`);
const FSYNC_ROUNDS = 400;

// A child of this script: one fsync loop, printing its mean µs (see fsyncLatency).
if (values["fsync-writer"] !== undefined) {
  const fd = openSync(values["fsync-writer"], "w");
  const page = Buffer.alloc(4096, 97);
  // --overwrite: the file already has the blocks (as a node's preallocated WAL does).
  if (values.overwrite) {
    for (let i = 0; i < FSYNC_ROUNDS; i++) writeSync(fd, page);
    fdatasyncSync(fd);
  }
  const started = performance.now();
  for (let i = 0; i < FSYNC_ROUNDS; i++) {
    writeSync(fd, page, 0, page.length, i * page.length);
    fdatasyncSync(fd);
  }
  process.stdout.write(`${((performance.now() - started) * 1000) / FSYNC_ROUNDS}\n`);
  process.exit(0);
}

const dir = mkdtempSync(join(tmpdir(), "concord-floor-"));

/**
 * Mean µs per write+fdatasync when `writers` processes do it at once (their average),
 * appending to their files or overwriting blocks the files already have.
 */
async function fsyncLatency(writers: number, overwrite = false): Promise<number> {
  const runs = Array.from({ length: writers }, (_, i) =>
    new Promise<number>((resolve, reject) => {
      const args = [import.meta.path, "--fsync-writer", join(dir, `fsync-${i}.bin`), ...(overwrite ? ["--overwrite"] : [])];
      const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
      let out = "";
      child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
      child.on("error", reject);
      child.on("exit", (code) => (code === 0 ? resolve(Number(out)) : reject(new Error(`fsync writer exited with ${code}`))));
    }),
  );
  const means = await Promise.all(runs);
  return Math.round(means.reduce((a, b) => a + b, 0) / means.length);
}

async function natsRoundTrip(): Promise<number> {
  // An identity of this server's alone, for the echo subject and its own inbox.
  // allow_responses is harmless here: this server lives for this measurement only and runs no node (its one node identity is never used), so a reflected response has nobody to impersonate.
  const echo = { publish: ["floor.echo"], subscribe: ["floor.echo", "_INBOX_floor.echo.>"], allowResponses: true };
  const server = await NatsServer.start({ cluster: "floor", nodeIds: [1], guests: { echo } });
  try {
    const nc = await server.connectAs("echo");
    try {
      nc.subscribe("floor.echo", {
        callback: (_error, msg) => {
          msg.respond(msg.data);
        },
      });
      await nc.flush();
      const payload = new Uint8Array(200);
      for (let i = 0; i < 200; i++) await nc.request("floor.echo", payload, { timeout: 1000 });
      const rounds = 2000;
      const started = performance.now();
      for (let i = 0; i < rounds; i++) await nc.request("floor.echo", payload, { timeout: 1000 });
      return Math.round(((performance.now() - started) * 1000) / rounds);
    } finally {
      await nc.close();
    }
  } finally {
    await server.stop();
  }
}

async function httpRoundTrip(): Promise<{ roundTripUs: number; cpuUsPerRequest: number }> {
  const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: async (request) => new Response(await request.text(), { status: 201 }) });
  try {
    const url = `http://127.0.0.1:${server.port}/`;
    const body = JSON.stringify({ to: "someone", content: "x".repeat(200) });
    const once = async () => (await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body })).arrayBuffer();
    for (let i = 0; i < 200; i++) await once();
    const rounds = 2000;
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    for (let i = 0; i < rounds; i++) await once();
    const cpu = process.cpuUsage(cpuBefore);
    // Client and server share this process: the CPU is both ends of a request.
    return { roundTripUs: Math.round(((performance.now() - started) * 1000) / rounds), cpuUsPerRequest: Math.round((cpu.user + cpu.system) / rounds) };
  } finally {
    server.stop(true);
  }
}

interface StorageFloor {
  batch: number;
  logWriteCpuUsPerEntry: number;
  logWriteMsPerBatch: number;
  applyCpuUsPerMessage: number;
}

/** One node's raft write and chat apply of 200-byte messages among 64 accounts, with idempotency keys. */
async function storageCosts(batches: readonly number[]): Promise<StorageFloor[]> {
  const database = await openNodeDatabase({ path: join(dir, "node.db"), cluster: "floor", nodeId: 1, preallocateWal: true });
  try {
    const machine = chatStateMachine(database, dir).stateMachine;
    const storage = new LibsqlRaftStorage(database);
    await storage.load();
    let index = 0;
    const entry = (command: ChatCommand): Entry => ({ index: ++index, term: 1, kind: "normal", data: encodeProposal(Date.now(), encodeCommand(command)) });
    const accounts = Array.from({ length: 64 }, (_, i) => `bench${i}`);
    const setup = accounts.map((username) => entry({ type: "createAccount", username, passwordHash: "x".repeat(97) }));
    await storage.write({ hardState: { term: 1, vote: 1, commit: index }, snapshot: null, entries: setup });
    await machine.apply(setup);
    const results: StorageFloor[] = [];
    for (const batch of batches) {
      // About 20,000 messages a size (fewer for single entries: each is an fsync).
      const rounds = Math.max(200, Math.round(20_000 / batch / (batch === 1 ? 10 : 1)));
      let logCpuUs = 0;
      let logMs = 0;
      let applyCpuUs = 0;
      for (let round = 0; round < rounds; round++) {
        const entries: Entry[] = [];
        for (let i = 0; i < batch; i++) {
          const n = round * batch + i;
          const from = accounts[n % accounts.length]!;
          entries.push(entry({ type: "sendMessage", from, to: accounts[(n * 7 + 1) % accounts.length]!, content: "x".repeat(200), idempotency: { account: from, key: `k${index + 1}` } }));
        }
        const cpu0 = process.cpuUsage();
        const t0 = performance.now();
        await storage.write({ hardState: { term: 1, vote: 1, commit: index }, snapshot: null, entries });
        logMs += performance.now() - t0;
        const cpu1 = process.cpuUsage();
        await machine.apply(entries);
        const cpu2 = process.cpuUsage();
        logCpuUs += cpu1.user + cpu1.system - cpu0.user - cpu0.system;
        applyCpuUs += cpu2.user + cpu2.system - cpu1.user - cpu1.system;
      }
      const messages = rounds * batch;
      results.push({
        batch,
        logWriteCpuUsPerEntry: +(logCpuUs / messages).toFixed(1),
        logWriteMsPerBatch: +(logMs / rounds).toFixed(2),
        applyCpuUsPerMessage: +(applyCpuUs / messages).toFixed(1),
      });
      progress(`  batch ${batch}: raft log ${results.at(-1)!.logWriteCpuUsPerEntry} µs CPU/entry, apply ${results.at(-1)!.applyCpuUsPerMessage} µs CPU/message`);
    }
    return results;
  } finally {
    await closeNodeDatabase(database);
  }
}

try {
  progress("bench:floor  fsync with 1, 3 and 5 writers …");
  const fsyncUs = { writers1: await fsyncLatency(1), writers3: await fsyncLatency(3), writers5: await fsyncLatency(5) };
  const fsyncOverwriteUs = { writers1: await fsyncLatency(1, true), writers5: await fsyncLatency(5, true) };
  progress("bench:floor  NATS and HTTP round trips …");
  const natsRoundTripUs = await natsRoundTrip();
  const http = await httpRoundTrip();
  progress("bench:floor  one node's raft log write and chat apply …");
  const storage = await storageCosts([1, 16, 64, 256]);
  const result = { benchmark: "bench:floor", fsyncUs, fsyncOverwriteUs, natsRoundTripUs, http, storage, machine: { cpus: navigator.hardwareConcurrency, bun: Bun.version } };
  if (values.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } else {
    const lines = ["bench:floor  what one message costs before any cluster runs"];
    lines.push(`  fsync of 4 KiB appended ${fsyncUs.writers1} µs alone; ${fsyncUs.writers3} µs each with 3 writers; ${fsyncUs.writers5} µs each with 5`);
    lines.push(`  fsync of an overwrite   ${fsyncOverwriteUs.writers1} µs alone; ${fsyncOverwriteUs.writers5} µs each with 5 (a node's preallocated WAL)`);
    lines.push(`  NATS round trip         ${natsRoundTripUs} µs (200 bytes, request/reply, one at a time)`);
    lines.push(`  HTTP round trip         ${http.roundTripUs} µs (fetch → Bun.serve); ${http.cpuUsPerRequest} µs CPU for both ends`);
    lines.push("  one node, 200-byte messages among 64 accounts:");
    lines.push("    batch   raft log µs CPU/entry   ms/batch (fsync'd)   apply µs CPU/message");
    for (const s of storage) {
      lines.push(`    ${String(s.batch).padStart(5)}   ${s.logWriteCpuUsPerEntry.toFixed(1).padStart(21)}   ${s.logWriteMsPerBatch.toFixed(2).padStart(18)}   ${s.applyCpuUsPerMessage.toFixed(1).padStart(20)}`);
    }
    lines.push(`  machine     bun ${Bun.version}, ${navigator.hardwareConcurrency} cpus`);
    process.stdout.write(`${lines.join("\n")}\n`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
