import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { removeNetworkNamespace } from "./network-namespace.ts";

// The two-machine demo on one machine: two network namespaces joined by a veth pair, a
// harness and a nats-server in each, nodes 1-2 in "machine 1" and 3-5 in "machine 2".
// Besides the original sequence (fail 2 and 3 → ok, fail 4 → unavailable, restart → ok,
// with node kills acting across machines), the link between the machines is really cut
// (ip link set down): machine 1's two nodes lose quorum while machine 2's three keep it,
// and after the link comes back everything converges. Needs root for `ip netns`.
//
// With everything a real pair of machines would have on: certificates from `concord setup
// tls`, TLS on client connections and on routes (verified both ways), route authorization,
// node nkeys, every listener on the named address only. While the demo runs, a rogue
// nats-server (no certificates) in machine 1's namespace tries to join both servers as a
// route and anonymous clients try machine 2's client port: all refused, nothing leaks.

const isRoot = process.getuid?.() === 0;
const MAIN = join(import.meta.dir, "../../src/main.ts");
const PROBE = join(import.meta.dir, "rogue-probe.ts");
const tag = `cc${process.pid % 100000}`;
const [nsA, nsB, vethA, vethB] = [`${tag}a`, `${tag}b`, `${tag}va`, `${tag}vb`];
const subnet = `10.${100 + (process.pid % 100)}.${(process.pid >> 8) % 250}`;
const [ipA, ipB] = [`${subnet}.1`, `${subnet}.2`];
const work = mkdtempSync(join(tmpdir(), "concord-two-machines-"));

