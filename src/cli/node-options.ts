import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import type { ConcordNodeConfig } from "../node/concord-node.ts";
import type { LogLevel } from "../node/logger.ts";
import { readSecretFile } from "../transport/nats-identity.ts";

export interface NodeProcessOptions extends ConcordNodeConfig {
  httpHost: string;
  httpPort: number;
  logLevel: LogLevel;
  /** Bearer token for the admin routes (membership, transfer); null disables them. */
  adminToken: string | null;
  /** Every node's HTTP base URL, for the web page's failover; empty: the page knows only this node. */
  webPeers: string[];
  /** Serve HTTPS with this certificate chain and private key (PEM text); null: plain HTTP. */
  https: { cert: string; key: string } | null;
  /** No per-address or per-account limits on logins and sign-ups (the harness's load, all from one address). */
  unlimitedLogins: boolean;
}

/** A usage mistake: the message says what to fix; the process exits 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

export const NODE_USAGE = `usage: concord node --id N --data DIR [options]

  --id N               this node's id (1, 2, …)                    env CONCORD_ID
  --data DIR           data directory (created if missing)          env CONCORD_DATA
  --cluster NAME       raft group name (default concord)            env CONCORD_CLUSTER
  --nats URLS          NATS servers, comma-separated
                       (default nats://127.0.0.1:4222)              env CONCORD_NATS
  --nats-identity FILE this node's NATS nkey seed (a 0600 file)     env CONCORD_NATS_IDENTITY
  --nats-ca FILE       CA (PEM) of the NATS server's TLS certificate env CONCORD_NATS_CA
  --http HOST:PORT     HTTP listen address (default 127.0.0.1:8080+id)  env CONCORD_HTTP
  --https-cert FILE    serve HTTPS (and only HTTPS) with this certificate (PEM, with any
                       intermediates; its SAN must name HOST)       env CONCORD_HTTPS_CERT
  --https-key FILE     the certificate's private key (a 0600 file)  env CONCORD_HTTPS_KEY
  --peers 1,2,3,4,5    voters of a NEW cluster (ignored once the data dir has state)
  --join               start empty and wait to be added as a member
  --tick-ms N          raft tick (default 20)
  --election-ticks N   election timeout in ticks (default 15)
  --heartbeat-ticks N  heartbeat interval in ticks (default 2)
  --snapshot-every N   snapshot + compact after N applied entries (default 10000)
  --admin-token-file F enables admin routes for the bearer token in F
                       (a 0600 file)                  env CONCORD_ADMIN_TOKEN_FILE
                       (or the token itself in env CONCORD_ADMIN_TOKEN)
  --fault-injection    obey the harness's link cuts (PUT /v1/debug/faults, admin
                       token); for tests and demos, never production
  --unlimited-logins   no per-address or per-account limits on logins and sign-ups,
                       and a long queue for password hashes (their concurrency stays):
                       for load generators that run every client from one address
                       (the harness); never production
  --web-peers URLS     every node's HTTP URL, comma-separated, for the web page
                       to fail over between (default: only this node)  env CONCORD_WEB_PEERS
  --log-level L        debug|info|warn|error (default warn)         env CONCORD_LOG_LEVEL
  --config FILE        JSON file with any of the above (camelCase keys); flags win

Secrets never go on the command line (any local user reads it in /proc): the NATS
identity and the admin token are passed as paths to files only their owner may read.

exit status: 0 stopped by SIGINT/SIGTERM, 2 usage, 3 refused to start (a data directory,
identity or token file that must not be used, or NATS refused the identity), 1 anything
else (concord --help: every code)
`;

/** Flags that carried secrets on the command line, and what replaced them. */
const REMOVED_FLAGS: Readonly<Record<string, string>> = {
  "--nats-user": "--nats-identity FILE (an nkey seed file; nodes have no NATS user or password any more)",
  "--nats-pass": "--nats-identity FILE (an nkey seed file; a password on the command line is readable in /proc/<pid>/cmdline)",
  "--admin-token": "--admin-token-file FILE (or env CONCORD_ADMIN_TOKEN; a token on the command line is readable in /proc/<pid>/cmdline)",
};

