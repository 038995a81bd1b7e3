// Arguments of the operator commands (`concord cluster status|members|add|promote|remove|
// transfer`) and their usage texts. `cluster up` has its own (cluster-command.ts).
import { parseArgs } from "node:util";
import { adminTokenSource, type AdminTokenSource } from "./admin-token.ts";
import { DEFAULT_NODES } from "./chat-options.ts";
import { wantsHelp } from "./help-flag.ts";
import { UsageError } from "./node-options.ts";

export const CLUSTER_ADMIN_COMMANDS = ["status", "members", "add", "promote", "remove", "transfer"] as const;
export type ClusterAdminCommand = (typeof CLUSTER_ADMIN_COMMANDS)[number];

export interface ClusterAdminOptions {
  readonly command: ClusterAdminCommand;
  /** The node the command acts on (add, promote, remove, transfer); null for status and members. */
  readonly id: number | null;
  /** add: keep the new member a learner. */
  readonly learner: boolean;
  readonly json: boolean;
  readonly endpoints: readonly string[];
  /** Where the admin token comes from; read only by the commands that change something. */
  readonly token: AdminTokenSource;
}

export interface ClusterAdminHelp {
  readonly help: string;
}

const SHAPES: Readonly<Record<ClusterAdminCommand, { readonly takesId: boolean; readonly admin: boolean; readonly summary: string }>> = {
  status: { takesId: false, admin: false, summary: "Every node's id, address, role, term, leader, commit and applied index, lag (the leader's\ncommit minus the node's applied index) and snapshot index. A node that does not answer\nis listed as down; exit 6 when none answers." },
  members: { takesId: false, admin: false, summary: "The voters and learners, as the leader sees them (any node's view when there is no leader),\nwith each one's replication progress." },
  add: { takesId: true, admin: true, summary: "Adds node <id>: it joins as a learner, catches up, then becomes a voter (--learner: it\nstays a learner; promote it later). Start the node first with 'concord node --join'." },
  promote: { takesId: true, admin: true, summary: "Makes learner <id> a voter once it has caught up with the leader. Refused (not_a_learner)\nwhen <id> is not a member; a voter is left as it is." },
  remove: { takesId: true, admin: true, summary: "Removes node <id> from the cluster (a removed leader steps down). Stop its process after." },
  transfer: { takesId: true, admin: true, summary: "Hands leadership to voter <id>; returns once <id> leads." },
};

const COMMON_OPTIONS = `  --endpoints URL,…  the nodes' HTTP addresses (default http://127.0.0.1:8081 … 8085,
                     where cluster up starts them)                    env CONCORD_NODES
  --json             one JSON document on stdout; errors as {"error": {code, message}}
`;

const TOKEN_OPTIONS = `admin token (never on the command line: /proc/<pid>/cmdline is readable by anyone),
the first of:
  --token-file FILE  a file holding it, readable by its owner only (0600)
  --data DIR         the token cluster up wrote, DIR/admin-token
  env CONCORD_ADMIN_TOKEN_FILE (a file), env CONCORD_ADMIN_TOKEN (the token),
  ./data/admin-token (cluster up's default data directory)
`;

const EXIT_STATUS = `exit status: 0 ok, 1 refused by the cluster, 2 usage, 3 token file readable by others,
5 no or wrong admin token, 6 no node could serve it (concord --help: every code)
`;

export const CLUSTER_USAGE = `usage: concord cluster <command> [options]

commands:
  up              start a local nats-server and 5 nodes (concord cluster up --help)
  status          each node: id, address, role, term, leader, commit, applied, lag, snapshot
  members         the voters and learners
  add <id>        add node <id> as a learner that becomes a voter once caught up
                  [--learner: it stays a learner]
  promote <id>    make learner <id> a voter
  remove <id>     remove node <id>
  transfer <id>   hand leadership to voter <id>

options (every command but up):
${COMMON_OPTIONS}
${TOKEN_OPTIONS}
concord cluster <command> --help shows one command's usage.

${EXIT_STATUS}`;

/** One operator command's own usage. */
export function clusterAdminUsage(command: ClusterAdminCommand): string {
  const shape = SHAPES[command];
  const learner = command === "add" ? "  --learner          keep the new member a learner (no vote)\n" : "";
  return `usage: concord cluster ${command}${shape.takesId ? " <id>" : ""}${command === "add" ? " [--learner]" : ""} [options]

${shape.summary}

options:
${learner}${COMMON_OPTIONS}${shape.admin ? `\n${TOKEN_OPTIONS}` : ""}
${EXIT_STATUS}`;
}

/** Flags that would put the token on the command line, and what to use instead. */
const REFUSED_FLAGS: ReadonlySet<string> = new Set(["--token", "--admin-token"]);

const PARSE_OPTIONS = {
  endpoints: { type: "string" },
  json: { type: "boolean" },
  learner: { type: "boolean" },
  "token-file": { type: "string" },
  data: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

export function isClusterAdminCommand(text: string | undefined): text is ClusterAdminCommand {
  return (CLUSTER_ADMIN_COMMANDS as readonly (string | undefined)[]).includes(text);
}

/** argv after `concord cluster` (its first element is the command). */
export function parseClusterAdminOptions(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): ClusterAdminOptions | ClusterAdminHelp {
  const [command, ...rest] = argv;
  if (!isClusterAdminCommand(command)) throw new UsageError(`unknown cluster command '${command ?? ""}' (concord cluster --help lists them)`);
  if (wantsHelp(rest)) return { help: clusterAdminUsage(command) };
  for (const arg of rest) {
    const flag = arg.split("=")[0]!;
    if (REFUSED_FLAGS.has(flag)) throw new UsageError(`${flag}: a token on the command line is readable by every local user; use --token-file FILE, --data DIR or env CONCORD_ADMIN_TOKEN`);
  }
  let parsed;
  try {
    parsed = parseArgs({ args: [...rest], strict: true, allowPositionals: true, options: PARSE_OPTIONS });
  } catch (error) {
    throw new UsageError(`${(error as Error).message} (concord cluster ${command} --help)`);
  }
  const { values, positionals } = parsed;
  const shape = SHAPES[command];
  if (values.learner === true && command !== "add") throw new UsageError(`--learner applies to 'add' only`);
  if (values["token-file"] !== undefined && values.data !== undefined) throw new UsageError("give --token-file or --data, not both");
  let id: number | null = null;
  if (shape.takesId) {
    if (positionals.length !== 1) throw new UsageError(`usage: concord cluster ${command} <id>`);
    id = nodeId(positionals[0]!);
  } else if (positionals.length > 0) {
    throw new UsageError(`'${command}' takes no arguments`);
  }
  const endpointsText = values.endpoints ?? env["CONCORD_NODES"];
  const endpoints = endpointsText === undefined ? DEFAULT_NODES : endpointsText.split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (endpoints.length === 0) throw new UsageError("--endpoints needs at least one URL");
  for (const url of endpoints) if (!/^https?:\/\/[^/]/.test(url)) throw new UsageError(`--endpoints takes http(s) URLs, got '${url}'`);
  return {
    command,
    id,
    learner: values.learner === true,
    json: values.json === true,
    endpoints,
    token: adminTokenSource({ tokenFile: values["token-file"] ?? null, dataDir: values.data ?? null }, env),
  };
}

/** Node ids are positive integers (API: 1 … 2^31-1). */
function nodeId(text: string): number {
  const value = Number(text);
  if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(value) || value < 1 || value > 2 ** 31 - 1) throw new UsageError(`a node id is a positive integer, got '${text}'`);
  return value;
}
