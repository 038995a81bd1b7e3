// Growth: load many messages through the HTTP API (every one a Raft entry applied by the
// chat state machine on all five nodes), then measure what history costs: disk per
// message, snapshot size and time, restart-to-ready, a wiped node's catch-up by snapshot,
// and throughput compared with the empty cluster.
import { readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@libsql/client";
import { CHAT_TABLES } from "../../src/chat/chat-state-machine.ts";
import { copyStateOffThread } from "../../src/node/state-copy.ts";
import type { LocalCluster } from "../cluster/local-cluster.ts";
import type { ProcessMeter } from "./proc-stats.ts";
import { round } from "./stats.ts";
import { type Account, type LevelResult, measureLevel, runLoops, senders } from "./workload.ts";
import { urlsFromLeader } from "./bench-target.ts";

export interface GrowthResult {
  /** Messages the load phase sent (acknowledged). */
  loadedMessages: number;
  loadClients: number;
  loadSeconds: number;
  loadMessagesPerSecond: number;
  /** Writes that failed during the load (each resent), by HTTP status, "timeout" or "network". */
  loadErrorsBy: Record<string, number>;
  /** Messages stored on the measured follower (the table's row count: every phase's writes). */
  storedMessages: number;
  disk: { node: number; dbBytes: number; walBytes: number; snapshotFileBytes: number; dataDirBytes: number; bytesPerMessage: number; dataDirBytesPerMessage: number };
  snapshot: { index: number; bytes: number; takeMs: number; how: string };
  restart: { node: number; toListeningMs: number; toReadyMs: number };
  wipedCatchUp: { node: number; targetIndex: number; catchUpMs: number; bySnapshot: boolean; snapshotIndex: number };
  throughput: { clients: number; empty: LevelResult | null; loaded: LevelResult; ratio: number | null };
}

export interface GrowthOptions {
  messages: number;
  loadClients: number;
  throughputClients: number;
  warmupMs: number;
  measureMs: number;
  /** The empty cluster's level at throughputClients, if the main phase measured it. */
  empty: LevelResult | null;
}

const PROGRESS_EVERY_MS = 5000;

function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return "?";
  const s = Math.round(ms / 1000);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s` : `${s}s`;
}

/** Send exactly `total` acknowledged messages with `list.length` closed-loop clients. */
export async function loadMessages(list: ReturnType<typeof senders>, total: number, progress: (line: string) => void): Promise<{ sent: number; ms: number; errors: number; errorsBy: Record<string, number> }> {
  let issued = 0;
  let acked = 0;
  let errors = 0;
  const errorsBy: Record<string, number> = {};
  const started = performance.now();
  let lastAt = started;
  let lastAcked = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    const rate = ((acked - lastAcked) * 1000) / (now - lastAt);
    lastAt = now;
    lastAcked = acked;
    const eta = rate > 0 ? ((total - acked) / rate) * 1000 : NaN;
    progress(`  loaded ${acked.toLocaleString("en-US")} / ${total.toLocaleString("en-US")} messages (${Math.round(rate).toLocaleString("en-US")}/s, ${errors} errors, ETA ${formatDuration(eta)})`);
  }, PROGRESS_EVERY_MS);
  try {
    await runLoops(list, () => {
      if (issued >= total) return true;
      issued++;
      return false;
    }, (ok, _startedAt, _endedAt, _client, outcome) => {
      if (ok) acked++;
      else {
        errors++;
        errorsBy[outcome] = (errorsBy[outcome] ?? 0) + 1;
        issued--; // send another in its place
      }
    }, { errorBackoffMs: 20 });
  } finally {
    clearInterval(timer);
  }
  return { sent: acked, ms: performance.now() - started, errors, errorsBy };
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

async function dirSize(dir: string): Promise<number> {
  let total = 0;
  for (const name of await readdir(dir)) total += await fileSize(join(dir, name));
  return total;
}

/** The node's snapshot step (LibsqlStateMachine.snapshot: copyStateOffThread), run on a live follower's database. */
async function timeSnapshot(dbPath: string): Promise<{ bytes: number; ms: number }> {
  const file = join(tmpdir(), `concord-bench-snapshot-${process.pid}-${Date.now()}.db`);
  const started = performance.now();
  try {
    // The node's own snapshot step: its state tables copied into a file, in a worker thread.
    await copyStateOffThread(dbPath, file, CHAT_TABLES);
    return { bytes: await fileSize(file), ms: performance.now() - started };
  } finally {
    await rm(file, { force: true });
  }
}

async function countMessages(dbPath: string): Promise<number> {
  const db = createClient({ url: `file:${dbPath}` });
  try {
    return Number((await db.execute("SELECT count(*) FROM messages")).rows[0]?.[0] ?? 0);
  } finally {
    db.close();
  }
}

async function waitReady(url: string, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      const response = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1000) });
      await response.arrayBuffer();
      if (response.status === 200) return;
    } catch {
      // not yet
    }
    if (performance.now() > deadline) throw new Error(`${url} not ready after ${timeoutMs} ms`);
    await Bun.sleep(5);
  }
}

export async function growthPhase(cluster: LocalCluster, accounts: readonly Account[], meter: ProcessMeter, options: GrowthOptions, progress: (line: string) => void): Promise<GrowthResult> {
  let leader = await cluster.leader();
  const loadList = senders(accounts, urlsFromLeader(cluster.urls, leader), options.loadClients);
  progress(`  loading ${options.messages.toLocaleString("en-US")} messages with ${options.loadClients} clients over all nodes …`);
  const load = await loadMessages(loadList, options.messages, progress);
  progress(`  loaded ${load.sent.toLocaleString("en-US")} in ${(load.ms / 1000).toFixed(1)} s (${Math.round((load.sent * 1000) / load.ms)}/s); waiting for every node to apply …`);
  leader = await cluster.leader();
  await cluster.converged((await cluster.view(leader))?.commitIndex ?? 0, 120_000);

  progress(`  throughput at ${options.throughputClients} clients with the history in place …`);
  const loaded = await measureLevel(senders(accounts, urlsFromLeader(cluster.urls, leader), options.throughputClients), options.warmupMs, options.measureMs, meter);
  leader = await cluster.leader();
  await cluster.converged((await cluster.view(leader))?.commitIndex ?? 0, 120_000);

  const followers = cluster.running().filter((id) => id !== leader);
  const measured = followers[0]!;
  const dir = join(cluster.dir, `node-${measured}`);
  const dbPath = join(dir, "node.db");
  const storedMessages = await countMessages(dbPath);
  const dbBytes = await fileSize(dbPath);
  const walBytes = await fileSize(`${dbPath}-wal`);
  const snapshotFile = (await readdir(dir)).find((n) => /^snapshot-\d+\.bin$/.test(n));
  const snapshotFileBytes = snapshotFile === undefined ? 0 : await fileSize(join(dir, snapshotFile));
  const dataDirBytes = await dirSize(dir);
  progress(`  node ${measured}: ${storedMessages.toLocaleString("en-US")} messages, ${(dataDirBytes / 1e6).toFixed(1)} MB on disk; timing a snapshot of its state …`);
  const snap = await timeSnapshot(dbPath);

  progress(`  kill -9 node ${measured} and restart it on its data …`);
  await cluster.kill(measured);
  const restartAt = performance.now();
  await cluster.startNode(measured);
  const listeningAt = performance.now();
  await waitReady(cluster.urls.get(measured)!, 60_000);
  const readyAt = performance.now();
  progress(`    ready after ${(readyAt - restartAt).toFixed(0)} ms`);

  const wiped = followers[1] ?? measured;
  progress(`  wipe node ${wiped}: remove it, delete its data, start it empty with --join, add it back …`);
  const wipe = await wipeAndRejoin(cluster, wiped);
  progress(`    caught up to index ${wipe.targetIndex} in ${wipe.catchUpMs.toFixed(0)} ms (${wipe.bySnapshot ? `by snapshot ${wipe.snapshotIndex}` : "by log replication"})`);

  const empty = options.empty;
  return {
    loadedMessages: load.sent,
    loadClients: options.loadClients,
    loadSeconds: round(load.ms / 1000, 1),
    loadMessagesPerSecond: Math.round((load.sent * 1000) / load.ms),
    loadErrorsBy: load.errorsBy,
    storedMessages,
    disk: {
      node: measured,
      dbBytes,
      walBytes,
      snapshotFileBytes,
      dataDirBytes,
      bytesPerMessage: storedMessages > 0 ? Math.round((dbBytes + walBytes) / storedMessages) : 0,
      dataDirBytesPerMessage: storedMessages > 0 ? Math.round(dataDirBytes / storedMessages) : 0,
    },
    snapshot: {
      index: snapshotFile === undefined ? 0 : Number(/\d+/.exec(snapshotFile)![0]),
      bytes: snapshotFileBytes > 0 ? snapshotFileBytes : snap.bytes,
      takeMs: round(snap.ms, 0),
      how: "bytes: the node's latest snapshot file; time: the node's snapshot step (its state tables copied into a file in a worker thread) run by the bench on a live follower's database",
    },
    restart: { node: measured, toListeningMs: round(listeningAt - restartAt, 0), toReadyMs: round(readyAt - restartAt, 0) },
    wipedCatchUp: { node: wiped, ...wipe },
    throughput: { clients: options.throughputClients, empty, loaded, ratio: empty !== null && empty.messagesPerSecond > 0 ? round(loaded.messagesPerSecond / empty.messagesPerSecond, 3) : null },
  };
}

/**
 * A node that lost its disk must not come back as the voter it was (it forgot its votes):
 * remove it, delete its data, start it empty with --join and add it back. Times from the
 * start of the empty process until it has applied everything committed when it started.
 */
async function wipeAndRejoin(cluster: LocalCluster, id: number): Promise<{ targetIndex: number; catchUpMs: number; bySnapshot: boolean; snapshotIndex: number }> {
  let leader = await cluster.leader();
  const removed = await cluster.admin(leader, "DELETE", `/v1/cluster/members/${id}`);
  if (removed.status !== 202) throw new Error(`remove node ${id}: ${removed.status} ${await removed.text()}`);
  await cluster.waitFor(`node ${id} to leave the configuration`, async () => {
    const view = await cluster.view(leader);
    return view !== null && !view.members.some((m) => m.id === id) ? true : undefined;
  }, 30_000);
  await cluster.kill(id);
  // A fresh process with --join (LocalCluster keeps a node's first arguments).
  cluster.node(id).dispose();
  cluster.processes.delete(id);
  await rm(join(cluster.dir, `node-${id}`), { recursive: true, force: true });
  leader = await cluster.leader(20_000, cluster.running());
  const leaderView = await cluster.view(leader);
  const targetIndex = leaderView?.commitIndex ?? 0;
  // The leader's log before its snapshot is gone: an empty node can only start from a snapshot.
  const leaderSnapshot = leaderView?.snapshotIndex ?? 0;
  const started = performance.now();
  await cluster.startNode(id, { join: true });
  // As a learner first: adding a voter waits (within the request deadline) for the catch-up.
  const added = await cluster.admin(leader, "POST", "/v1/cluster/members", { id, voter: false });
  if (added.status !== 202) throw new Error(`add node ${id} as a learner: ${added.status} ${await added.text()}`);
  await cluster.waitFor(`node ${id} to catch up to ${targetIndex}`, async () => {
    const v = await cluster.view(id);
    return v !== null && v.appliedIndex >= targetIndex ? v : undefined;
  }, 600_000);
  const catchUpMs = performance.now() - started;
  await cluster.waitFor(`node ${id} to become a voter`, async () => {
    const promoted = await cluster.admin(leader, "POST", "/v1/cluster/members", { id, voter: true });
    await promoted.arrayBuffer();
    return promoted.status === 202 && (await cluster.view(leader))?.members.some((m) => m.id === id && m.voter) ? true : undefined;
  }, 60_000);
  return { targetIndex, catchUpMs: round(catchUpMs, 0), bySnapshot: leaderSnapshot > 0, snapshotIndex: leaderSnapshot };
}
