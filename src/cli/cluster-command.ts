import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { ensureNatsServer } from "./ensure-nats-server.ts";
import { NatsServer, NatsServerMissingError } from "./nats-server-process.ts";
import { NodeProcess } from "./node-process.ts";
import { UsageError } from "./node-options.ts";

const USAGE = `usage: concord cluster up [options]

Starts a local nats-server and N nodes with their data directories, prints where they
are, and stops them all cleanly on Ctrl+C. Data stays in --data for the next run.

  --nodes N        how many nodes (default 5)
  --data DIR       where data lives (default ./data)
  --nats-port P    NATS port (default 4222)
  --http-port P    first node's HTTP port; node i gets P+i-1 (default 8081)
  --log-level L    nodes' log level (default warn)
`;

export async function runClusterCommand(argv: string[], onSignal: (signal: "SIGINT" | "SIGTERM", handler: () => void) => void): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== "up" || rest.includes("--help")) {
    process.stdout.write(USAGE);
    return sub === "up" || sub === "--help" ? 0 : 2;
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
    throw new UsageError(`${(error as Error).message}\n\n${USAGE}`);
  }
  const count = Number(values.nodes);
  const natsPort = Number(values["nats-port"]);
  const httpPort = Number(values["http-port"]);
  if (![count, natsPort, httpPort].every((n) => Number.isInteger(n) && n > 0)) throw new UsageError(`--nodes and ports must be positive integers\n\n${USAGE}`);
  const dataDir = resolve(values.data);
  const ids = Array.from({ length: count }, (_, i) => i + 1);
  await mkdir(dataDir, { recursive: true });
  const adminToken = await loadOrCreateAdminToken(join(dataDir, "admin-token"));

  let nats: NatsServer;
  try {
    await ensureNatsServer((line) => process.stdout.write(`${line}\n`));
    process.stdout.write(`starting nats-server on 127.0.0.1:${natsPort} …\n`);
    nats = await NatsServer.start({ cluster: "concord", nodeIds: ids, port: natsPort, dir: join(dataDir, "nats") });
  } catch (error) {
    if (error instanceof NatsServerMissingError) {
      process.stderr.write(`${error.message}\n`);
      return 4;
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
      await mkdir(dir, { recursive: true });
      const { user, pass } = nats.credentials(id);
      const node = new NodeProcess({
        id,
        logPath: join(dir, "node.log"),
        args: ["--id", String(id), "--data", dir, "--nats", nats.url, "--nats-user", user, "--nats-pass", pass,
          "--http", `127.0.0.1:${httpPort + id - 1}`, "--peers", ids.join(","), "--log-level", values["log-level"], "--web-peers", webPeers],
        env: { CONCORD_ADMIN_TOKEN: adminToken },
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

/** One admin token per data directory, kept readable only by its owner. */
async function loadOrCreateAdminToken(path: string): Promise<string> {
  const existing = await readFile(path, "utf8").catch(() => null);
  if (existing !== null && existing.trim() !== "") return existing.trim();
  const token = randomBytes(24).toString("base64url");
  await writeFile(path, `${token}\n`, { mode: 0o600 });
  return token;
}
