import { join } from "node:path";
import { parseArgs } from "node:util";
import { wantsHelp } from "./help-flag.ts";
import { UsageError } from "./node-options.ts";

/** The options every chat command takes. */
const COMMON_OPTIONS = `  --nodes URL,URL…   the nodes to talk to (default http://127.0.0.1:8081 … 8085)
                                                              env CONCORD_NODES
  --json             machine-readable output: one JSON document (watch: one JSON
                     line per event); errors as {"error": {code, message}}
  --session FILE     where the session is kept
                     (default ~/.config/concord/session.json)  env CONCORD_SESSION
`;

/** The rows of exit-codes.ts that chat commands use (concord --help has the whole table). */
const EXIT_STATUS = `exit status: 0 ok, 1 failed, 2 usage, 5 not logged in or wrong password,
6 no node could serve the request, 130 interrupted (concord --help: every code)
`;

/** What each command-specific option means, for a command's own usage. */
const FLAG_HELP: Readonly<Record<string, string>> = {
  password: "  --password P       instead of asking (asked on a terminal, else read from stdin)\n",
  with: "  --with USER        the conversation with USER instead of your unread messages\n",
  limit: "  --limit N          at most N (1-200)\n",
  since: "  --since ID         start after event ID (a previous watch's last id)\n",
};

export const CHAT_USAGE = `usage: concord chat <command> [arguments] [options]

commands:
  signup <username>          create an account and log in to it
  login <username>           log in; the session is kept for the next commands
  logout                     end the session on every node
  ls [pattern]               list accounts (glob: * and ?) [--limit N]
  send <to> <message…>       send a message (no message words: read it from stdin)
  read [--with USER]         show a conversation, or without --with your unread
       [--limit N]           messages; what is shown is marked read
  unread                     who has unread messages for you, and how many
  rm <id…>                   delete messages you sent or received, for both sides
  watch [--since ID]         print events as they happen, until Ctrl+C
  delete-account             delete your account (asks for the password)

options:
${COMMON_OPTIONS}  --password P       instead of asking (asked on a terminal, else read from stdin)

concord chat <command> --help shows one command's usage.

${EXIT_STATUS}`;

export const CHAT_COMMANDS = ["signup", "login", "logout", "ls", "send", "read", "unread", "rm", "watch", "delete-account"] as const;
export type ChatSubcommand = (typeof CHAT_COMMANDS)[number];

export const DEFAULT_NODES = [8081, 8082, 8083, 8084, 8085].map((port) => `http://127.0.0.1:${port}`);
/** API.md: limit is 1–200. */
export const MAX_LIMIT = 200;

export interface ChatOptions {
  readonly command: ChatSubcommand;
  readonly args: readonly string[];
  readonly nodes: readonly string[];
  readonly json: boolean;
  readonly password: string | null;
  readonly sessionPath: string;
  readonly with: string | null;
  readonly limit: number | null;
  readonly since: number | null;
}

/** Which subcommand takes which of the command-specific flags, and how many positionals. */
const SHAPES: Readonly<Record<ChatSubcommand, { flags: readonly string[]; args: readonly [min: number, max: number]; argNames: string; summary: string }>> = {
  signup: { flags: ["password"], args: [1, 1], argNames: "<username>", summary: "Creates an account and logs in to it (the password is asked twice on a terminal)." },
  login: { flags: ["password"], args: [1, 1], argNames: "<username>", summary: "Logs in; the session is kept (--session) for the next commands." },
  logout: { flags: [], args: [0, 0], argNames: "", summary: "Ends the session on every node and forgets it here." },
  ls: { flags: ["limit"], args: [0, 1], argNames: "[pattern]", summary: "Lists accounts whose name matches the glob (* and ?; default every account)." },
  send: { flags: [], args: [1, Number.POSITIVE_INFINITY], argNames: "<to> <message…>", summary: "Sends a message; with no message words it is read from stdin." },
  read: { flags: ["with", "limit"], args: [0, 0], argNames: "", summary: "Shows a conversation (--with), or your unread messages; what is shown is marked read." },
  unread: { flags: [], args: [0, 0], argNames: "", summary: "Who has unread messages for you, how many, and the last one." },
  rm: { flags: [], args: [1, 1000], argNames: "<id…>", summary: "Deletes messages you sent or received, for both sides (ids as shown by read: 12 or #12)." },
  watch: { flags: ["since"], args: [0, 0], argNames: "", summary: "Prints events as they happen, across node failures, until Ctrl+C." },
  "delete-account": { flags: ["password"], args: [0, 0], argNames: "", summary: "Deletes your account and its sessions (asks for the password)." },
};

