import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";

// Starts a real nats-server for tests, with the permissions Concord expects in
// production: one user per node limited to the cluster's subjects and inboxes, and an
// "intruder" that may use the bus but not publish on the cluster's subjects.

const NATS_SERVER_BIN = process.env.NATS_SERVER_BIN ?? "/usr/sbin/nats-server";
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
  readonly intruder: NatsCredentials = { user: "intruder", pass: password() };
  private readonly nodes = new Map<number, NatsCredentials>();
  private process: Subprocess | null = null;
  private starts = 0;
  private readonly killOnExit = (): void => {
    // Last resort if a test run dies before afterAll: never leave a server behind.
    if (this.process !== null && this.process.exitCode === null) this.process.kill("SIGKILL");
  };

  private constructor(
    readonly port: number,
    private readonly dir: string,
    private readonly options: NatsServerOptions,
  ) {
    this.url = `nats://127.0.0.1:${port}`;
    for (const id of options.nodeIds) this.nodes.set(id, { user: `node${id}`, pass: password() });
  }

  static async start(options: NatsServerOptions): Promise<NatsServer> {
    const dir = await mkdtemp(join(tmpdir(), "concord-nats-"));
    const server = new NatsServer(await freePort(), dir, options);
    await writeFile(server.configPath, server.config());
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
      await rm(this.dir, { recursive: true, force: true });
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
    users.push(
      `    { user: "${this.intruder.user}", password: "${this.intruder.pass}", permissions: { ` +
        `publish: { allow: [">"], deny: ["concord.${cluster}.>"] }, subscribe: { allow: [">"] } } }`,
    );
    return [
      `listen: "127.0.0.1:${this.port}"`,
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
    this.process = Bun.spawn([NATS_SERVER_BIN, "-c", this.configPath, "-l", logPath], {
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
