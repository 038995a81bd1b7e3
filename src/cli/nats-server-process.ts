import { chmodSync, existsSync, readdirSync, rmSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ConnectionOptions, type NatsConnection, connect, nkeyAuthenticator } from "@nats-io/transport-node";
import type { Subprocess } from "bun";
import { NATS_SERVER, hostSystem, installCommandLine } from "./ensure-debian-packages.ts";
import { loadOrCreateNatsIdentity, readNatsIdentity, readSecretFile } from "../transport/nats-identity.ts";
import { type NatsPermissions, inboxPrefix, nodePermissions } from "../transport/subjects.ts";
import { type NatsTlsFiles, natsServerConfig } from "./nats-server-config.ts";

// Starts a real nats-server (for `concord cluster up`, the harness and tests) with the
// permissions Concord expects in production: one nkey identity per node, which may
// publish only subjects carrying its own id as the sender and subscribe only to its own
// subjects and inbox (subjects.ts). There is no general client user: tools come in
// through HTTP. Other identities ("guests": a benchmark's tool, a test's intruder, the
// two-machine harnesses) exist only where the caller that starts the server asks for
// them. Seeds are kept in <dir>/identities/*.nk (0600, directory 0700), and nodes are
// handed the path. No password is in the configuration except the routes' shared secret
// (two machines; bcrypt-hashed on the accepting side), and nothing secret on argv.

const READY_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;
const POLL_MS = 20;

export type { NatsTlsFiles } from "./nats-server-config.ts";

export interface NatsServerOptions {
  readonly cluster: string;
  readonly nodeIds: readonly number[];
  readonly maxPayloadBytes?: number;
  /** A fixed port (default: one the OS hands out). */
  readonly port?: number;
  /** Keep config, identities and logs here, and reuse identities saved in it (default: a temp dir, removed at stop). */
  readonly dir?: string;
  /** Interface to listen on (default 127.0.0.1; another machine's nodes need a routable one). */
  readonly host?: string;
  /**
   * Join other servers (one per machine) into one NATS cluster by routes. `secret` is the
   * route password every server shares (a file: readSecretFile); with `tls`, routes are
   * also TLS, verified both ways against the cluster's CA.
   */
  readonly routes?: { readonly port: number; readonly peers: readonly string[]; readonly secretFile: string };
  /** Client connections and routes over TLS (required: no plaintext listener). */
  readonly tls?: NatsTlsFiles;
  /** Identities besides the nodes, by name (one subject token), with what each may do. */
  readonly guests?: Readonly<Record<string, NatsPermissions>>;
}
/** nats-server is not installed: the message says how to get it. */
export class NatsServerMissingError extends Error {
  override readonly name = "NatsServerMissingError";
}