const DEFAULTS = {
  cluster: "concord",
  nats: "nats://127.0.0.1:4222",
  peers: "1,2,3,4,5",
  tickMs: 20,
  electionTicks: 15,
  heartbeatTicks: 2,
  snapshotEvery: 10_000,
  logLevel: "warn" as LogLevel,
};

/** Flags win over environment variables, which win over the config file. */
export function parseNodeOptions(argv: string[], env: Record<string, string | undefined>): NodeProcessOptions {
  for (const arg of argv) {
    const flag = arg.split("=")[0]!;
    const instead = REMOVED_FLAGS[flag];
    if (instead !== undefined) throw new UsageError(`${flag} was removed: secrets never go on the command line. Use ${instead}`);
  }
  for (const name of ["CONCORD_NATS_USER", "CONCORD_NATS_PASS"]) {
    if (env[name] !== undefined) throw new UsageError(`${name} is no longer read: a node connects with its nkey identity (--nats-identity FILE, env CONCORD_NATS_IDENTITY)`);
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      options: {
        id: { type: "string" },
        data: { type: "string" },
        cluster: { type: "string" },
        nats: { type: "string" },
        "nats-identity": { type: "string" },
        "nats-ca": { type: "string" },
        http: { type: "string" },
        "https-cert": { type: "string" },
        "https-key": { type: "string" },
        peers: { type: "string" },
        join: { type: "boolean" },
        "tick-ms": { type: "string" },
        "election-ticks": { type: "string" },
        "heartbeat-ticks": { type: "string" },
        "snapshot-every": { type: "string" },
        "log-level": { type: "string" },
        "admin-token-file": { type: "string" },
        "web-peers": { type: "string" },
        "fault-injection": { type: "boolean" },
        "unlimited-logins": { type: "boolean" },
        config: { type: "string" },
      },
    });
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n\n${NODE_USAGE}`);
  }
  const flags = parsed.values;
  const file = flags.config !== undefined ? readConfigFile(flags.config) : {};
  for (const key of ["natsUser", "natsPass", "adminToken"]) {
    if (key in file) throw new UsageError(`${key} in a config file is no longer read: use natsIdentity / adminTokenFile (paths to 0600 files)`);
  }
  const pick = (flag: string | undefined, envName: string, key: string): string | undefined =>
    flag ?? env[envName] ?? (file[key] === undefined ? undefined : String(file[key]));

  const id = positiveInt(pick(flags.id, "CONCORD_ID", "id"), "--id");
  const dataDir = pick(flags.data, "CONCORD_DATA", "data");
  if (dataDir === undefined) throw new UsageError(`--data is required\n\n${NODE_USAGE}`);
  const http = pick(flags.http, "CONCORD_HTTP", "http") ?? `127.0.0.1:${8080 + id}`;
  const [httpHost, httpPortText] = splitHostPort(http);
  const join = flags.join ?? file["join"] === true;
  const logLevel = (pick(flags["log-level"], "CONCORD_LOG_LEVEL", "logLevel") ?? DEFAULTS.logLevel) as LogLevel;
  if (!["debug", "info", "warn", "error"].includes(logLevel)) throw new UsageError(`--log-level must be debug, info, warn or error`);
  const natsIdentityFile = pick(flags["nats-identity"], "CONCORD_NATS_IDENTITY", "natsIdentity");
  const natsCaFile = pick(flags["nats-ca"], "CONCORD_NATS_CA", "natsCa");
  const adminTokenFile = pick(flags["admin-token-file"], "CONCORD_ADMIN_TOKEN_FILE", "adminTokenFile");
  const adminToken = adminTokenFile !== undefined ? readSecretFile(adminTokenFile, "admin token") : (env["CONCORD_ADMIN_TOKEN"] ?? null);
  const https = httpsFiles(pick(flags["https-cert"], "CONCORD_HTTPS_CERT", "httpsCert"), pick(flags["https-key"], "CONCORD_HTTPS_KEY", "httpsKey"));
  return {
    id,
    cluster: pick(flags.cluster, "CONCORD_CLUSTER", "cluster") ?? DEFAULTS.cluster,
    dataDir,
    natsServers: (pick(flags.nats, "CONCORD_NATS", "nats") ?? DEFAULTS.nats).split(",").map((s) => s.trim()).filter(Boolean),
    ...(natsIdentityFile !== undefined ? { natsIdentityFile } : {}),
    ...(natsCaFile !== undefined ? { natsCaFile } : {}),
    bootstrapVoters: join ? null : idList(pick(flags.peers, "CONCORD_PEERS", "peers") ?? DEFAULTS.peers),
    httpHost,
    httpPort: positiveInt(httpPortText, "--http port"),
    tickIntervalMs: positiveInt(pick(flags["tick-ms"], "CONCORD_TICK_MS", "tickMs") ?? String(DEFAULTS.tickMs), "--tick-ms"),
    electionTimeoutTicks: positiveInt(pick(flags["election-ticks"], "CONCORD_ELECTION_TICKS", "electionTicks") ?? String(DEFAULTS.electionTicks), "--election-ticks"),
    heartbeatIntervalTicks: positiveInt(pick(flags["heartbeat-ticks"], "CONCORD_HEARTBEAT_TICKS", "heartbeatTicks") ?? String(DEFAULTS.heartbeatTicks), "--heartbeat-ticks"),
    snapshotEveryEntries: positiveInt(pick(flags["snapshot-every"], "CONCORD_SNAPSHOT_EVERY", "snapshotEvery") ?? String(DEFAULTS.snapshotEvery), "--snapshot-every"),
    logLevel,
    adminToken,
    webPeers: urlList(pick(flags["web-peers"], "CONCORD_WEB_PEERS", "webPeers") ?? ""),
    faultInjection: flags["fault-injection"] ?? file["faultInjection"] === true,
    unlimitedLogins: flags["unlimited-logins"] ?? file["unlimitedLogins"] === true,
    https,
  };
}

/** The certificate and key for HTTPS: both or neither; the key is a secret (0600, like the identity). */
function httpsFiles(certFile: string | undefined, keyFile: string | undefined): { cert: string; key: string } | null {
  if (certFile === undefined && keyFile === undefined) return null;
  if (certFile === undefined || keyFile === undefined) throw new UsageError("--https-cert and --https-key go together: the certificate and its private key");
  let cert: string;
  try {
    cert = readFileSync(certFile, "utf8");
  } catch (error) {
    throw new UsageError(`cannot read --https-cert ${certFile}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  if (!cert.includes("-----BEGIN CERTIFICATE-----")) throw new UsageError(`--https-cert ${certFile} holds no PEM certificate`);
  return { cert, key: `${readSecretFile(keyFile, "HTTPS private key")}\n` };
}

