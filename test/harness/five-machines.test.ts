import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import { MACHINE_FILES } from "../../src/cli/init-deploy.ts";
import { findNatsServer } from "../../src/cli/nats-server-process.ts";
import { removeNetworkNamespace } from "./network-namespace.ts";

// Five machines, one node each, from the files `concord init` writes: five network
// namespaces ("machines") joined by a bridge in a sixth (the "switch", which also hosts
// the test's chat client), each running its nats-server and its node with the command
// line of the generated systemd units, from the unit's working directory (the machine
// directory's nats/ or node/), exactly as an operator would after copying it. The one
// liberty: all five machines share this filesystem, so each node gets `--data` of its own
// (flags win over node.json's /var/lib/concord).
//
// 1. A leader is elected over TLS routes; writes go through HTTPS (the client trusts the
//    cluster's CA), and plain HTTP to a node's address gets no answer.
// 2. The leader's machine loses its link (ip link set down): the other four elect a new
//    leader and keep writing; the cut node cannot write (asked from its own machine) and
//    steps down. The link comes back: the cut node catches up, the refused write is nowhere.
// 3. A rolling upgrade: each machine in turn stops its node gracefully (SIGTERM: a leader
//    hands leadership over), restarts its nats-server, starts its node again and waits for
//    it to catch up, while a client keeps writing through all five: no write fails, none
//    is lost or doubled, on any node.
// Needs root for `ip netns`; skipped otherwise.

const isRoot = process.getuid?.() === 0;
const ROOT = resolve(import.meta.dir, "../..");
const MAIN = join(ROOT, "src/main.ts");
const DRIVER = join(import.meta.dir, "five-machines-driver.ts");
const tag = `fm${process.pid % 100000}`;
const hub = `${tag}s`;
const subnet = `10.77.${process.pid % 250}`;
const MACHINES = [1, 2, 3, 4, 5] as const;
const ns = (n: number) => `${tag}m${n}`;
const ip = (n: number) => `${subnet}.${n}`;
const work = mkdtempSync(join(tmpdir(), "concord-five-machines-"));
const deploy = join(work, "concord-deploy");
const spawned: Subprocess[] = [];

function run(...args: string[]): void {
  const result = spawnSync("ip", args, { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`ip ${args.join(" ")}: ${result.stderr}`);
}

function cleanUp(): void {
  for (const child of spawned) if (child.exitCode === null) child.kill("SIGKILL");
  // Whatever else runs in our namespaces: end it by the PIDs they hold, then remove them.
  for (const name of [...MACHINES.map(ns), hub]) removeNetworkNamespace(name);
  rmSync(work, { recursive: true, force: true });
}

afterAll(cleanUp);

/** `ExecStart=` of a generated unit, split as systemd would (no quoting is used), and where it runs (`WorkingDirectory=`, here). */
function unitCommand(machine: number, unit: string): { argv: string[]; cwd: string } {
  const text = readFileSync(join(deploy, `machine-${machine}`, "systemd", unit), "utf8");
  const line = text.split("\n").find((l) => l.startsWith("ExecStart="));
  const workingDirectory = /^WorkingDirectory=(\S+)$/m.exec(text)?.[1];
  if (line === undefined || workingDirectory === undefined) throw new Error(`${unit} has no ExecStart or WorkingDirectory`);
  // The unit names the installed path (--config-dir, /etc/concord); here it is the machine directory.
  if (!workingDirectory.startsWith("/etc/concord/")) throw new Error(`${unit}: WorkingDirectory=${workingDirectory} is not under /etc/concord`);
  return { argv: line.slice("ExecStart=".length).trim().split(/\s+/), cwd: join(deploy, `machine-${machine}`, workingDirectory.slice("/etc/concord/".length)) };
}

/** The signal systemd would stop a generated unit with (KillSignal=, default SIGTERM). */
function unitKillSignal(machine: number, unit: string): NodeJS.Signals {
  const text = readFileSync(join(deploy, `machine-${machine}`, "systemd", unit), "utf8");
  return (/^KillSignal=(\S+)$/m.exec(text)?.[1] ?? "SIGTERM") as NodeJS.Signals;
}

/** Poll `probe` until it returns non-null (the cluster's state is only visible through HTTP). */
async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | null>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(100);
  }
}

