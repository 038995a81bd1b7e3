import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, readFileSync } from "node:fs";
import { chmod, mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { CLUSTER_USAGE, clusterAdminUsage, isClusterAdminCommand } from "./cluster-admin-options.ts";
import { ensureNatsServer } from "./ensure-nats-server.ts";
import { EXIT } from "./exit-codes.ts";
import { wantsHelp } from "./help-flag.ts";
import { NatsServer, NatsServerMissingError } from "./nats-server-process.ts";
import { NodeProcess } from "./node-process.ts";
import { UsageError } from "./node-options.ts";
import { writeSecretFile } from "../transport/nats-identity.ts";

const UP_USAGE = `usage: concord cluster up [options]

Starts a local nats-server and N nodes with their data directories, prints where they
are, and stops them all cleanly on Ctrl+C. Data stays in --data for the next run.
Each node gets its own NATS identity (an nkey, in --data/nats/identities, 0600) that
may publish only as itself; the admin token is in --data/admin-token (0600). Nothing
secret goes on a command line.

  --nodes N        how many nodes (default 5)
  --data DIR       where data lives (default ./data)
  --nats-port P    NATS port (default 4222)
  --http-port P    first node's HTTP port; node i gets P+i-1 (default 8081)
  --log-level L    nodes' log level (default warn)

exit status: 0 stopped by Ctrl+C, 2 usage, 3 refused (a data directory or secret file
that must not be used), 4 nats-server is missing (concord --help: every code)
`;

/** `concord cluster …`: `up` runs a local cluster; the operator commands talk to a running one. */
export async function runClusterCommand(argv: string[], onSignal: (signal: "SIGINT" | "SIGTERM", handler: () => void) => void): Promise<number> {
  const [sub, ...rest] = argv;
  if (isClusterAdminCommand(sub)) {
    const { runClusterAdminCommand } = await import("./cluster-admin-command.ts");
    return runClusterAdminCommand(argv, { stdout: (text) => void process.stdout.write(text), stderr: (text) => void process.stderr.write(text), env: process.env });
  }
  if (sub === "help" || (sub !== "up" && wantsHelp(argv))) {
    const topic = sub === "help" ? rest[0] : undefined;
    process.stdout.write(topic === "up" ? UP_USAGE : isClusterAdminCommand(topic) ? clusterAdminUsage(topic) : CLUSTER_USAGE);
    return EXIT.ok;
  }
  if (sub !== "up") {
    process.stderr.write(`${sub === undefined ? "which cluster command?" : `unknown cluster command '${sub}'`}\n\n${CLUSTER_USAGE}`);
    return EXIT.usage;
  }
  if (wantsHelp(rest)) {
    process.stdout.write(UP_USAGE);
    return EXIT.ok;
  }
  let values;
  try {
    values = parseArgs({
      args: rest,
      strict: true,
      options: {
        nodes: { type: "string", default: "5" },
        data: { type: "string", default: "./data" },
        "nats-port": { type: "string", default: "4222" },
        "http-port": { type: "string", default: "8081" },
        "log-level": { type: "string", default: "warn" },
      },
    }).values;
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n\n${UP_USAGE}`);
  }
  const count = Number(values.nodes);
  const natsPort = Number(values["nats-port"]);
  const httpPort = Number(values["http-port"]);
  if (![count, natsPort, httpPort].every((n) => Number.isInteger(n) && n > 0)) throw new UsageError(`--nodes and ports must be positive integers\n\n${UP_USAGE}`);
  const dataDir = resolve(values.data);
  const ids = Array.from({ length: count }, (_, i) => i + 1);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  await chmod(dataDir, 0o700);
  const adminTokenFile = join(dataDir, "admin-token");
  loadOrCreateAdminToken(adminTokenFile);

  let nats: NatsServer;
  try {
    await ensureNatsServer((line) => process.stdout.write(`${line}\n`));
    process.stdout.write(`starting nats-server on 127.0.0.1:${natsPort} …\n`);
    nats = await NatsServer.start({ cluster: "concord", nodeIds: ids, port: natsPort, dir: join(dataDir, "nats") });
  } catch (error) {
    if (error instanceof NatsServerMissingError) {
      process.stderr.write(`${error.message} (nats_server_missing)\n`);
      return EXIT.missingDependency;
    }
    throw error;
  }
  const nodes: NodeProcess[] = [];
  const stopAll = async () => {
    process.stdout.write("stopping nodes …\n");
    await Promise.all(nodes.map((n) => n.stop()));
    for (const n of nodes) n.dispose();
    await nats.stop();
    process.stdout.write("stopped\n");
  };
  // Every node tells the web page about all of them, so the page can fail over.
  const webPeers = ids.map((id) => `http://127.0.0.1:${httpPort + id - 1}`).join(",");
  try {
    for (const id of ids) {
      const dir = join(dataDir, `node-${id}`);
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const node = new NodeProcess({
        id,
        logPath: join(dir, "node.log"),
        // Paths only: the identity and the token stay in their 0600 files.
        args: ["--id", String(id), "--data", dir, ...nats.nodeArgs(id), "--admin-token-file", adminTokenFile,
          "--http", `127.0.0.1:${httpPort + id - 1}`, "--peers", ids.join(","), "--log-level", values["log-level"], "--web-peers", webPeers],
      });
      nodes.push(node);
      const { http } = await node.start();
      process.stdout.write(`  node ${id}  ${http}  data ${dir}  log ${join(dir, "node.log")}\n`);
    }
  } catch (error) {
    await stopAll();
    throw error;
  }
  process.stdout.write(`cluster up: ${count} nodes, NATS at ${nats.url}. Web app at http://127.0.0.1:${httpPort}/ (dashboard: /cluster). Admin token in ${join(dataDir, "admin-token")}. Ctrl+C stops everything.\n`);
  await new Promise<void>((done) => {
    let stopping = false;
    const handler = () => {
      if (stopping) return;
      stopping = true;
      void stopAll().then(done);
    };
    onSignal("SIGINT", handler);
    onSignal("SIGTERM", handler);
  });
  return 0;
}

/**
 * One admin token per data directory, readable only by its owner (one an older version
 * left readable by others is tightened to 0600; replace it if that matters).
 */
function loadOrCreateAdminToken(path: string): void {
  if (existsSync(path)) {
    chmodSync(path, 0o600);
    if (readFileSync(path, "utf8").trim() !== "") return;
  }
  writeSecretFile(path, randomBytes(24).toString("base64url"));
}