function readConfigFile(path: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(readFileSync(path, "utf8"));
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error("not a JSON object");
    return parsed as Record<string, unknown>;
  } catch (error) {
    throw new UsageError(`cannot read config file ${path}: ${(error as Error).message}`);
  }
}

function positiveInt(text: string | undefined, name: string): number {
  if (text === undefined) throw new UsageError(`${name} is required\n\n${NODE_USAGE}`);
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) throw new UsageError(`${name} must be a positive integer, got '${text}'`);
  return value;
}

function idList(text: string): number[] {
  const ids = text.split(",").map((s) => positiveInt(s.trim(), "--peers entry"));
  if (new Set(ids).size !== ids.length) throw new UsageError(`--peers has duplicates: ${text}`);
  return ids;
}

function urlList(text: string): string[] {
  const urls = text.split(",").map((s) => s.trim()).filter(Boolean);
  for (const url of urls) {
    if (!/^https?:\/\/[^/\s]+\/?$/.test(url)) throw new UsageError(`--web-peers entries are http(s)://HOST:PORT, got '${url}'`);
  }
  return urls.map((url) => url.replace(/\/$/, ""));
}

function splitHostPort(address: string): [string, string] {
  const at = address.lastIndexOf(":");
  if (at <= 0) throw new UsageError(`--http must be HOST:PORT, got '${address}'`);
  return [address.slice(0, at), address.slice(at + 1)];
}
