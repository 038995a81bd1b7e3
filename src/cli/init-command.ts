import { parseArgs } from "node:util";
import { EXIT } from "./exit-codes.ts";
import { wantsHelp } from "./help-flag.ts";
import { DEPLOY_DEFAULTS, DeployExistsError, type DeployOptions, deployOptionsProblem, writeDeployment } from "./init-deploy.ts";
import { UsageError } from "./node-options.ts";
import { TlsBundleError } from "./tls-bundle.ts";

export const INIT_USAGE = `usage: concord init --hosts ADDR1,ADDR2,ADDR3,ADDR4,ADDR5 [options]

Writes everything a cluster with one node per machine needs, one directory per machine
(--out/machine-N for the N-th address; node N runs there), with a directory per service
so that neither reads the other's secrets: nats/ (nats-server's configuration: client
TLS and routes to the other machines, verified both ways, with a route secret; listening
on that machine's address only; one nkey user per node; its certificate) and node/
(node.json for concord node --config, the node's identity, the admin token, its HTTPS
certificate); one CA made for this cluster signs every certificate, and its private key
is not kept. Nodes serve HTTPS only: browsers must trust node/tls/ca.pem. Also systemd
units (nats-server and the node as different users) and a README.txt. No secret is on
any command line: the node reads them from files by path. Copy machine-N to machine N
only (at --config-dir), then follow its README.txt. compose.yaml runs the same files.

  --hosts LIST         the machines' addresses (IPv4 or DNS names), comma-separated;
                       3 to 9, normally 5 (any 2 may be down)
  --out DIR            where to write (default ./concord-deploy; must not exist or be empty)
  --cluster NAME       the cluster's name (default ${DEPLOY_DEFAULTS.cluster})
  --nats-port P        NATS client port (default ${DEPLOY_DEFAULTS.natsPort})
  --route-port P       NATS route port between machines (default ${DEPLOY_DEFAULTS.routePort})
  --http-port P        each node's HTTPS port (default ${DEPLOY_DEFAULTS.httpPort})
  --config-dir DIR     where machine-N goes on machine N (default ${DEPLOY_DEFAULTS.configDir})
  --data-dir DIR       the node's data on its machine, under /var/lib (default ${DEPLOY_DEFAULTS.dataDir})
  --app-dir DIR        where Concord is checked out and npm ci'd on each machine
                       (default ${DEPLOY_DEFAULTS.appDir}; the units run its bun and src/main.ts)
  --nats-server PATH   nats-server on each machine (default ${DEPLOY_DEFAULTS.natsServerBin})
  --user NAME          the system user the node runs as (default ${DEPLOY_DEFAULTS.user})
  --nats-user NAME     the system user nats-server runs as, another one
                       (default ${DEPLOY_DEFAULTS.natsUser})

Exit codes: 0 written, 2 usage mistake, 3 refused (--out holds files already, openssl failed).
`;

/** `concord init`: write the per-machine directories. */
export async function runInitCommand(argv: string[], out: { stdout: (text: string) => void; stderr: (text: string) => void }): Promise<number> {
  if (wantsHelp(argv)) {
    out.stdout(INIT_USAGE);
    return EXIT.ok;
  }
  let values;
  try {
    values = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        hosts: { type: "string" },
        out: { type: "string", default: "./concord-deploy" },
        cluster: { type: "string", default: DEPLOY_DEFAULTS.cluster },
        "nats-port": { type: "string", default: String(DEPLOY_DEFAULTS.natsPort) },
        "route-port": { type: "string", default: String(DEPLOY_DEFAULTS.routePort) },
        "http-port": { type: "string", default: String(DEPLOY_DEFAULTS.httpPort) },
        "config-dir": { type: "string", default: DEPLOY_DEFAULTS.configDir },
        "data-dir": { type: "string", default: DEPLOY_DEFAULTS.dataDir },
        "app-dir": { type: "string", default: DEPLOY_DEFAULTS.appDir },
        "nats-server": { type: "string", default: DEPLOY_DEFAULTS.natsServerBin },
        user: { type: "string", default: DEPLOY_DEFAULTS.user },
        "nats-user": { type: "string", default: DEPLOY_DEFAULTS.natsUser },
      },
    }).values;
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n\n${INIT_USAGE}`);
  }
  if (values.hosts === undefined) throw new UsageError(`--hosts is required: the machines' addresses, comma-separated\n\n${INIT_USAGE}`);
  const options: DeployOptions = {
    hosts: values.hosts.split(",").map((h) => h.trim()).filter((h) => h !== ""),
    cluster: values.cluster,
    natsPort: Number(values["nats-port"]),
    routePort: Number(values["route-port"]),
    httpPort: Number(values["http-port"]),
    configDir: values["config-dir"],
    dataDir: values["data-dir"],
    appDir: values["app-dir"],
    natsServerBin: values["nats-server"],
    user: values.user,
    natsUser: values["nats-user"],
  };
  const problem = deployOptionsProblem(options);
  if (problem !== null) throw new UsageError(`${problem}\n\n${INIT_USAGE}`);
  try {
    const made = await writeDeployment(values.out, options);
    out.stdout(
      `wrote ${made.length} machine directories:\n${made.map((dir, i) => `  ${dir}  ->  ${options.hosts[i]}:${options.configDir}\n`).join("")}` +
        `copy each to its machine only, then follow its README.txt (overview: ${values.out}/README.txt)\n`,
    );
    return EXIT.ok;
  } catch (error) {
    if (error instanceof TlsBundleError || error instanceof DeployExistsError) {
      out.stderr(`concord: ${error.message} (${error.code})\n`);
      return EXIT.refused;
    }
    throw error;
  }
}