/** One command's own usage: its arguments, what it does, the options it takes. */
export function chatCommandUsage(command: ChatSubcommand): string {
  const shape = SHAPES[command];
  const flags = shape.flags.map((flag) => FLAG_HELP[flag] ?? "").join("");
  return `usage: concord chat ${command}${shape.argNames === "" ? "" : ` ${shape.argNames}`} [options]\n\n${shape.summary}\n\noptions:\n${flags}${COMMON_OPTIONS}\n${EXIT_STATUS}`;
}

/** What `concord chat … --help` asks for: the whole chat usage, or one command's. */
export interface ChatHelp {
  readonly help: string;
}

/** The command a help request is about: the first word that is not an option or an option's value. */
function helpFor(argv: readonly string[]): ChatHelp {
  const { positionals } = parseArgs({ args: [...argv], strict: false, allowPositionals: true, options: PARSE_OPTIONS });
  const command = positionals[0] === "help" ? positionals[1] : positionals[0];
  return { help: command !== undefined && isSubcommand(command) ? chatCommandUsage(command) : CHAT_USAGE };
}

const PARSE_OPTIONS = {
  nodes: { type: "string" },
  json: { type: "boolean" },
  password: { type: "string" },
  session: { type: "string" },
  with: { type: "string" },
  limit: { type: "string" },
  since: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/** The options of one chat command, or the usage a help request (-h, --help, `help [command]`) asked for. */
export function parseChatOptions(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): ChatOptions | ChatHelp {
  if (wantsHelp(argv)) return helpFor(argv);
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], strict: true, allowPositionals: true, options: PARSE_OPTIONS });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  const [command, ...args] = positionals;
  if (command === "help") return helpFor(argv);
  if (command === undefined) throw new UsageError("which command? (concord chat --help lists them)");
  if (!isSubcommand(command)) throw new UsageError(`unknown command '${command}' (concord chat --help lists them)`);

  const shape = SHAPES[command];
  for (const flag of ["password", "with", "limit", "since"] as const) {
    if (values[flag] !== undefined && !shape.flags.includes(flag)) throw new UsageError(`--${flag} does not apply to '${command}'`);
  }
  const [min, max] = shape.args;
  if (args.length < min || args.length > max) {
    throw new UsageError(shape.argNames === "" ? `'${command}' takes no arguments` : `usage: concord chat ${command} ${shape.argNames}`);
  }

  const nodesText = values.nodes ?? env["CONCORD_NODES"];
  const nodes = nodesText === undefined ? DEFAULT_NODES : nodesText.split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (nodes.length === 0) throw new UsageError("--nodes needs at least one URL");

  return {
    command,
    args,
    nodes,
    json: values.json === true,
    password: values.password ?? null,
    sessionPath: values.session ?? env["CONCORD_SESSION"] ?? defaultSessionPath(env),
    with: values.with ?? null,
    limit: values.limit === undefined ? null : boundedInt(values.limit, "--limit", 1, MAX_LIMIT),
    since: values.since === undefined ? null : boundedInt(values.since, "--since", 0, Number.MAX_SAFE_INTEGER),
  };
}

/** Message ids given to rm. */
export function parseIds(args: readonly string[]): number[] {
  return args.map((arg) => boundedInt(arg.replace(/^#/, ""), "a message id", 1, Number.MAX_SAFE_INTEGER));
}

function defaultSessionPath(env: Readonly<Record<string, string | undefined>>): string {
  const xdg = env["XDG_CONFIG_HOME"];
  if (xdg !== undefined && xdg !== "") return join(xdg, "concord", "session.json");
  const home = env["HOME"] ?? env["USERPROFILE"];
  if (home === undefined || home === "") throw new UsageError("no HOME to keep the session in: pass --session FILE");
  return join(home, ".config", "concord", "session.json");
}

function boundedInt(text: string, name: string, min: number, max: number): number {
  const value = Number(text);
  if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(`${name} must be an integer in ${min}..${max}, got '${text}'`);
  }
  return value;
}

function isSubcommand(text: string): text is ChatSubcommand {
  return (CHAT_COMMANDS as readonly string[]).includes(text);
}
