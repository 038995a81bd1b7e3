import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";

// Starts a real nats-server (for `concord cluster up`, the harness and tests) with the
// permissions Concord expects in production: one user per node limited to the
// cluster's subjects and inboxes; a "client" that may only make forwarded requests;
// and an "intruder" that may use the bus but not publish on the cluster's subjects.

const READY_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;
const POLL_MS = 20;

export interface NatsCredentials {
  readonly user: string;
  readonly pass: string;
}

export interface NatsServerOptions {
  readonly cluster: string;
  readonly nodeIds: readonly number[];
  readonly maxPayloadBytes?: number;
  /** A fixed port (default: one the OS hands out). */
  readonly port?: number;
  /** Keep config and logs here, and reuse credentials saved in it (default: a temp dir, removed at stop). */
  readonly dir?: string;
  /** Interface to listen on (default 127.0.0.1; another machine's nodes need a routable one). */
  readonly host?: string;
  /** Join other servers (one per machine) into one NATS cluster by routes. */
  readonly routes?: { readonly port: number; readonly peers: readonly string[] };
}

/** nats-server is not installed: the message says how to get it. */
export class NatsServerMissingError extends Error {
  override readonly name = "NatsServerMissingError";
}

/** The nats-server binary: $NATS_SERVER_BIN, then PATH, then Debian's /usr/sbin. */
export function findNatsServer(): string {
  const fromEnv = process.env["NATS_SERVER_BIN"];
  if (fromEnv !== undefined && existsSync(fromEnv)) return fromEnv;
  const candidates = [...(process.env["PATH"] ?? "").split(":").filter(Boolean), "/usr/sbin", "/usr/local/sbin"];
  for (const dir of candidates) {
    const path = join(dir, "nats-server");
    if (existsSync(path)) return path;
  }
  throw new NatsServerMissingError(
    "nats-server is not installed. On Debian or Ubuntu: sudo apt-get install -y nats-server " +
      "(or set NATS_SERVER_BIN to its path).",
  );
}