/** The nats-server binary: $NATS_SERVER_BIN, then PATH, then the sbin directories (Debian's /usr/sbin). */
export function findNatsServer(): string {
  const path = NATS_SERVER.find(hostSystem());
  if (path !== null) return path;
  throw new NatsServerMissingError(
    `nats-server is not installed. On Debian or Ubuntu: ${installCommandLine([NATS_SERVER])} ` +
      "(or as root: concord setup; or set NATS_SERVER_BIN to its path).",
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

export class NatsServer {
  readonly url: string;
  private readonly publicKeys = new Map<string, string>();
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
    this.url = `${options.tls !== undefined ? "tls" : "nats"}://${host === "0.0.0.0" ? "127.0.0.1" : host}:${port}`;
  }

  static async start(options: NatsServerOptions): Promise<NatsServer> {
    const dir = options.dir ?? (await mkdtemp(join(tmpdir(), "concord-nats-")));
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chmod(dir, 0o700);
    const server = new NatsServer(options.port ?? (await freePort()), dir, options, options.dir === undefined);
    server.loadIdentities();
    await writeFile(server.configPath, await server.config(), { mode: 0o600 });
    await chmod(server.configPath, 0o600);
    process.on("exit", server.killOnExit);
    try {
      await server.launch();
    } catch (error) {
      await server.stop();
      throw error;
    }
    return server;
  }

  get cluster(): string {
    return this.options.cluster;
  }

  /** The CA clients must trust, when the server speaks TLS. */
  get caFile(): string | null {
    return this.options.tls?.caFile ?? null;
  }

  /** Where node `nodeId`'s seed is (0600): the node reads it from there. */
  identityFile(nodeId: number): string {
    if (!this.publicKeys.has(nodeName(nodeId))) throw new Error(`no NATS identity for node ${nodeId}`);
    return this.identityPath(nodeName(nodeId));
  }

  /** Where guest `name`'s seed is (0600). */
  guestIdentityFile(name: string): string {
    if (!this.publicKeys.has(guestName(name))) throw new Error(`no NATS guest identity '${name}'`);
    return this.identityPath(guestName(name));
  }

  /** `concord node` arguments that connect node `nodeId` here: URL, identity path, CA. */
  nodeArgs(nodeId: number): string[] {
    return ["--nats", this.url, "--nats-identity", this.identityFile(nodeId), ...(this.caFile !== null ? ["--nats-ca", this.caFile] : [])];
  }

  /** NatsTransport options for node `nodeId` in this process (tests). */
  transportOptions(nodeId: number): { servers: string; cluster: string; nodeId: number; seed: Uint8Array; tls?: { caFile: string } } {
    return {
      servers: this.url,
      cluster: this.cluster,
      nodeId,
      seed: readNatsIdentity(this.identityFile(nodeId)).seed,
      ...(this.caFile !== null ? { tls: { caFile: this.caFile } } : {}),
    };
  }

  /** Connect as guest `name`, with its own inbox prefix (replies to its requests come there). */
  connectAs(name: string, extra: Partial<ConnectionOptions> = {}): Promise<NatsConnection> {
    const seed = readNatsIdentity(this.guestIdentityFile(name)).seed;
    return connect({
      servers: this.url,
      authenticator: nkeyAuthenticator(seed),
      inboxPrefix: inboxPrefix(this.cluster, name),
      ...(this.caFile !== null ? { tls: { caFile: this.caFile } } : {}),
      ...extra,
    });
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

  private identityPath(name: string): string {
    return join(this.dir, "identities", `${name}.nk`);
  }

  /** A kept directory reuses its identities, so nodes restarted later still log in. */
  private loadIdentities(): void {
    // Earlier versions kept users' passwords here; nothing reads them any more.
    rmSync(join(this.dir, "credentials.json"), { force: true });
    for (const entry of readdirSync(this.dir, { withFileTypes: true })) if (entry.isFile()) chmodSync(join(this.dir, entry.name), 0o600);
    const names = [...this.options.nodeIds.map(nodeName), ...Object.keys(this.options.guests ?? {}).map(guestName)];
    for (const name of names) this.publicKeys.set(name, loadOrCreateNatsIdentity(this.identityPath(name)).publicKey);
  }

  private get configPath(): string {
    return join(this.dir, "nats.conf");
  }

  private logPath(): string {
    return join(this.dir, `nats-${this.starts}.log`);
  }

  private async config(): Promise<string> {
    const cluster = this.options.cluster;
    const routes = this.options.routes;
    return natsServerConfig({
      cluster,
      host: this.options.host ?? "127.0.0.1",
      port: this.port,
      ...(this.options.maxPayloadBytes !== undefined ? { maxPayloadBytes: this.options.maxPayloadBytes } : {}),
      users: [
        ...this.options.nodeIds.map((id) => ({ publicKey: this.publicKeys.get(nodeName(id))!, permissions: nodePermissions(cluster, id) })),
        ...Object.entries(this.options.guests ?? {}).map(([name, permissions]) => ({ publicKey: this.publicKeys.get(guestName(name))!, permissions })),
      ],
      ...(this.options.tls !== undefined ? { tls: this.options.tls } : {}),
      ...(routes !== undefined ? { routes: { port: routes.port, peers: routes.peers, secret: readSecretFile(routes.secretFile, "route secret") } } : {}),
    });
  }

  private async launch(): Promise<void> {
    this.starts++;
    const logPath = this.logPath();
    const stderrPath = join(this.dir, `stderr-${this.starts}.txt`);
    // Its log and any file it writes are for our user alone, whatever our own umask is.
    this.process = Bun.spawn(["/bin/sh", "-c", 'umask 077 && exec "$0" "$@"', this.binary, "-c", this.configPath, "-l", logPath], {
      stdin: "ignore",
      stdout: "ignore",
      stderr: Bun.file(stderrPath),
    });
    const child = this.process;
    const deadline = Date.now() + READY_TIMEOUT_MS;
    // Ready means the server said so in its log, not that some time has passed.
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        const stderr = await readFile(stderrPath, "utf8").catch(() => "");
        throw new Error(`nats-server exited during start (${child.exitCode ?? child.signalCode}): ${stderr}`);
      }
      const log = await readFile(logPath, "utf8").catch(() => "");
      if (log.includes("Server is ready")) {
        await chmod(stderrPath, 0o600).catch(() => {});
        return;
      }
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

function nodeName(id: number): string {
  return `node-${id}`;
}

function guestName(name: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(name)) throw new RangeError(`a guest identity's name is one subject token, got ${JSON.stringify(name)}`);
  return `guest-${name}`;
}
