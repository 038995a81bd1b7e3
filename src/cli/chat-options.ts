import { join } from "node:path";
import { parseArgs } from "node:util";
import { UsageError } from "./node-options.ts";

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
  --nodes URL,URL…   the nodes to talk to (default http://127.0.0.1:8081 … 8085)
                                                              env CONCORD_NODES
  --json             machine-readable output: one JSON document (watch: one JSON
                     line per event); errors as {"error": {code, message}}
  --password P       instead of asking (asked on a terminal, else read from stdin)
  --session FILE     where the session is kept
                     (default ~/.config/concord/session.json)  env CONCORD_SESSION

exit status: 0 ok, 1 failed, 2 usage, 3 not logged in or wrong password,
4 no node could serve the request
`;

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
const SHAPES: Readonly<Record<ChatSubcommand, { flags: readonly string[]; args: readonly [min: number, max: number]; argNames: string }>> = {
  signup: { flags: ["password"], args: [1, 1], argNames: "<username>" },
  login: { flags: ["password"], args: [1, 1], argNames: "<username>" },
  logout: { flags: [], args: [0, 0], argNames: "" },
  ls: { flags: ["limit"], args: [0, 1], argNames: "[pattern]" },
  send: { flags: [], args: [1, Number.POSITIVE_INFINITY], argNames: "<to> <message…>" },
  read: { flags: ["with", "limit"], args: [0, 0], argNames: "" },
  unread: { flags: [], args: [0, 0], argNames: "" },
  rm: { flags: [], args: [1, 1000], argNames: "<id…>" },
  watch: { flags: ["since"], args: [0, 0], argNames: "" },
  "delete-account": { flags: ["password"], args: [0, 0], argNames: "" },
};

/** `null` means --help was asked for. */
export function parseChatOptions(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): ChatOptions | null {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: true,
      options: {
        nodes: { type: "string" },
        json: { type: "boolean" },
        password: { type: "string" },
        session: { type: "string" },
        with: { type: "string" },
        limit: { type: "string" },
        since: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  const [command, ...args] = positionals;
  if (values.help === true || command === "help") return null;
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
