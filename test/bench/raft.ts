// bench:raft — throughput of the Raft core alone.
//
// Five Raft nodes live in this one process. The "network" hands Message objects
// straight to the receiver's inbox (no encoding, no copying); "storage" is an array of
// entries per node. 64 closed-loop clients each propose a 200-byte command on the
// leader and propose the next one as soon as the previous one is applied there.
// A tight loop drives everything: for every node, step its inbox, then handle its
// Ready (persist to the arrays, route messages, apply, advance). Ticks come from the
// wall clock (one logical tick every --tick-ms), checked every few iterations, so
// heartbeats and elections work without timers in the hot path.
//
// What it measures:
//   committed/s      client proposals applied on the leader per second (the no-op and
//                    conf entries are not counted)
//   batch            entries per "app" message that carried entries, and entries per
//                    leader Ready (one storage write)
//   allocation       bytes allocated in the JavaScript heap per second, as JavaScriptCore
//                    itself counts them: the measurement runs in a child process started
//                    with BUN_JSC_logGC=1; every collection logs the bytes allocated since
//                    the previous one ("bytes allocated this cycle", the counter that
//                    schedules collections) and its heap size before/after. An eden
//                    collection is forced at the start and end of the measured window, so
//                    the sum over the collections in between is the bytes the window
//                    allocated (objects, arrays, typed-array storage, strings), whether
//                    they died young or not. In-process counters (heapSize, memoryUsage)
//                    cannot see allocation between collections, so they are not used.
//                    Calibration on Bun 1.4.5: 10M objects {a,b,c,d} (48 bytes each in
//                    JSC) measured 48.8 bytes each.
//                    It covers the whole benchmark process, driver included. The driver
//                    reuses client payloads; its share is the in-memory log arrays
//                    (about 50 of ~535 bytes per commit on Bun 1.4.5).
//   heap             live JavaScript heap after a full collection at the end, and RSS.
//                    Payload buffers are reused per client, so retained entries do not
//                    each hold 200 bytes here.
//
// Usage: bun test/bench/raft.ts [--seconds 5] [--warmup 1] [--clients 64] [--size 200]
//                          [--tick-ms 10] [--compact-every 10000] [--json] [--no-alloc]
// --json prints exactly one JSON object on stdout. Progress goes to stderr.
// Under `bun --cpu-prof` (or with --no-alloc) it runs in-process and reports no
// allocation figure, so the profile is of the benchmark itself.

import { edenGC, fullGC, heapSize } from "bun:jsc";
import { writeSync } from "node:fs";
import { Raft, emptyRestoredState, RaftError } from "../../src/raft/raft.ts";
import { SeededRng } from "../../src/raft/random.ts";
import type { ConfState, Entry, HardState, Message, NodeId, Ready, SnapshotMeta } from "../../src/raft/types.ts";

// ─────────────────────────────── options ───────────────────────────────

interface Options {
  seconds: number;
  warmup: number;
  clients: number;
  size: number;
  tickMs: number;
  compactEvery: number;
  json: boolean;
  alloc: boolean;
  worker: boolean;
}