/** Ask the OS for a free port: bind port 0, read it, release it. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      if (address === null || typeof address === "string") return reject(new Error("no port from the OS"));
      server.close(() => resolve(address.port));
    });
  });
}

function password(): string {
  return randomBytes(12).toString("hex");
}

export class NatsServer {
  readonly url: string;
  intruder: NatsCredentials = { user: "intruder", pass: password() };
  /** May send forwarded requests to nodes (benchmarks, tools), nothing else. */
  client: NatsCredentials = { user: "client", pass: password() };
  /** The harnesses of a two-machine demo keep in step on their own subjects. */
  harness: NatsCredentials = { user: "harness", pass: password() };
  private readonly nodes = new Map<number, NatsCredentials>();
  private readonly binary = findNatsServer();
  private process: Subprocess | null = null;
  private starts = 0;
  private readonly killOnExit = (): void => {
    // Last resort if a test run dies before afterAll: never leave a server behind.
    if (this.process !== null && this.process.exitCode === null) this.process.kill("SIGKILL");
  };

  private constructor(
    readonly port: number,
    readonly dir: string,
    private readonly options: NatsServerOptions,
    private readonly ownsDir: boolean,
  ) {
    const host = options.host ?? "127.0.0.1";
    this.url = `nats://${host === "0.0.0.0" ? "127.0.0.1" : host}:${port}`;
    for (const id of options.nodeIds) this.nodes.set(id, { user: `node${id}`, pass: password() });
  }

  static async start(options: NatsServerOptions): Promise<NatsServer> {
    const dir = options.dir ?? (await mkdtemp(join(tmpdir(), "concord-nats-")));
    if (options.dir !== undefined) await mkdir(dir, { recursive: true });
    const server = new NatsServer(options.port ?? (await freePort()), dir, options, options.dir === undefined);
    await server.loadSavedCredentials();
    await writeFile(server.configPath, server.config(), { mode: 0o600 });
    process.on("exit", server.killOnExit);
    try {
      await server.launch();
    } catch (error) {
      await server.stop();
      throw error;
    }
    return server;
  }

  credentials(nodeId: number): NatsCredentials {
    const c = this.nodes.get(nodeId);
    if (c === undefined) throw new Error(`no NATS user for node ${nodeId}`);
    return c;
  }

  get pid(): number | null {
    return this.process?.pid ?? null;
  }

  /** Stop (by the PID we started) and start again on the same port and config. */
  async restart(signal: "SIGTERM" | "SIGKILL" = "SIGTERM"): Promise<void> {
    await this.down(signal);
    await this.up();
  }

  /** Stop the process but keep port and config for up(): an outage. */
  async down(signal: "SIGTERM" | "SIGKILL" = "SIGTERM"): Promise<void> {
    await this.halt(signal);
  }

  /** Start again after down(); resolves once the server reports ready. */
  async up(): Promise<void> {
    if (this.process !== null) throw new Error("nats-server is already running");
    await this.launch();
  }

  /** Stop the server and remove its files; safe to call twice or after a failed start. */
  async stop(): Promise<void> {
    try {
      await this.halt();
    } finally {
      process.off("exit", this.killOnExit);
      if (this.ownsDir) await rm(this.dir, { recursive: true, force: true });
    }
  }

  /** A kept directory reuses its passwords, so nodes restarted later still log in. */
  private async loadSavedCredentials(): Promise<void> {
    const path = join(this.dir, "credentials.json");
    const saved = await readFile(path, "utf8").then(
      (text) => JSON.parse(text) as { nodes: Record<string, NatsCredentials>; client: NatsCredentials; intruder: NatsCredentials; harness?: NatsCredentials },
      () => null,
    );
    if (saved !== null) {
      for (const [id, c] of Object.entries(saved.nodes)) if (this.nodes.has(Number(id))) this.nodes.set(Number(id), c);
      this.client = saved.client;
      this.intruder = saved.intruder;
      if (saved.harness !== undefined) this.harness = saved.harness;
    }
    if (!this.ownsDir) {
      const nodes = Object.fromEntries([...this.nodes].map(([id, c]) => [String(id), c]));
      await writeFile(path, JSON.stringify({ nodes, client: this.client, intruder: this.intruder, harness: this.harness }, null, 2), { mode: 0o600 });
    }
  }

  private get configPath(): string {
    return join(this.dir, "nats.conf");
  }

  private logPath(): string {
    return join(this.dir, `nats-${this.starts}.log`);
  }

  private config(): string {
    const cluster = this.options.cluster;
    const own = JSON.stringify([`concord.${cluster}.>`, "_INBOX.>"]);
    const users = [...this.nodes.values()].map(
      (c) => `    { user: "${c.user}", password: "${c.pass}", permissions: { publish: ${own}, subscribe: ${own} } }`,
    );
    const rpc = JSON.stringify([`concord.${cluster}.rpc.*`]);
    users.push(`    { user: "${this.client.user}", password: "${this.client.pass}", permissions: { publish: ${rpc}, subscribe: ["_INBOX.>"] } }`);
    const sync = JSON.stringify([`concord-harness.${cluster}.>`, "_INBOX.>"]);
    users.push(`    { user: "${this.harness.user}", password: "${this.harness.pass}", permissions: { publish: ${sync}, subscribe: ${sync} } }`);
    users.push(
      `    { user: "${this.intruder.user}", password: "${this.intruder.pass}", permissions: { ` +
        `publish: { allow: [">"], deny: ["concord.${cluster}.>"] }, subscribe: { allow: [">"] } } }`,
    );
    const routes = this.options.routes;
    const cluster_ = routes === undefined ? [] : [
      "cluster {",
      `  name: "${cluster}"`,
      `  listen: "${this.options.host ?? "127.0.0.1"}:${routes.port}"`,
      `  routes: [${routes.peers.map((p) => `"nats-route://${p}"`).join(", ")}]`,
      "}",
    ];
    return [
      `listen: "${this.options.host ?? "127.0.0.1"}:${this.port}"`,
      ...cluster_,
      `max_payload: ${this.options.maxPayloadBytes ?? 1024 * 1024}`,
      "authorization {",
      "  users = [",
      ...users,
      "  ]",
      "}",
      "",
    ].join("\n");
  }

  private async launch(): Promise<void> {
    this.starts++;
    const logPath = this.logPath();
    this.process = Bun.spawn([this.binary, "-c", this.configPath, "-l", logPath], {
      stdin: "ignore",
      stdout: "ignore",
      stderr: Bun.file(join(this.dir, `stderr-${this.starts}.txt`)),
    });
    const child = this.process;
    const deadline = Date.now() + READY_TIMEOUT_MS;
    // Ready means the server said so in its log, not that some time has passed.
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        const stderr = await readFile(join(this.dir, `stderr-${this.starts}.txt`), "utf8").catch(() => "");
        throw new Error(`nats-server exited during start (${child.exitCode ?? child.signalCode}): ${stderr}`);
      }
      const log = await readFile(logPath, "utf8").catch(() => "");
      if (log.includes("Server is ready")) return;
      if (Date.now() > deadline) throw new Error(`nats-server not ready after ${READY_TIMEOUT_MS} ms: ${log}`);
      await Bun.sleep(POLL_MS);
    }
  }

  private async halt(signal: "SIGTERM" | "SIGKILL" = "SIGTERM"): Promise<void> {
    const child = this.process;
    if (child === null) return;
    this.process = null;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill(signal);
      const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
      await child.exited;
      clearTimeout(timer);
    }
  }
}
