import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { isIP } from "node:net";
import { basename, dirname, join, resolve } from "node:path";
import { createNatsIdentity, writeSecretFile } from "../transport/nats-identity.ts";
import { checkClusterName, nodePermissions } from "../transport/subjects.ts";
import { natsServerConfig } from "./nats-server-config.ts";
import { issueClusterCertificates } from "./tls-bundle.ts";

// `concord init`: everything five (or three, or seven) machines need to run one Concord
// cluster, one node per machine, written as one directory per machine. An operator copies
// machine-N to machine N (as /etc/concord by default) and starts two systemd units; the
// compose file and test/harness/five-machines.test.ts start the very same files.
//
// Each service has a directory of its own holding only what it needs, so that neither can
// read the other's secrets: nats-server runs as its own user from nats/ (the route secret,
// its TLS key), the node as the service user from node/ (its NATS identity, the admin
// token, its HTTPS key); compose mounts each directory into its own container alone.
// Paths inside a service directory are relative to it: each service runs with its
// directory as its working directory (systemd WorkingDirectory=, compose working_dir, the
// test's cwd), so the directories work wherever they are put.
//
//   machine-N/README.txt                  what to do with this directory
//   machine-N/machine.json                machine N, its address, the cluster's addresses and ports
//   machine-N/nats/nats.conf       0600   nats-server: client TLS on ADDRESS:4222, routes to the
//                                         others on :6222 (TLS verified both ways + route secret),
//                                         one nkey user per node with its permissions
//   machine-N/nats/tls/ca.pem             the cluster's CA (its private key is not kept)
//   machine-N/nats/tls/cert.pem           nats-server's certificate (the address in the SAN)
//   machine-N/nats/tls/key.pem     0600   its private key
//   machine-N/node/node.json       0600   `concord node --config node.json`: id, addresses, paths
//   machine-N/node/node.nk         0600   node N's NATS identity (nkey seed)
//   machine-N/node/admin-token     0600   the cluster's admin token (the same on every machine)
//   machine-N/node/tls/ca.pem             the cluster's CA: verifies nats-server, and what browsers trust
//   machine-N/node/tls/cert.pem           the node's HTTPS certificate (the address in the SAN)
//   machine-N/node/tls/key.pem     0600   its private key (another key than nats-server's)
//   machine-N/systemd/concord-nats.service
//   machine-N/systemd/concord-node.service

export interface DeployOptions {
  /** One address (IPv4 or DNS name) per machine; machine i (1-based) runs node i. */
  readonly hosts: readonly string[];
  readonly cluster: string;
  readonly natsPort: number;
  readonly routePort: number;
  readonly httpPort: number;
  /** Where a machine directory is installed on its machine (systemd WorkingDirectory). */
  readonly configDir: string;
  /** The node's data directory on its machine (systemd StateDirectory). */
  readonly dataDir: string;
  /** Where Concord is checked out with `npm ci` on each machine (bun and src/main.ts under it). */
  readonly appDir: string;
  /** nats-server on each machine (Debian's package: /usr/sbin/nats-server). */
  readonly natsServerBin: string;
  /** The system user the node runs as (it owns node/ and the data directory). */
  readonly user: string;
  /** The system user nats-server runs as (it owns nats/): another than the node's. */
  readonly natsUser: string;
}

export const DEPLOY_DEFAULTS = {
  cluster: "concord",
  natsPort: 4222,
  routePort: 6222,
  httpPort: 8080,
  configDir: "/etc/concord",
  dataDir: "/var/lib/concord",
  appDir: "/opt/concord",
  natsServerBin: "/usr/sbin/nats-server",
  user: "concord",
  natsUser: "concord-nats",
} as const;

/** What machine.json holds: enough for a tool (or a test) to know the cluster without parsing the rest. */
export interface MachineDescription {
  readonly machine: number;
  readonly node: number;
  readonly address: string;
  readonly cluster: string;
  readonly hosts: readonly string[];
  readonly ports: { readonly nats: number; readonly route: number; readonly http: number };
}

