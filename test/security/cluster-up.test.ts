import { afterAll, expect, test } from "bun:test";
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import type { Subprocess } from "bun";
import { descendants, freePortRange, secretsIn, walk } from "./processes.ts";

// `concord cluster up` itself, as a local user sees it: its processes' command lines and
// environments, its data directory, the nats-server configuration it wrote. The data
// directory starts out as an older version left it (world-readable), and comes out tight.

const MAIN = join(import.meta.dir, "../../src/main.ts");
const work = mkdtempSync(join(tmpdir(), "concord-cluster-up-"));
let child: Subprocess<"ignore", "pipe", "pipe"> | null = null;
let pids: number[] = [];

afterAll(async () => {
  // Stop what we started, by PID, even when a check failed.
  if (child !== null && child.exitCode === null) {
    child.kill("SIGTERM");
    const timer = setTimeout(() => {
      for (const pid of [child!.pid, ...pids]) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // gone
        }
      }
    }, 15_000);
    await child.exited;
    clearTimeout(timer);
  }
  rmSync(work, { recursive: true, force: true });
});

test("cluster up: nothing secret on argv or in environments; data 0700/0600; only node identities, and no anonymous access", async () => {
  const data = join(work, "data");
  // What an older version left: an open data directory, token and node directory.
  mkdirSync(join(data, "node-1"), { recursive: true, mode: 0o755 });
  chmodSync(data, 0o755);
  writeFileSync(join(data, "admin-token"), "an-old-admin-token-from-before-0123456789\n", { mode: 0o644 });
  writeFileSync(join(data, "node-1", "leftover.txt"), "x", { mode: 0o644 });

  const natsPort = await freePortRange(1);
  const httpPort = await freePortRange(5);
  const proc = Bun.spawn([process.execPath, MAIN, "cluster", "up", "--data", data, "--nats-port", String(natsPort), "--http-port", String(httpPort)], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  child = proc;
  const reader = proc.stdout.getReader();
  let out = "";
  const deadline = Date.now() + 60_000;
  while (!out.includes("cluster up:")) {
    const { value, done } = await reader.read();
    if (done || Date.now() > deadline) throw new Error(`cluster up did not come up:\n${out}\n${await new Response(proc.stderr).text()}`);
    out += new TextDecoder().decode(value);
  }
  void (async () => {
    while (!(await reader.read()).done);
  })();
  pids = descendants(proc.pid);
  expect(pids.length).toBe(6); // nats-server and five nodes

  const identities = join(data, "nats", "identities");
  const seeds = readdirSync(identities).map((f) => readFileSync(join(identities, f), "utf8").trim());
  expect(seeds.length).toBe(5);
  const token = readFileSync(join(data, "admin-token"), "utf8").trim();
  const secrets = [...seeds, token];
  for (const pid of [proc.pid, ...pids]) {
    expect(secretsIn(readFileSync(`/proc/${pid}/cmdline`), secrets)).toEqual([]);
    expect(secretsIn(readFileSync(`/proc/${pid}/environ`), secrets)).toEqual([]);
  }
  // Every node works: a signup and a write through HTTP.
  const base = `http://127.0.0.1:${httpPort}`;
  const account = await fetch(`${base}/v1/accounts`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: "carol", password: "correct horse battery staple 9" }) });
  expect(account.status).toBe(201);

  // The server knows five nkeys and nothing else: no client user, no password, no anonymous access.
  const config = readFileSync(join(data, "nats", "nats.conf"), "utf8");
  expect(config.match(/nkey: "U[A-Z0-9]{55}"/g)?.length).toBe(5);
  expect(config).not.toMatch(/password|user:|no_auth_user/);
  await expect(connect({ servers: `127.0.0.1:${natsPort}`, reconnect: false })).rejects.toThrow(/Authorization Violation/);

  // Directories 0700, files 0600: the older version's leftovers included.
  const open = [data, ...walk(data)].filter((p) => (lstatSync(p).mode & 0o077) !== 0).map((p) => `${p} ${(lstatSync(p).mode & 0o777).toString(8)}`);
  expect(open).toEqual([]);
  // Logs hold no secret.
  for (const log of [...walk(data)].filter((p) => p.endsWith(".log"))) expect(secretsIn(readFileSync(log), secrets)).toEqual([]);

  proc.kill("SIGTERM");
  expect(await proc.exited).toBe(0);
}, 120_000);