/** A long-lived process whose output we read as it comes: `waitFor` resolves when a line appears. */
function watched(child: Subprocess<"ignore" | "pipe", "pipe", "pipe">) {
  let text = "";
  const waiters: { match: string; resolve: () => void }[] = [];
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      text += decoder.decode(chunk, { stream: true });
      for (const w of waiters.filter((w) => text.includes(w.match))) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  const done = Promise.all([pump(child.stdout), pump(child.stderr)]);
  return {
    child,
    get text() {
      return text;
    },
    done,
    waitFor(match: string, timeoutMs: number): Promise<void> {
      if (text.includes(match)) return Promise.resolve();
      return new Promise((resolveWait, reject) => {
        const timer = setTimeout(() => reject(new Error(`no '${match}' within ${timeoutMs} ms:\n${text.slice(-3000)}`)), timeoutMs);
        const exited = child.exited.then(() => reject(new Error(`exited (${child.exitCode ?? child.signalCode}) before '${match}':\n${text.slice(-3000)}`)));
        void exited;
        waiters.push({ match, resolve: () => (clearTimeout(timer), resolveWait()) });
      });
    },
  };
}

type Watched = ReturnType<typeof watched>;

function inMachine(n: number, { argv, cwd }: { argv: string[]; cwd: string }): Watched {
  // Each service runs from its own directory (systemd: WorkingDirectory), with umask 077.
  const child = Bun.spawn(["ip", "netns", "exec", ns(n), "/bin/sh", "-c", 'umask 077 && exec "$@"', "sh", ...argv], {
    cwd,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, HOME: join(work, `home-${n}`), BUN_RUNTIME_TRANSPILER_CACHE_PATH: "0" },
  });
  spawned.push(child);
  return watched(child);
}