/** Each service's directory in a machine directory: its working directory, all it may read. */
export const SERVICE_DIRS = { nats: "nats", node: "node" } as const;

/** Files in nats/, relative to it (nats.conf names them so). */
const NATS_FILES = { config: "nats.conf", ca: "tls/ca.pem", cert: "tls/cert.pem", key: "tls/key.pem" } as const;
/** Files in node/, relative to it (node.json names them so). */
const NODE_FILES = { config: "node.json", identity: "node.nk", adminToken: "admin-token", ca: "tls/ca.pem", cert: "tls/cert.pem", key: "tls/key.pem" } as const;

/** Names of the files in a machine directory, relative to it, for the README, the compose file and the tests. */
export const MACHINE_FILES = {
  natsConfig: `${SERVICE_DIRS.nats}/${NATS_FILES.config}`,
  natsCa: `${SERVICE_DIRS.nats}/${NATS_FILES.ca}`,
  natsCert: `${SERVICE_DIRS.nats}/${NATS_FILES.cert}`,
  natsKey: `${SERVICE_DIRS.nats}/${NATS_FILES.key}`,
  nodeConfig: `${SERVICE_DIRS.node}/${NODE_FILES.config}`,
  identity: `${SERVICE_DIRS.node}/${NODE_FILES.identity}`,
  adminToken: `${SERVICE_DIRS.node}/${NODE_FILES.adminToken}`,
  nodeCa: `${SERVICE_DIRS.node}/${NODE_FILES.ca}`,
  httpsCert: `${SERVICE_DIRS.node}/${NODE_FILES.cert}`,
  httpsKey: `${SERVICE_DIRS.node}/${NODE_FILES.key}`,
  natsUnit: "systemd/concord-nats.service",
  nodeUnit: "systemd/concord-node.service",
  readme: "README.txt",
  machine: "machine.json",
} as const;

/** Why the options cannot make a cluster (a usage mistake), or null. */
export function deployOptionsProblem(options: DeployOptions): string | null {
  const { hosts } = options;
  if (hosts.length < 3) return `--hosts needs at least 3 addresses (one machine per node; 5 keeps working with 2 down), got ${hosts.length}`;
  if (hosts.length > 9) return `--hosts takes at most 9 addresses, got ${hosts.length}`;
  if (new Set(hosts).size !== hosts.length) return `--hosts has duplicates: ${hosts.join(",")}`;
  for (const host of hosts) {
    if (host === "0.0.0.0" || host === "::" || host === "") return `'${host}' is not one machine's address: name the address the other machines reach it at`;
    if (isIP(host) === 6) return `${host}: IPv6 addresses are not supported by concord init yet; use IPv4 addresses or DNS names`;
    if (isIP(host) === 0 && !/^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/.test(host)) return `'${host}' is neither an IPv4 address nor a DNS name`;
  }
  try {
    checkClusterName(options.cluster);
  } catch (error) {
    return (error as Error).message;
  }
  const ports = [options.natsPort, options.routePort, options.httpPort];
  if (!ports.every((p) => Number.isInteger(p) && p > 0 && p < 65536)) return "ports must be integers from 1 to 65535";
  if (new Set(ports).size !== ports.length) return "the NATS, route and HTTP ports must differ";
  for (const [name, path] of [["--config-dir", options.configDir], ["--data-dir", options.dataDir], ["--app-dir", options.appDir], ["--nats-server", options.natsServerBin]] as const) {
    if (!path.startsWith("/") || /\s/.test(path)) return `${name} must be an absolute path without spaces (systemd units name it), got '${path}'`;
  }
  if (!/^\/var\/lib\/[^/]/.test(options.dataDir)) return `--data-dir must be under /var/lib (systemd's StateDirectory= makes it for the service user), got '${options.dataDir}'`;
  if (!/^[a-z_][a-z0-9_-]*$/.test(options.user)) return `--user must be a system user name, got '${options.user}'`;
  if (!/^[a-z_][a-z0-9_-]*$/.test(options.natsUser)) return `--nats-user must be a system user name, got '${options.natsUser}'`;
  if (options.natsUser === options.user) return `--nats-user must differ from --user ('${options.user}'): nats-server must not be able to read the node's identity and admin token`;
  return null;
}