function parseOptions(argv: readonly string[]): Options {
  const o: Options = {
    seconds: 5,
    warmup: 1,
    clients: 64,
    size: 200,
    tickMs: 10,
    compactEvery: 10_000,
    json: false,
    alloc: true,
    worker: false,
  };
  const num = (i: number, name: string): number => {
    const v = Number(argv[i + 1]);
    if (!Number.isFinite(v) || v < 0) throw new Error(`${name} needs a non-negative number`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    switch (a) {
      case "--seconds": o.seconds = num(i++, a); break;
      case "--warmup": o.warmup = num(i++, a); break;
      case "--clients": o.clients = Math.min(2048, Math.max(1, Math.floor(num(i++, a)))); break;
      case "--size": o.size = Math.floor(num(i++, a)); break;
      case "--tick-ms": o.tickMs = Math.max(1, num(i++, a)); break;
      case "--compact-every": o.compactEvery = Math.max(1, Math.floor(num(i++, a))); break;
      case "--json": o.json = true; break;
      case "--no-alloc": o.alloc = false; break;
      case "--worker": o.worker = true; break;
      case "-h":
      case "--help":
        process.stderr.write(
          "usage: bun test/bench/raft.ts [--seconds 5] [--warmup 1] [--clients 64] [--size 200] [--tick-ms 10] [--compact-every 10000] [--json] [--no-alloc]\n",
        );
        process.exit(0);
      default:
        throw new Error(`unknown option ${a}`);
    }
  }
  return o;
}

/** What the measuring process reports (the worker sends it to the supervisor as JSON). */
interface RunResult {
  seconds: number;
  committed: number;
  committedPerSec: number;
  meanLatencyMs: number;
  entriesPerAppend: number;
  entriesPerLeaderReady: number;
  leaderReadies: number;
  appendMessages: number;
  loopIterations: number;
  ticks: number;
  refusedProposals: number;
  leaderChanges: number;
  snapshotsSent: number;
  compactions: number;
  /** Largest gap between the leader's applied index and a follower's at the end. */
  maxFollowerLag: number;
  heapMB: number;
  rssMB: number;
}

const MARK_START = "@@bench:measure-start";
const MARK_END = "@@bench:measure-end";

// ─────────────────────────────── the cluster ───────────────────────────────

const NODES = 5;

interface Node {
  readonly id: NodeId;
  readonly raft: Raft;
  inbox: Message[];
  // In-memory "disk".
  stored: Entry[];
  storedFirst: number; // index of stored[0]
  hardState: HardState;
  snapshot: SnapshotMeta | null;
  // State machine bookkeeping.
  applied: number;
  appliedTerm: number;
  compactedAt: number;
}

function runBenchmark(o: Options, markWindow: boolean): RunResult {
  const voters: NodeId[] = [];
  for (let id = 1; id <= NODES; id++) voters.push(id);
  const bootstrap: ConfState = { voters, learners: [] };

  const nodes: Node[] = [];
  for (let id = 1; id <= NODES; id++) {
    nodes.push({
      id,
      raft: new Raft({ id, rng: new SeededRng(id), bootstrap }, emptyRestoredState()),
      inbox: [],
      stored: [],
      storedFirst: 1,
      hardState: { term: 0, vote: 0, commit: 0 },
      snapshot: null,
      applied: 0,
      appliedTerm: 0,
      compactedAt: 0,
    });
  }
  const nodeById = (id: NodeId): Node => nodes[id - 1]!;

  // Clients: each owns one reusable payload (its sequence number in the first bytes),
  // so the benchmark itself allocates almost nothing per proposal.
  const payloads: Uint8Array[] = [];
  for (let c = 0; c < o.clients; c++) payloads.push(new Uint8Array(o.size));
  const clientSeq = new Float64Array(o.clients);
  const clientTerm = new Float64Array(o.clients);
  const clientSentAt = new Float64Array(o.clients);
  // Outstanding proposals by log index, in a ring: at most `clients` are outstanding and
  // their indexes lie within a few entries of each other, so a small ring never collides.
  const RING = 4096;
  const pendingIndex = new Float64Array(RING); // 0 = free
  const pendingClient = new Int32Array(RING);
  let pendingCount = 0;
  const releaseAllPending = (): void => {
    for (let s = 0; s < RING; s++) {
      if (pendingIndex[s] !== 0) {
        pendingIndex[s] = 0;
        idle.push(pendingClient[s]!);
      }
    }
    pendingCount = 0;
  };
  // Clients ready to propose; apply() adds a client back when its command is applied.
  let idle: number[] = [];
  for (let c = 0; c < o.clients; c++) idle.push(c);
  let retry: number[] = [];

  let leader: NodeId = 0;
  let now = performance.now();

  // Counters (cumulative; the measured window takes differences).
  let committed = 0;
  let latencySumMs = 0;
  let appendMsgs = 0;
  let appendEntries = 0;
  let leaderReadies = 0;
  let leaderReadyEntries = 0;
  let refused = 0;
  let leaderChanges = 0;
  let snapshotsSent = 0;
  let compactions = 0;
  let ticks = 0;

  const route = (msgs: readonly Message[]): void => {
    for (let i = 0; i < msgs.length; i++) {
      const m = msgs[i]!;
      if (m.type === "app" && m.entries.length > 0) {
        appendMsgs++;
        appendEntries += m.entries.length;
      } else if (m.type === "snap") {
        snapshotsSent++;
      }
      nodeById(m.to).inbox.push(m);
    }
  };

  const persist = (n: Node, rd: Ready): void => {
    if (rd.snapshot !== null) {
      // Installing a snapshot: the "state machine" jumps to it, the stored log restarts.
      n.snapshot = rd.snapshot;
      n.stored = [];
      n.storedFirst = rd.snapshot.index + 1;
      n.applied = rd.snapshot.index;
      n.appliedTerm = rd.snapshot.term;
      n.compactedAt = rd.snapshot.index;
    }
    const entries = rd.entries;
    if (entries.length > 0) {
      const from = entries[0]!.index;
      const keep = from - n.storedFirst;
      if (keep < n.stored.length) n.stored.length = Math.max(0, keep);
      for (let i = 0; i < entries.length; i++) n.stored.push(entries[i]!);
    }
    if (rd.hardState !== null) n.hardState = rd.hardState;
  };

  const apply = (n: Node, rd: Ready): void => {
    const ce = rd.committedEntries;
    if (ce.length === 0) return;
    const isLeader = n.id === leader;
    for (let i = 0; i < ce.length; i++) {
      const e = ce[i]!;
      if (isLeader && pendingCount > 0) {
        const slot = e.index & (RING - 1);
        if (pendingIndex[slot] === e.index) {
          const c = pendingClient[slot]!;
          pendingIndex[slot] = 0;
          pendingCount--;
          if (e.term === clientTerm[c]) {
            committed++;
            latencySumMs += now - clientSentAt[c]!;
          }
          idle.push(c);
        }
      }
    }
    const last = ce[ce.length - 1]!;
    n.applied = last.index;
    n.appliedTerm = last.term;
  };

  const maybeCompact = (n: Node): void => {
    if (n.applied - n.compactedAt < o.compactEvery) return;
    const meta: SnapshotMeta = { index: n.applied, term: n.appliedTerm, conf: n.raft.status().conf };
    n.raft.compact(meta);
    n.snapshot = meta;
    const drop = n.applied + 1 - n.storedFirst;
    if (drop > 0) {
      n.stored = n.stored.slice(Math.min(drop, n.stored.length));
      n.storedFirst = n.applied + 1;
    }
    n.compactedAt = n.applied;
    compactions++;
  };

  const handleReady = (n: Node): void => {
    const rd = n.raft.ready();
    if (rd.softState !== null) {
      if (rd.softState.role === "leader" && leader !== n.id) {
        leader = n.id;
        leaderChanges++;
        // Everything pending on an old leader is lost to its clients; they retry here.
        releaseAllPending();
      } else if (rd.softState.role !== "leader" && leader === n.id) {
        leader = 0;
      }
    }
    route(rd.messages);
    persist(n, rd);
    if (n.id === leader && rd.entries.length > 0) {
      leaderReadies++;
      leaderReadyEntries += rd.entries.length;
    }
    route(rd.messagesAfterPersist);
    apply(n, rd);
    n.raft.advance();
    maybeCompact(n);
  };

  const proposeIdle = (): void => {
    if (leader === 0 || idle.length === 0) return;
    const raft = nodeById(leader).raft;
    for (let i = 0; i < idle.length; i++) {
      const c = idle[i]!;
      const seq = ++clientSeq[c]!;
      const p = payloads[c]!;
      p[0] = c & 0xff;
      p[1] = seq & 0xff;
      p[2] = (seq >>> 8) & 0xff;
      p[3] = (seq >>> 16) & 0xff;
      const r = raft.propose(p);
      if (r instanceof RaftError) {
        refused++;
        retry.push(c); // tries again after the next pass
        continue;
      }
      clientTerm[c] = r.term;
      clientSentAt[c] = now;
      const slot = r.index & (RING - 1);
      if (pendingIndex[slot] !== 0) throw new Error(`pending ring collision at index ${r.index}`);
      pendingIndex[slot] = r.index;
      pendingClient[slot] = c;
      pendingCount++;
    }
    idle.length = 0;
    const swap = idle;
    idle = retry;
    retry = swap;
  };

  // One pass over the cluster.
  const pass = (): void => {
    for (let k = 0; k < NODES; k++) {
      const n = nodes[k]!;
      const inbox = n.inbox;
      if (inbox.length > 0) {
        // Stepping never routes (messages leave through Ready), so the inbox is stable.
        for (let i = 0; i < inbox.length; i++) n.raft.step(inbox[i]!);
        inbox.length = 0;
      }
      if (n.raft.hasReady()) handleReady(n);
    }
    proposeIdle();
  };

  let nextTickAt = now + o.tickMs;
  const maybeTick = (): void => {
    now = performance.now();
    if (now < nextTickAt) return;
    // At most one tick per check: after a stall (GC pause, profiler) logical time
    // lags instead of firing a burst of election timeouts.
    nextTickAt = Math.max(nextTickAt + o.tickMs, now);
    ticks++;
    for (let k = 0; k < NODES; k++) nodes[k]!.raft.tick();
  };

  // Elect node 1.
  nodeById(1).raft.campaign();
  const electBy = performance.now() + 5_000;
  while (leader !== 1) {
    pass();
    maybeTick();
    if (now > electBy) throw new Error(`node 1 did not become leader (leader: ${leader})`);
  }

  // Warm up, then measure; progress on stderr once a second.
  const CHECK_EVERY = 16;
  let iterations = 0;
  const runFor = (seconds: number, label: string): void => {
    const end = performance.now() + seconds * 1000;
    let reportAt = performance.now() + 1000;
    let lastCommitted = committed;
    let lastReportTime = performance.now();
    for (;;) {
      pass();
      iterations++;
      if (iterations % CHECK_EVERY === 0) {
        maybeTick();
        if (now >= reportAt) {
          const rate = ((committed - lastCommitted) * 1000) / (now - lastReportTime);
          writeSync(2, `[${label}] ${Math.round(rate).toLocaleString("en-US")} committed/s, leader ${leader}\n`);
          lastCommitted = committed;
          lastReportTime = now;
          reportAt += 1000;
        }
        if (now >= end) return;
      }
    }
  };

  runFor(o.warmup, "warmup");

  const c0 = committed;
  const lat0 = latencySumMs;
  const am0 = appendMsgs;
  const ae0 = appendEntries;
  const lr0 = leaderReadies;
  const lre0 = leaderReadyEntries;
  const it0 = iterations;
  const tk0 = ticks;
  const rf0 = refused;
  const lc0 = leaderChanges;
  const ss0 = snapshotsSent;
  const cp0 = compactions;
  if (markWindow) {
    edenGC();
    writeSync(2, `${MARK_START}\n`);
  }
  const t0 = performance.now();
  runFor(o.seconds, "measure");
  const t1 = performance.now();
  if (markWindow) {
    writeSync(2, `${MARK_END}\n`);
    edenGC();
  }

  const seconds = (t1 - t0) / 1000;
  const done = committed - c0;
  const followerLag = verify(nodes, leader);
  fullGC();
  const result: RunResult = {
    seconds: round(seconds, 3),
    committed: done,
    committedPerSec: Math.round(done / seconds),
    meanLatencyMs: round(done > 0 ? (latencySumMs - lat0) / done : 0, 3),
    entriesPerAppend: round((appendEntries - ae0) / Math.max(1, appendMsgs - am0), 2),
    entriesPerLeaderReady: round((leaderReadyEntries - lre0) / Math.max(1, leaderReadies - lr0), 2),
    leaderReadies: leaderReadies - lr0,
    appendMessages: appendMsgs - am0,
    loopIterations: iterations - it0,
    ticks: ticks - tk0,
    refusedProposals: refused - rf0,
    leaderChanges: leaderChanges - lc0,
    snapshotsSent: snapshotsSent - ss0,
    compactions: compactions - cp0,
    maxFollowerLag: followerLag,
    heapMB: round(heapSize() / 1e6, 1),
    rssMB: round(process.memoryUsage().rss / 1e6, 1),
  };
  // Keep the cluster reachable until here so the heap figure includes it.
  if (nodes.length !== NODES) throw new Error("unreachable");
  return result;
}

/**
 * A cheap check that replication really happened: every follower applied most of what
 * the leader did, and where their stored logs overlap they hold the very Entry objects
 * the leader created (the in-memory transport hands them over by reference).
 */
function verify(nodes: readonly Node[], leader: NodeId): number {
  const l = nodes[leader - 1];
  if (l === undefined) throw new Error("no leader at the end of the run");
  let maxLag = 0;
  for (const n of nodes) {
    if (n === l) continue;
    const lag = l.applied - n.applied;
    maxLag = Math.max(maxLag, lag);
    if (n.applied === 0 || lag > 1_000_000) throw new Error(`node ${n.id} applied ${n.applied}, leader ${l.applied}`);
    const from = Math.max(n.storedFirst, l.storedFirst);
    const to = Math.min(n.storedFirst + n.stored.length, l.storedFirst + l.stored.length, n.applied + 1);
    for (let i = Math.max(from, to - 1000); i < to; i++) {
      if (n.stored[i - n.storedFirst] !== l.stored[i - l.storedFirst]) {
        throw new Error(`node ${n.id} and leader ${l.id} differ at index ${i}`);
      }
    }
  }
  return maxLag;
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

// ─────────────────────── allocation accounting (supervisor) ───────────────────────

interface AllocAccount {
  bytes: number;
  collections: number;
}

/**
 * Reads the child's stderr: GC log lines and window markers are consumed, everything
 * else is passed through. Returns the bytes allocated between the markers.
 */
class GcLogAccountant {
  private inWindow = false;
  private closing = false; // the end marker was seen; the next collection closes the window
  private done = false;
  private lastAfterKb = -1; // heap size after the previous collection
  private requested = -1; // "bytes allocated this cycle", logged before an allocation-triggered START
  private startKb = -1; // heap size when the current collection started
  private readonly account: AllocAccount = { bytes: 0, collections: 0 };
  private partial = "";

  constructor(private readonly forward: (line: string) => void) {}

  feed(chunk: string): void {
    const lines = (this.partial + chunk).split("\n");
    this.partial = lines.pop() ?? "";
    for (const line of lines) this.line(line);
  }

  /** The bytes allocated in the measured window, or null if the log did not show it. */
  finish(): AllocAccount | null {
    if (this.partial !== "") this.line(this.partial);
    this.partial = "";
    return this.done ? this.account : null;
  }

  private line(line: string): void {
    let consumed = /^\[GC<|^GC END!|^Requesting GC/.test(line);
    if (line.includes(MARK_START)) {
      this.inWindow = true;
      consumed = true;
    }
    if (line.includes(MARK_END)) {
      this.closing = true;
      consumed = true;
    }
    // Concurrent collections may split or interleave lines, so look for each piece anywhere.
    const req = /Requesting GC because bytes allocated this cycle: (\d+)/.exec(line);
    if (req !== null) this.requested = Number(req[1]);
    const start = /START \S+ (\d+)kb/.exec(line);
    if (start !== null) this.startKb = Number(start[1]);
    const end = /=> (\d+)kb, p=/.exec(line);
    if (end !== null) this.endOfCollection(Number(end[1]));
    if (!consumed && req === null && start === null && end === null) this.forward(line);
  }

  private endOfCollection(afterKb: number): void {
    if (this.inWindow && !this.done && this.lastAfterKb >= 0) {
      // Bytes allocated since the previous collection: JSC's own counter when the
      // collection was triggered by allocation, else how far the heap grew meanwhile.
      const grown = this.requested >= 0 ? this.requested : Math.max(0, (this.startKb - this.lastAfterKb) * 1024);
      this.account.bytes += grown;
      this.account.collections++;
      if (this.closing) {
        this.done = true;
        this.inWindow = false;
      }
    }
    this.lastAfterKb = afterKb;
    this.requested = -1;
    this.startKb = -1;
  }
}

async function supervise(o: Options, argv: readonly string[]): Promise<void> {
  const child = Bun.spawn([process.execPath, import.meta.path, ...argv, "--worker"], {
    env: { ...process.env, BUN_JSC_logGC: "1" },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const accountant = new GcLogAccountant((line) => writeSync(2, `${line}\n`));
  const decoder = new TextDecoder();
  const readErr = (async () => {
    for await (const chunk of child.stderr) accountant.feed(decoder.decode(chunk, { stream: true }));
  })();
  const out = await new Response(child.stdout).text();
  await readErr;
  const code = await child.exited;
  if (code !== 0) throw new Error(`benchmark worker exited with ${code}`);
  const result = JSON.parse(out.trim()) as RunResult;
  const alloc = accountant.finish();
  report(o, result, alloc);
}

// ─────────────────────────────── output ───────────────────────────────

function report(o: Options, r: RunResult, alloc: AllocAccount | null): void {
  const allocMBps = alloc === null ? null : round(alloc.bytes / 1e6 / r.seconds, 1);
  const allocPerCommit = alloc === null || r.committed === 0 ? null : Math.round(alloc.bytes / r.committed);
  if (o.json) {
    const obj = {
      bench: "raft",
      nodes: NODES,
      clients: o.clients,
      commandBytes: o.size,
      ...r,
      allocMBPerSec: allocMBps,
      allocBytesPerCommit: allocPerCommit,
      gcCollections: alloc?.collections ?? null,
      bun: Bun.version,
      cpus: navigator.hardwareConcurrency,
    };
    process.stdout.write(`${JSON.stringify(obj)}\n`);
    return;
  }
  const fmt = (n: number) => n.toLocaleString("en-US");
  const lines = [
    `bench:raft  ${NODES} nodes in one process, ${o.clients} closed-loop clients, ${o.size}-byte commands, ${r.seconds}s`,
    `  committed/s          ${fmt(r.committedPerSec)}   (${fmt(r.committed)} proposals, mean latency ${r.meanLatencyMs} ms)`,
    `  batch                ${r.entriesPerAppend} entries per append message, ${r.entriesPerLeaderReady} per leader Ready`,
    `  allocation           ${allocMBps === null ? "not measured (in-process run, or no GC log)" : `${fmt(allocMBps)} MB/s, ${fmt(allocPerCommit ?? 0)} bytes per commit, ${alloc?.collections} collections`}`,
    `  heap                 ${r.heapMB} MB live after full GC, RSS ${r.rssMB} MB`,
    `  loop                 ${fmt(r.loopIterations)} iterations, ${r.ticks} ticks, ${r.leaderChanges} leader changes, ${r.snapshotsSent} snapshots, ${r.compactions} compactions, ${r.refusedProposals} refused, follower lag <= ${r.maxFollowerLag}`,
    `  machine              bun ${Bun.version}, ${navigator.hardwareConcurrency} cpus`,
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
}

// ─────────────────────────────── main ───────────────────────────────

const argv = process.argv.slice(2);
const options = parseOptions(argv);
const profiling = process.execArgv.some((a) => a.startsWith("--cpu-prof") || a.startsWith("--heap-prof"));

if (options.worker) {
  const r = runBenchmark(options, true);
  process.stdout.write(`${JSON.stringify(r)}\n`);
} else if (!options.alloc || profiling) {
  report(options, runBenchmark(options, false), null);
} else {
  await supervise(options, argv);
}
