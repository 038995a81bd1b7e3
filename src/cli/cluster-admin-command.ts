// The operator's commands over the HTTP admin API: `concord cluster status | members |
// add | promote | remove | transfer`. Reads go to every endpoint (status is per node);
// changes go through the failover client to whichever node answers, which forwards them
// to the leader sealed with the admin token. Failures print `concord cluster: <message>
// (<code>)` and exit with exit-codes.ts's number for that kind of failure.
import { ConcordClient } from "../client/concord-client.ts";
import { ConcordError } from "../client/concord-error.ts";
import { readAdminToken } from "./admin-token.ts";
import { type ClusterAdminOptions, parseClusterAdminOptions } from "./cluster-admin-options.ts";
import { gatherClusterReport, membersJson, membersTable, membershipView, statusJson, statusTable } from "./cluster-status-report.ts";
import { EXIT, type ExitCode } from "./exit-codes.ts";
import { classifyFailure } from "./failure-exit.ts";
import { printable } from "./text-table.ts";

export interface OperatorIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** One node's view: a node that does not answer within this is reported down. */
const STATUS_TIMEOUT_MS = 2000;
/** Above the server's own 5 s deadline, so its answer (even a 503) arrives before we give up. */
const ADMIN_REQUEST_TIMEOUT_MS = 8000;
/** A promotion waits for the learner to catch up; a few tries over the nodes fit in this. */
const ADMIN_DEADLINE_MS = 30_000;

interface Context {
  readonly options: ClusterAdminOptions;
  readonly io: OperatorIo;
  readonly print: (human: string, json: unknown) => void;
}

/** argv after `concord cluster`; the first element is the command. */
export async function runClusterAdminCommand(argv: readonly string[], io: OperatorIo): Promise<number> {
  const json = argv.includes("--json");
  try {
    const options = parseClusterAdminOptions(argv, io.env);
    if ("help" in options) {
      io.stdout(options.help);
      return EXIT.ok;
    }
    const print = (human: string, doc: unknown) => io.stdout(options.json ? `${JSON.stringify(doc)}\n` : human);
    return await COMMANDS[options.command]({ options, io, print });
  } catch (error) {
    const failure = classifyFailure(error);
    if (failure === null) throw error; // a bug: main prints the stack
    const message = failure.message.split("\n")[0] ?? "";
    if (json) io.stdout(`${JSON.stringify({ error: { code: failure.code, message, ...(error instanceof ConcordError ? { status: error.status } : {}) } })}\n`);
    io.stderr(`concord cluster: ${printable(message)} (${failure.code})\n`);
    if (failure.code === "usage") io.stderr("run 'concord cluster --help' for usage\n");
    return failure.exit;
  }
}

const COMMANDS: Readonly<Record<ClusterAdminOptions["command"], (context: Context) => Promise<ExitCode>>> = {
  status: async ({ options, print }) => {
    const report = await gatherClusterReport(statusClient(options));
    print(statusTable(report), statusJson(report));
    // A report with every node down is still printed, but a script must see that nothing answered.
    return report.nodes.some((n) => n.up) ? EXIT.ok : EXIT.unavailable;
  },

  members: async ({ options, print }) => {
    const report = await gatherClusterReport(statusClient(options));
    const view = membershipView(report);
    if (view === null) throw new ConcordError("unavailable", `no node answered at ${options.endpoints.join(", ")}`);
    print(membersTable(report, view), membersJson(report, view));
    return EXIT.ok;
  },

  add: async ({ options, io, print }) => {
    const id = options.id!;
    const voter = !options.learner;
    await adminClient(options, io).addMember(id, voter);
    print(voter ? `node ${id} is a voter\n` : `node ${id} is a learner\n`, { id, voter });
    return EXIT.ok;
  },

  promote: async ({ options, io, print }) => {
    const id = options.id!;
    // addMember with voter=true would also add a stranger: promote only what is a learner.
    const view = membershipView(await gatherClusterReport(statusClient(options)));
    if (view === null) throw new ConcordError("unavailable", `no node answered at ${options.endpoints.join(", ")}`);
    const member = view.members.find((m) => m.id === id);
    if (member === undefined) throw new ConcordError("not_a_learner", `node ${id} is not a member: add it first (concord cluster add ${id} --learner)`);
    if (!member.voter) await adminClient(options, io).addMember(id, true);
    print(member.voter ? `node ${id} is already a voter\n` : `node ${id} is a voter\n`, { id, voter: true, promoted: !member.voter });
    return EXIT.ok;
  },

  remove: async ({ options, io, print }) => {
    const id = options.id!;
    await adminClient(options, io).removeMember(id);
    print(`node ${id} removed\n`, { id, removed: true });
    return EXIT.ok;
  },

  transfer: async ({ options, io, print }) => {
    const id = options.id!;
    await adminClient(options, io).transferLeadership(id);
    print(`node ${id} leads\n`, { leader: id });
    return EXIT.ok;
  },
};

function statusClient(options: ClusterAdminOptions): ConcordClient {
  return new ConcordClient({ nodes: options.endpoints, requestTimeoutMs: STATUS_TIMEOUT_MS });
}

/** The token is read only here: status and members work without one. */
function adminClient(options: ClusterAdminOptions, io: OperatorIo): ConcordClient {
  const adminToken = readAdminToken(options.token, io.env);
  return new ConcordClient({ nodes: options.endpoints, adminToken, requestTimeoutMs: ADMIN_REQUEST_TIMEOUT_MS, deadlineMs: ADMIN_DEADLINE_MS });
}