/** An `--out` directory that already holds something: never overwritten (it holds a cluster's secrets). */
export class DeployExistsError extends Error {
  override readonly name = "DeployExistsError";
  readonly code = "deploy_exists";
}

/**
 * Write one directory per machine under `outDir` (which must not exist, or be empty).
 * Everything is made in a sibling directory and renamed into place whole, so a failure
 * leaves nothing half-written. Returns the machine directories.
 */
export async function writeDeployment(outDir: string, options: DeployOptions): Promise<string[]> {
  const problem = deployOptionsProblem(options);
  if (problem !== null) throw new RangeError(problem);
  const out = resolve(outDir);
  if (existsSync(out) && (!statSync(out).isDirectory() || readdirSync(out).length > 0)) throw new DeployExistsError(`${out} exists and is not an empty directory; it may hold a cluster's secrets: remove it or choose another --out`);
  mkdirSync(dirname(out), { recursive: true });
  const work = join(dirname(out), `.${basename(out)}.partial-${randomBytes(4).toString("hex")}`);
  mkdirSync(work, { mode: 0o700 });
  try {
    const ids = options.hosts.map((_, i) => i + 1);
    const machineDirs = ids.map((id) => join(work, `machine-${id}`));
    for (const dir of machineDirs) {
      for (const sub of [join(SERVICE_DIRS.nats, "tls"), join(SERVICE_DIRS.node, "tls"), "systemd"]) mkdirSync(join(dir, sub), { recursive: true, mode: 0o700 });
    }
    // Two certificates per machine from one CA, both naming its address: nats-server's
    // (client connections and routes) and the node's for HTTPS, each with a key of its own.
    issueClusterCertificates(
      ids.flatMap((id, i) => [
        { name: `machine ${id} nats`, address: options.hosts[i]!, dir: join(machineDirs[i]!, SERVICE_DIRS.nats, "tls") },
        { name: `machine ${id} https`, address: options.hosts[i]!, dir: join(machineDirs[i]!, SERVICE_DIRS.node, "tls") },
      ]),
    );
    // One identity per node; every server knows every node's public key and permissions
    // (they are not secret), each machine keeps only its own node's seed.
    const identities = ids.map(() => createNatsIdentity());
    const routeSecret = randomBytes(24).toString("base64url");
    const adminToken = randomBytes(24).toString("base64url");
    const users = ids.map((id, i) => ({ publicKey: identities[i]!.publicKey, permissions: nodePermissions(options.cluster, id) }));
    for (const [i, id] of ids.entries()) {
      const dir = machineDirs[i]!;
      const address = options.hosts[i]!;
      const others = options.hosts.filter((_, j) => j !== i);
      const config = await natsServerConfig({
        cluster: options.cluster,
        host: address,
        port: options.natsPort,
        users,
        tls: { caFile: NATS_FILES.ca, certFile: NATS_FILES.cert, keyFile: NATS_FILES.key },
        routes: { port: options.routePort, peers: others.map((host) => `${host}:${options.routePort}`), secret: routeSecret },
      });
      writeSecretFile(join(dir, MACHINE_FILES.natsConfig), config);
      writeSecretFile(join(dir, MACHINE_FILES.identity), identities[i]!.seed);
      writeSecretFile(join(dir, MACHINE_FILES.adminToken), adminToken);
      writeSecretFile(join(dir, MACHINE_FILES.nodeConfig), `${JSON.stringify(nodeConfig(options, id), null, 2)}\n`);
      const about: MachineDescription = {
        machine: id,
        node: id,
        address,
        cluster: options.cluster,
        hosts: options.hosts,
        ports: { nats: options.natsPort, route: options.routePort, http: options.httpPort },
      };
      writePlain(join(dir, MACHINE_FILES.machine), `${JSON.stringify(about, null, 2)}\n`);
      writePlain(join(dir, MACHINE_FILES.natsUnit), natsUnit(options, id));
      writePlain(join(dir, MACHINE_FILES.nodeUnit), nodeUnit(options, id));
      writePlain(join(dir, MACHINE_FILES.readme), machineReadme(options, id));
    }
    writePlain(join(work, "README.txt"), overviewReadme(options, out));
    if (existsSync(out)) rmSync(out, { recursive: true }); // empty, checked above
    renameSync(work, out);
    chmodSync(out, 0o700);
    return ids.map((id) => join(out, `machine-${id}`));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** What `concord node --config node.json` reads (node-options.ts: camelCase keys; flags win). Paths are relative to node/. */
function nodeConfig(options: DeployOptions, id: number): Record<string, string | number> {
  const address = options.hosts[id - 1]!;
  return {
    id,
    cluster: options.cluster,
    data: options.dataDir,
    nats: `tls://${address}:${options.natsPort}`,
    natsIdentity: NODE_FILES.identity,
    natsCa: NODE_FILES.ca,
    adminTokenFile: NODE_FILES.adminToken,
    // HTTPS only: passwords, session tokens and the admin token cross the network.
    http: `${address}:${options.httpPort}`,
    httpsCert: NODE_FILES.cert,
    httpsKey: NODE_FILES.key,
    peers: options.hosts.map((_, i) => i + 1).join(","),
    webPeers: options.hosts.map((host) => `https://${host}:${options.httpPort}`).join(","),
    logLevel: "warn",
  };
}

/** The command that starts a machine's node, run from its node/ directory (no secret in it). */
export function nodeCommand(options: Pick<DeployOptions, "appDir">): string[] {
  return [join(options.appDir, "node_modules/.bin/bun"), join(options.appDir, "src/main.ts"), "node", "--config", NODE_FILES.config];
}

/** The command that starts the machine's nats-server, run from its nats/ directory. */
export function natsCommand(options: Pick<DeployOptions, "natsServerBin">): string[] {
  return [options.natsServerBin, "-c", NATS_FILES.config];
}

function writePlain(path: string, text: string): void {
  // Nothing here is secret, but it stays with the rest: owner only, like everything Concord writes.
  writeFileSync(path, text, { mode: 0o600 });
  chmodSync(path, 0o600);
}

/** Hardening both units share: no privileges, a read-only system, only IP and local sockets. */
const HARDENING = [
  "NoNewPrivileges=yes",
  "CapabilityBoundingSet=",
  "AmbientCapabilities=",
  "UMask=0077",
  "ProtectSystem=strict",
  "ProtectHome=yes",
  "PrivateTmp=yes",
  "PrivateDevices=yes",
  "ProtectKernelTunables=yes",
  "ProtectKernelModules=yes",
  "ProtectKernelLogs=yes",
  "ProtectControlGroups=yes",
  "ProtectClock=yes",
  "ProtectHostname=yes",
  "ProtectProc=invisible",
  "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
  "RestrictNamespaces=yes",
  "RestrictRealtime=yes",
  "RestrictSUIDSGID=yes",
  "LockPersonality=yes",
  "SystemCallArchitectures=native",
];

function natsUnit(options: DeployOptions, id: number): string {
  return [
    "[Unit]",
    `Description=Concord NATS server, machine ${id} of ${options.hosts.length} (cluster ${options.cluster})`,
    `Documentation=file:${options.configDir}/README.txt`,
    "Wants=network-online.target",
    "After=network-online.target",
    "",
    "[Service]",
    "Type=simple",
    // A user of its own: it cannot read node/ (the node's identity, the admin token).
    `User=${options.natsUser}`,
    `Group=${options.natsUser}`,
    // nats.conf names its TLS files relative to its directory.
    `WorkingDirectory=${options.configDir}/${SERVICE_DIRS.nats}`,
    // And should node/ ever be owned by the wrong user, it is not even there for nats-server.
    `InaccessiblePaths=-${options.configDir}/${SERVICE_DIRS.node}`,
    `ExecStart=${natsCommand(options).join(" ")}`,
    "ExecReload=/bin/kill -HUP $MAINPID",
    // nats-server shuts down cleanly on either, but exits 1 after SIGTERM and 0 after SIGINT.
    "KillSignal=SIGINT",
    "Restart=on-failure",
    "RestartSec=2s",
    "LimitNOFILE=65536",
    ...HARDENING,
    // Go needs no writable and executable memory, and nothing beyond a service's system calls.
    "MemoryDenyWriteExecute=yes",
    "SystemCallFilter=@system-service",
    "SystemCallErrorNumber=EPERM",
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ].join("\n");
}

function nodeUnit(options: DeployOptions, id: number): string {
  return [
    "[Unit]",
    `Description=Concord node ${id} of ${options.hosts.length} (cluster ${options.cluster})`,
    `Documentation=file:${options.configDir}/README.txt`,
    "Wants=network-online.target concord-nats.service",
    "After=network-online.target concord-nats.service",
    "",
    "[Service]",
    "Type=simple",
    `User=${options.user}`,
    `Group=${options.user}`,
    // node.json names the identity, token, CA and HTTPS certificate relative to its directory.
    `WorkingDirectory=${options.configDir}/${SERVICE_DIRS.node}`,
    // The route secret and nats-server's key are not for the node.
    `InaccessiblePaths=-${options.configDir}/${SERVICE_DIRS.nats}`,
    `ExecStart=${nodeCommand(options).join(" ")}`,
    // SIGTERM: the node stops taking requests and, when it leads, hands leadership to a
    // caught-up follower before it exits; give it time to.
    "KillSignal=SIGTERM",
    "TimeoutStopSec=30s",
    "Restart=on-failure",
    "RestartSec=2s",
    // 2: a mistake in node.json; 3: refused to start (a secret others may read, an identity
    // NATS refuses, a data directory it must not use). Restarting would not help.
    "RestartPreventExitStatus=2 3",
    `StateDirectory=${stateDirectoryName(options.dataDir)}`,
    "StateDirectoryMode=0700",
    `Environment=HOME=${options.dataDir}`,
    "Environment=BUN_RUNTIME_TRANSPILER_CACHE_PATH=0",
    ...HARDENING,
    // Bun's JIT needs writable and executable memory: no MemoryDenyWriteExecute here.
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ].join("\n");
}

/** systemd's StateDirectory= is relative to /var/lib (deployOptionsProblem checks it is under it). */
function stateDirectoryName(dataDir: string): string {
  return dataDir.slice("/var/lib/".length).replace(/\/+$/, "");
}

function machineReadme(options: DeployOptions, id: number): string {
  const address = options.hosts[id - 1]!;
  const n = options.hosts.length;
  const c = options.configDir;
  const { nats, node } = SERVICE_DIRS;
  return `Concord, cluster "${options.cluster}": machine ${id} of ${n} (${address}), runs node ${id}.

This directory belongs on machine ${id} only, at ${c} (it holds node ${id}'s
NATS identity and this machine's TLS private keys; the other machines have their own).

Each service has a directory of its own, runs in it as a user of its own, and cannot
read the other's (paths inside a service's files are relative to its directory):
  ${nats}/            nats-server, as user ${options.natsUser}:
    nats.conf     clients on ${address}:${options.natsPort} (TLS), routes to the other ${n - 1}
                  machines on port ${options.routePort} (TLS verified both ways, plus a route
                  secret), one nkey user per node with its permissions, no anonymous
                  access. Holds the route secret: 0600.
    tls/          ca.pem (the cluster's CA), cert.pem and key.pem (nats-server's, 0600)
  ${node}/            the node, as user ${options.user}:
    node.json     the node's settings: concord node --config node.json
                  (NATS at tls://${address}:${options.natsPort}, HTTPS on ${address}:${options.httpPort},
                  data in ${options.dataDir}, secrets by path; flags on the command line win)
    node.nk       node ${id}'s NATS identity (nkey seed), 0600
    admin-token   the cluster's admin token (membership, leadership transfer), 0600
    tls/          ca.pem (the cluster's CA: the node checks nats-server with it, and
                  browsers must trust it), cert.pem and key.pem (its HTTPS certificate, 0600)
  machine.json    this machine's number, address, and the cluster's addresses and ports
  systemd/        concord-nats.service and concord-node.service

Install (as root on machine ${id}):
  apt-get install -y nats-server git nodejs npm
  systemctl disable --now nats-server      # Debian's own service; Concord runs its own
  git clone <concord repository> ${options.appDir} && (cd ${options.appDir} && npm ci)
  useradd --system --home-dir ${options.dataDir} --shell /usr/sbin/nologin ${options.user}
  useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin ${options.natsUser}
  install -d -m 0711 ${c}
  cp -a <this directory>/. ${c}/ && chown -R root:root ${c} && chmod 0711 ${c}
  chown -R ${options.natsUser}:${options.natsUser} ${c}/${nats}
  chown -R ${options.user}:${options.user} ${c}/${node}
  cp ${c}/systemd/concord-nats.service ${c}/systemd/concord-node.service /etc/systemd/system/
  systemctl daemon-reload
  systemctl enable --now concord-nats concord-node

Check:
  systemctl status concord-nats concord-node
  journalctl -u concord-node -f
  curl --cacert ${c}/${node}/tls/ca.pem https://${address}:${options.httpPort}/v1/cluster   # role, term, leader, commit

HTTPS: the node serves the API and the web app over HTTPS only (nothing answers plain
HTTP), with a certificate from the cluster's CA. Browsers and other clients must trust
that CA: import ${node}/tls/ca.pem as a certificate authority (its private key was
destroyed when concord init ran, so it vouches for this cluster's certificates and can
never sign another). Or use certificates from your own CA: replace ${node}/tls/cert.pem
(the certificate, then any intermediates) and ${node}/tls/key.pem (0600, owned by
${options.user}) with ones valid for server authentication whose subject alternative
name is ${address}, then systemctl restart concord-node. Keep ${node}/tls/ca.pem: the node
checks nats-server with it.

By hand instead of systemd (nats-server as ${options.natsUser} from ${c}/${nats}, the node as
${options.user} from ${c}/${node}):
  ${natsCommand(options).join(" ")}
  ${nodeCommand(options).join(" ")}

Upgrade (one machine at a time): systemctl stop concord-node (SIGTERM: a leader hands
leadership over first), update ${options.appDir} (git pull && npm ci), systemctl start
concord-node; wait until /v1/cluster on this node shows it applied what the leader
committed before the next machine. nats-server likewise: apt-get upgrade nats-server,
systemctl restart concord-nats (the node reconnects by itself). The firewall must let the other machines reach ports
${options.routePort} (routes); clients need ${options.httpPort} (HTTPS); nodes use ${options.natsPort} locally.
`;
}

function overviewReadme(options: DeployOptions, out: string): string {
  const lines = options.hosts.map((host, i) => `  machine-${i + 1}/  ->  ${host}:${options.configDir}   (node ${i + 1})`);
  return `Concord cluster "${options.cluster}": ${options.hosts.length} machines, one node each.

${lines.join("\n")}

Copy each directory to its machine only (it holds that machine's private keys and node
identity), e.g. for machine 1:
  tar -C ${out}/machine-1 -cf - . | ssh root@${options.hosts[0]} 'install -d -m 0711 ${options.configDir} && tar -C ${options.configDir} -xf -'
then follow machine-N/README.txt on each machine. Once three machines run, the cluster
elects a leader and serves; every node serves the chat API and the web app over HTTPS
on port ${options.httpPort} of its own address (https://${options.hosts[0]}:${options.httpPort}/ and so on).
Browsers must trust the cluster's CA, machine-N/${SERVICE_DIRS.node}/tls/ca.pem (the same on every
machine), or each node gets a certificate from your own CA (machine-N/README.txt says how).

The certificates are valid for 365 days, and the CA's private key was not kept: to renew
them, add a machine or change an address, run concord init again for the whole cluster
(a new CA, identities and tokens), install the new directories on every machine and
restart both services everywhere (servers with different CAs do not route to each other,
so the cluster pauses meanwhile; the nodes' data stays). Browsers must then trust the
new CA.
Keep this directory somewhere safe, or delete it once copied: it holds every secret.
`;
}