function ip(...args: string[]): void {
  const result = spawnSync("ip", args, { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`ip ${args.join(" ")}: ${result.stderr}`);
}

function cleanUp(): void {
  // Everything the demos started lives in the namespaces: end it by the PIDs they hold.
  for (const ns of [nsA, nsB]) removeNetworkNamespace(ns);
  rmSync(work, { recursive: true, force: true });
}

afterAll(cleanUp);

/** Every nkey seed the demos wrote (their temp dirs are under `dir`). */
function seedsUnder(dir: string): string[] {
  const found = spawnSync("find", [dir, "-name", "*.nk", "-type", "f"], { encoding: "utf8" }).stdout.split("\n").filter(Boolean);
  return found.map((file) => readFileSync(file, "utf8").trim());
}

const SCENARIO = `# The original two-machine demo, then a real cut of the link between the machines.
cluster 5
wait leader
workload 100 --clients 4
expect ok
fail 2
fail 3
workload 100 --clients 4
expect ok
fail 4
workload 10 --clients 4 --deadline 3s
expect unavailable
restart 2,3,4
wait leader
workload 100 --clients 4
expect ok
say "Cutting the link between the machines: machine 1 keeps 2 of 5 nodes."
partition 1,2 | 3,4,5
wait 2s
workload 10 --clients 4 --deadline 3s
expect unavailable
heal
wait leader
workload 100 --clients 4
expect ok
check
`;

describe.skipIf(!isRoot)("two machines in two network namespaces (needs root; skipped when not root)", () => {
  test("the two-machine demo survives failures across machines and a real link cut", async () => {
    expect(spawnSync("ip", ["-V"]).status).toBe(0); // iproute2: `concord setup --for tests` (pretest) installs it for root
    ip("netns", "add", nsA);
    ip("netns", "add", nsB);
    ip("link", "add", vethA, "type", "veth", "peer", "name", vethB);
    ip("link", "set", vethA, "netns", nsA);
    ip("link", "set", vethB, "netns", nsB);
    ip("-n", nsA, "addr", "add", `${ipA}/24`, "dev", vethA);
    ip("-n", nsB, "addr", "add", `${ipB}/24`, "dev", vethB);
    for (const [ns, dev] of [[nsA, vethA], [nsB, vethB]] as const) {
      ip("-n", ns, "link", "set", "lo", "up");
      ip("-n", ns, "link", "set", dev, "up");
    }
    const scenario = join(work, "two-machines.scn");
    writeFileSync(scenario, SCENARIO);

    // The cluster's certificates, made once; each machine is given its own directory.
    const tls = join(work, "tls");
    const setup = spawnSync(process.execPath, [MAIN, "setup", "tls", "--out", tls, "--machine-1", ipA, "--machine-2", ipB], { encoding: "utf8" });
    expect(`${setup.status} ${setup.stderr}`).toBe("0 ");

    const demo = (ns: string, machine: number, listen: string, peer: string, extra: string[]) =>
      Bun.spawn(["ip", "netns", "exec", ns, process.execPath, MAIN, "demo", "--machine-id", String(machine), "--peer", peer, "--listen", listen, "--tls", join(tls, `machine-${machine}`), "--seed", "7", ...extra], {
        stdin: "ignore",
        stdout: "pipe",
        stderr: "pipe",
        env: { ...process.env, TMPDIR: work },
      });
    const collect = (stream: ReadableStream<Uint8Array>) => {
      const text = { value: "" };
      const done = (async () => {
        const decoder = new TextDecoder();
        for await (const chunk of stream) text.value += decoder.decode(chunk, { stream: true });
      })();
      return { text, done };
    };
    const machine2 = demo(nsB, 2, ipB, ipA, []);
    const machine1 = demo(nsA, 1, ipA, ipB, ["--scenario", scenario, "--link-device", vethA]);
    const streams = [collect(machine1.stdout), collect(machine1.stderr), collect(machine2.stdout), collect(machine2.stderr)];

    // Once the five nodes run (and raft traffic flows between the machines): the rogue.
    const started = Date.now();
    while (!streams[0]!.text.value.includes("5 nodes up") && machine1.exitCode === null && Date.now() - started < 120_000) await Bun.sleep(50);
    const listeners = spawnSync("ip", ["netns", "exec", nsB, "ss", "-ltnH"], { encoding: "utf8" }).stdout.trim().split("\n").map((line) => line.split(/\s+/)[3]!);
    const secrets = [readFileSync(join(tls, "machine-1", "route-secret"), "utf8").trim(), readFileSync(join(tls, "machine-1", "admin-token"), "utf8").trim(), ...seedsUnder(work)];
    const exposed = [nsA, nsB].flatMap((ns) =>
      spawnSync("ip", ["netns", "pids", ns], { encoding: "utf8" }).stdout.split("\n").filter(Boolean).flatMap((pid) => {
        const cmdline = (() => {
          try {
            return readFileSync(`/proc/${pid}/cmdline`, "utf8");
          } catch {
            return "";
          }
        })();
        return secrets.filter((s) => cmdline.includes(s)).map(() => `pid ${pid}`);
      }),
    );
    const probe = Bun.spawn(["ip", "netns", "exec", nsA, process.execPath, PROBE, ipA, ipB, ipA, join(tls, "machine-1", "ca.pem"), work, "4"], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    const probeTimer = setTimeout(() => probe.kill("SIGKILL"), 60_000);
    const probeOut = await new Response(probe.stdout).text();
    clearTimeout(probeTimer);
    await probe.exited;

    const [code1, code2] = await Promise.all([machine1.exited, machine2.exited]);
    await Promise.all(streams.map((s) => s.done));
    const out1 = streams[0]!.text.value + streams[1]!.text.value;
    const out2 = streams[2]!.text.value + streams[3]!.text.value;
    if (code1 !== 0 || code2 !== 0) console.error(`── machine 1 ──\n${out1}\n── machine 2 ──\n${out2}`);

    // Machine 2 listens on its own address only: NATS, routes and the nodes' HTTP.
    expect(listeners.length).toBeGreaterThanOrEqual(5);
    expect(listeners.filter((address) => !address.startsWith(`${ipB}:`))).toEqual([]);
    expect(exposed).toEqual([]);
    const report = JSON.parse(probeOut.trim().split("\n").at(-1) ?? "{}") as { messages: number; subjects: string[]; anonymous: string; anonymousTls: string; untrusted: string; routeLog: string[] };
    if (process.env["SHOW_PROBE"] === "1") console.log("rogue probe:", probeOut, "listeners:", listeners.join(" "));
    if (report.messages !== 0) console.error("rogue probe:", probeOut, await new Response(probe.stderr).text());
    // The rogue server never became a route: nothing of the cluster's traffic reached it.
    expect(report.messages).toBe(0);
    expect(report.routeLog.join("\n")).toContain(ipB);
    // Anonymous clients: plaintext refused (TLS required), TLS without an identity refused,
    // and a client that does not trust the cluster's CA cannot even finish the handshake.
    expect(report.anonymous).not.toBe("connected");
    expect(report.anonymousTls).toContain("Authorization Violation");
    expect(report.untrusted).not.toBe("connected");
    expect(code1).toBe(0);
    expect(code2).toBe(0);
    expect(out1).toContain(`link ${vethA} cut (ip link set down)`);
    expect(out1).toContain(`link ${vethA} restored (ip link set up)`);
    expect(out1.match(/✓ as expected: unavailable/g)?.length).toBe(2);
    expect(out1).toContain("✓ scenario passed");
    // Machine 2 killed and restarted its own nodes when machine 1 said so.
    expect(out2).toContain("node 3 killed (SIGKILL)");
    expect(out2).toContain("restarted node 3, node 4 on their own data");
  }, 300_000);
});