/** One JSON command, one JSON answer, to a driver running in some namespace (trusting the cluster's CA). */
function driverIn(namespace: string) {
  const ca = join(deploy, "machine-1", MACHINE_FILES.nodeCa);
  const child = Bun.spawn(["ip", "netns", "exec", namespace, process.execPath, DRIVER, ca], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
  spawned.push(child);
  const reader = child.stdout.getReader();
  const decoder = new TextDecoder();
  let buffered = "";
  const errors = new Response(child.stderr).text();
  return {
    async ask<T = Record<string, unknown>>(command: Record<string, unknown>, timeoutMs = 120_000): Promise<T & { ok: boolean; error?: string }> {
      child.stdin.write(`${JSON.stringify(command)}\n`);
      child.stdin.flush();
      const deadline = Date.now() + timeoutMs;
      while (!buffered.includes("\n")) {
        const timeout = Bun.sleep(Math.max(0, deadline - Date.now())).then(() => "timeout" as const);
        const next = await Promise.race([reader.read(), timeout]);
        if (next === "timeout") throw new Error(`driver: no answer to ${JSON.stringify(command)} within ${timeoutMs} ms`);
        if (next.done) throw new Error(`driver exited: ${await errors}`);
        buffered += decoder.decode(next.value, { stream: true });
      }
      const at = buffered.indexOf("\n");
      const line = buffered.slice(0, at);
      buffered = buffered.slice(at + 1);
      return JSON.parse(line) as T & { ok: boolean; error?: string };
    },
    async close(): Promise<void> {
      child.stdin.end();
      await child.exited;
    },
  };
}

interface NodeStatus {
  url: string;
  error?: string;
  hsts?: string | null;
  nodeId?: number;
  role?: string;
  term?: number;
  leader?: number | null;
  commitIndex?: number;
  appliedIndex?: number;
}

describe.skipIf(!isRoot)("five machines in five network namespaces, from concord init's files (needs root; skipped when not root)", () => {
  test("a leader over TLS routes; a machine's link cut and restored; a rolling upgrade without a lost or failed write", async () => {
    expect(spawnSync("ip", ["-V"]).status).toBe(0); // iproute2: .ci/run installs it
    const url = (n: number) => `https://${ip(n)}:8080`;
    const urls = MACHINES.map(url);

    // The switch: a bridge in a namespace of its own, one veth pair per machine. Nothing is
    // added to the host's own namespace.
    run("netns", "add", hub);
    run("-n", hub, "link", "set", "lo", "up");
    run("-n", hub, "link", "add", "br0", "type", "bridge");
    run("-n", hub, "addr", "add", `${subnet}.100/24`, "dev", "br0");
    run("-n", hub, "link", "set", "br0", "up");
    for (const n of MACHINES) {
      run("netns", "add", ns(n));
      run("-n", hub, "link", "add", `p${n}`, "type", "veth", "peer", "name", "eth0", "netns", ns(n));
      run("-n", hub, "link", "set", `p${n}`, "master", "br0");
      run("-n", hub, "link", "set", `p${n}`, "up");
      run("-n", ns(n), "addr", "add", `${ip(n)}/24`, "dev", "eth0");
      run("-n", ns(n), "link", "set", "lo", "up");
      run("-n", ns(n), "link", "set", "eth0", "up");
      mkdirSync(join(work, `home-${n}`), { mode: 0o700 });
    }

    // What the operator runs once: this repository as the app directory, this machine's nats-server.
    const init = spawnSync(process.execPath, [MAIN, "init", "--hosts", urls.map((_, i) => ip(i + 1)).join(","), "--out", deploy, "--app-dir", ROOT, "--nats-server", findNatsServer()], { encoding: "utf8" });
    expect(`${init.status} ${init.stderr}`).toBe("0 ");
    if (Bun.which("systemd-analyze") !== null) {
      // The units are well-formed and name commands that exist here.
      const verify = spawnSync("systemd-analyze", ["verify", ...["concord-nats.service", "concord-node.service"].map((u) => join(deploy, "machine-1", "systemd", u))], { encoding: "utf8" });
      expect(`${verify.status} ${verify.stderr}`).toBe("0 ");
    }

    const nats = new Map<number, Watched>();
    const nodes = new Map<number, Watched>();
    const startNats = async (n: number) => {
      const server = inMachine(n, unitCommand(n, "concord-nats.service"));
      nats.set(n, server);
      await server.waitFor("Server is ready", 20_000);
    };
    const startNode = async (n: number) => {
      const unit = unitCommand(n, "concord-node.service");
      const node = inMachine(n, { ...unit, argv: [...unit.argv, "--data", join(work, `data-${n}`)] });
      nodes.set(n, node);
      await node.waitFor(`"event":"listening"`, 60_000);
    };
    // Stopped as systemd stops them: the unit's KillSignal (SIGTERM for the node: a leader hands over first).
    const stop = async (w: Watched | undefined, n: number, unit: string) => {
      if (w === undefined) return null;
      w.child.kill(unitKillSignal(n, unit));
      const timer = setTimeout(() => w.child.kill("SIGKILL"), 30_000);
      const code = await w.child.exited;
      clearTimeout(timer);
      return code;
    };

    await Promise.all(MACHINES.map(startNats));
    for (const n of MACHINES) await startNode(n);

    const client = driverIn(hub);
    const status = async (of: readonly string[] = urls): Promise<NodeStatus[]> => (await client.ask<{ nodes: NodeStatus[] }>({ op: "status", urls: of })).nodes;
    /** The leader every answering node of `of` agrees on, once there is one and it says so itself. */
    const agreedLeader = (of: readonly number[], timeoutMs: number) =>
      until(`one leader agreed by nodes ${of.join(",")}`, timeoutMs, async () => {
        const all = await status(of.map(url));
        const leaders = new Set(all.map((s) => s.leader));
        const leader = all.find((s) => s.role === "leader");
        if (all.some((s) => s.error !== undefined) || leaders.size !== 1 || leader === undefined || leader.nodeId !== all[0]!.leader) return null;
        return leader;
      });

    // 1. A leader, and writes through every node, over HTTPS.
    const first = await agreedLeader(MACHINES, 60_000);
    expect((await client.ask({ op: "accounts", urls })).ok).toBe(true);
    for (const s of await status()) expect(s.hsts).toBe("max-age=31536000");
    // Plain HTTP to a node's address is not served: no answer at all, not even a redirect.
    for (const s of await status(MACHINES.map((n) => `http://${ip(n)}:8080`))) {
      expect(s.error).toBeDefined();
      expect(s.error).not.toMatch(/^HTTP /);
    }

    // Every listener on a machine is on its own address (NATS, routes, HTTP); no secret on any command line.
    for (const n of MACHINES) {
      const listeners = spawnSync("ip", ["netns", "exec", ns(n), "ss", "-ltnH"], { encoding: "utf8" }).stdout.trim().split("\n").map((l) => l.split(/\s+/)[3]!);
      expect(listeners.sort()).toEqual([`${ip(n)}:4222`, `${ip(n)}:6222`, `${ip(n)}:8080`]);
    }
    const secrets = MACHINES.flatMap((n) => [MACHINE_FILES.identity, MACHINE_FILES.adminToken].map((f) => readFileSync(join(deploy, `machine-${n}`, f), "utf8").trim()));
    secrets.push(/route:([^@]+)@/.exec(readFileSync(join(deploy, "machine-1", MACHINE_FILES.natsConfig), "utf8"))![1]!);
    for (const n of MACHINES) {
      for (const pid of spawnSync("ip", ["netns", "pids", ns(n)], { encoding: "utf8" }).stdout.split("\n").filter(Boolean)) {
        let cmdline = "";
        try {
          cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
        } catch {
          // gone meanwhile
        }
        expect(secrets.filter((s) => cmdline.includes(s))).toEqual([]);
      }
    }

    const before = await client.ask<{ acked: string[]; failed: unknown[] }>({ op: "send", urls, prefix: "before", count: 10 });
    expect(before.failed).toEqual([]);

    // 2. The leader's machine loses its link.
    const cut = first.nodeId!;
    const rest = MACHINES.filter((n) => n !== cut);
    run("-n", ns(cut), "link", "set", "eth0", "down");
    const during = await client.ask<{ acked: string[]; failed: unknown[] }>({ op: "send", urls: rest.map(url), prefix: "during", count: 10 });
    expect(during.failed).toEqual([]);
    expect(during.acked.length).toBe(10);
    const second = await agreedLeader(rest, 30_000);
    expect(second.nodeId).not.toBe(cut);
    expect(second.term!).toBeGreaterThan(first.term!);
    // On the cut machine itself: its node has stepped down (check-quorum) and cannot write.
    const local = driverIn(ns(cut));
    const session = await client.ask<{ token: string }>({ op: "session" });
    expect((await local.ask({ op: "session", token: session.token })).ok).toBe(true);
    const cutStatus = await until(`node ${cut} to step down`, 30_000, async () => {
      const [s] = (await local.ask<{ nodes: NodeStatus[] }>({ op: "status", urls: [url(cut)] })).nodes;
      return s !== undefined && s.error === undefined && s.role !== "leader" ? s : null;
    });
    expect(cutStatus.role).not.toBe("leader");
    const refused = await local.ask<{ acked: boolean; code?: string }>({ op: "sendOnce", url: url(cut), content: "cut-write", timeoutMs: 15_000 }, 60_000);
    expect(refused.acked).toBe(false);
    // Not refused for who asked: the node has no quorum to write with.
    expect(refused.code).toMatch(/^(unavailable|timeout)/);
    console.log(`machine ${cut} (the leader, term ${first.term}) cut off: node ${second.nodeId} leads in term ${second.term}; a write at node ${cut}: ${refused.code}`);
    await local.close();

    // The link comes back: the cut node follows the new leader and catches up.
    const target = (await status([url(second.nodeId!)]))[0]!.commitIndex!;
    run("-n", ns(cut), "link", "set", "eth0", "up");
    const caughtUp = await until(`node ${cut} to catch up to ${target}`, 60_000, async () => {
      const [s] = await status([url(cut)]);
      return s !== undefined && s.error === undefined && s.appliedIndex! >= target && s.role === "follower" && s.leader !== null && s.leader !== cut ? s : null;
    });
    expect(caughtUp.appliedIndex!).toBeGreaterThanOrEqual(target);
    const seenByCut = (await client.ask<{ contents: string[] }>({ op: "read", url: url(cut) })).contents;
    for (const content of [...before.acked, ...during.acked]) expect(seenByCut.filter((c) => c === content).length).toBe(1);
    expect(seenByCut).not.toContain("cut-write");

    // 3. A rolling upgrade while a client writes through all five.
    expect((await client.ask({ op: "loopStart", urls, prefix: "rolling" })).ok).toBe(true);
    const acked = async () => (await client.ask<{ acked: number; failed: number }>({ op: "loopCount" })).acked;
    const progress = async (what: string) => {
      const from = await acked();
      await until(`writes to continue (${what})`, 60_000, async () => ((await acked()) >= from + 5 ? true : null));
    };
    const exits: Record<number, number | null> = {};
    const leaderStops: { node: number; newLeader: number }[] = [];
    for (const n of MACHINES) {
      await progress(`before machine ${n}`);
      const [mine] = await status([url(n)]);
      const wasLeader = mine?.role === "leader";
      exits[n] = await stop(nodes.get(n), n, "concord-node.service");
      if (wasLeader) {
        // It handed leadership over before it exited (a failed hand-off is logged at warn).
        expect(nodes.get(n)!.text).not.toContain("transfer_on_stop_failed");
        const next = await agreedLeader(MACHINES.filter((m) => m !== n), 30_000);
        leaderStops.push({ node: n, newLeader: next.nodeId! });
      }
      await progress(`node ${n} down`);
      // The machine's nats-server is upgraded too: stopped and started again.
      expect(await stop(nats.get(n), n, "concord-nats.service")).toBe(0);
      await startNats(n);
      await startNode(n);
      const leader = await agreedLeader(MACHINES, 60_000);
      await until(`node ${n} to catch up`, 60_000, async () => {
        const [s] = await status([url(n)]);
        return s !== undefined && s.error === undefined && s.appliedIndex! >= leader.commitIndex! ? true : null;
      });
      await progress(`node ${n} back`);
    }
    const rolling = await client.ask<{ acked: string[]; failed: { content: string; code: string }[]; maxGapMs: number }>({ op: "loopStop" });
    console.log(`rolling upgrade: ${rolling.acked.length} writes acknowledged, ${rolling.failed.length} failed, longest gap between acknowledgements ${rolling.maxGapMs} ms; leader stops: ${JSON.stringify(leaderStops)}`);
    // Every node stopped gracefully (exit 0), and at least one of them was leading when it did.
    expect(exits).toEqual({ 1: 0, 2: 0, 3: 0, 4: 0, 5: 0 });
    expect(leaderStops.length).toBeGreaterThanOrEqual(1);
    expect(rolling.failed).toEqual([]);
    expect(rolling.acked.length).toBeGreaterThanOrEqual(50);
    const expected = [...before.acked, ...during.acked, ...rolling.acked];
    for (const n of MACHINES) {
      const contents = (await client.ask<{ contents: string[] }>({ op: "read", url: url(n) })).contents;
      const counts = new Map<string, number>();
      for (const c of contents) counts.set(c, (counts.get(c) ?? 0) + 1);
      expect({ node: n, missing: expected.filter((c) => counts.get(c) !== 1) }).toEqual({ node: n, missing: [] });
      expect(contents).not.toContain("cut-write");
    }
    await client.close();
    for (const n of MACHINES) {
      expect(await stop(nodes.get(n), n, "concord-node.service")).toBe(0);
      expect(await stop(nats.get(n), n, "concord-nats.service")).toBe(0);
    }
  }, 600_000);
});
