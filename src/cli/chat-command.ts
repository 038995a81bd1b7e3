// `concord chat …`: the chat service from a terminal or a script, through the failover
// client. Every subcommand prints one thing: human text, or with --json one JSON document
// (watch: one JSON line per event). Failures print `concord chat: <message> (<code>)` and
// exit with a status from exit-codes.ts, the table every command shares. Besides the API's and
// the client's codes, the CLI reports "usage", "session_file" (the session file cannot be
// read or written) and "interrupted" (Ctrl+C at a password prompt).
import type { ChatMessage } from "../chat/commands.ts";
import { ConcordClient } from "../client/concord-client.ts";
import { ConcordError } from "../client/concord-error.ts";
import { type ChatOptions, parseChatOptions, parseIds } from "./chat-options.ts";
import { formatEvent, formatMessages, formatTime } from "./chat-output.ts";
import { loadSession, removeSession, saveSession, type StoredSession } from "./chat-session.ts";
import type { ChatIo } from "./chat-terminal.ts";
import { EXIT } from "./exit-codes.ts";
import { exitCodeOfClientError } from "./failure-exit.ts";
import { UsageError } from "./node-options.ts";
import { formatTable, printable } from "./text-table.ts";

export type { ChatIo } from "./chat-terminal.ts";

/** API.md: message content is at most 4000 characters; stdin beyond a few times that is a mistake. */
const MAX_STDIN_MESSAGE_CHARS = 16_000;
const PREVIEW_CHARS = 60;

interface Context {
  readonly options: ChatOptions;
  readonly io: ChatIo;
  readonly client: ConcordClient;
  readonly session: StoredSession | null;
  /** Prints the command's one result: `human` as is, or `json` as one JSON line. */
  readonly print: (human: string, json: unknown) => void;
}

export async function runChatCommand(argv: readonly string[], io: ChatIo): Promise<number> {
  // Known before parsing, so even a usage error comes out as JSON when --json was given.
  const json = argv.includes("--json");
  try {
    const options = parseChatOptions(argv, io.env);
    if ("help" in options) {
      io.stdout(options.help);
      return EXIT.ok;
    }
    const session = await loadSession(options.sessionPath);
    const client = new ConcordClient({
      nodes: options.nodes,
      ...(session !== null ? { token: session.token } : {}),
      ...(session !== null && session.node !== null ? { preferredNode: session.node } : {}),
    });
    const print = (human: string, doc: unknown) => io.stdout(options.json ? `${JSON.stringify(doc)}\n` : human);
    const context: Context = { options, io, client, session, print };
    const status = await COMMANDS[options.command](context);
    await rememberNode(context);
    return status;
  } catch (error) {
    return reportError(error, json, io);
  }
}

const COMMANDS: Readonly<Record<ChatOptions["command"], (context: Context) => Promise<number>>> = {
  signup: async ({ options, io, client, print }) => {
    const username = options.args[0]!;
    const password = await askPassword(options, io, `password for the new account ${username}: `, true);
    const account = await client.signup(username, password);
    const session = await client.login(username, password);
    await saveSession(options.sessionPath, { username: session.username, token: session.token, node: client.currentNode });
    print(`signed up and logged in as ${account.username}\n`, { account, session: { username: session.username, unread: session.unread } });
    return 0;
  },

  login: async ({ options, io, client, print }) => {
    const username = options.args[0]!;
    const password = await askPassword(options, io, `password for ${username}: `, false);
    const session = await client.login(username, password);
    await saveSession(options.sessionPath, { username: session.username, token: session.token, node: client.currentNode });
    print(`logged in as ${session.username} (${plural(session.unread, "unread message")})\n`, { username: session.username, unread: session.unread });
    return 0;
  },

  logout: async ({ options, client, session, print }) => {
    if (session === null) {
      print("not logged in\n", { loggedOut: false });
      return 0;
    }
    // If no node can be reached the token stays valid on the server, so the file stays too:
    // the user can run logout again.
    await client.logout();
    await removeSession(options.sessionPath);
    print(`logged out ${session.username}\n`, { loggedOut: true, username: session.username });
    return 0;
  },

  ls: async (context) => {
    requireSession(context);
    const { options, client, print } = context;
    const page = await client.listAccounts({
      ...(options.args[0] !== undefined ? { pattern: options.args[0] } : {}),
      ...(options.limit !== null ? { limit: options.limit } : {}),
    });
    const table = page.accounts.length === 0 ? "no accounts match\n" : formatTable(page.accounts.map((a) => [a.username, formatTime(a.createdAt)]), ["USERNAME", "CREATED"]);
    const more = page.accounts.length < page.total ? ` (--limit ${Math.min(200, page.total)} shows more)` : "";
    print(`${table}${page.accounts.length} of ${plural(page.total, "account")}${more}\n`, page);
    return 0;
  },

  send: async (context) => {
    requireSession(context);
    const { options, io, client, print } = context;
    const [to, ...words] = options.args as [string, ...string[]];
    let content = words.join(" ");
    if (words.length === 0) {
      if (io.interactive) throw new UsageError("usage: concord chat send <to> <message…> (or pipe the message in)");
      content = (await io.readAll(MAX_STDIN_MESSAGE_CHARS)).replace(/\r?\n$/, "");
    }
    const message = await client.send(to, content);
    print(`sent #${message.id} to ${message.to}\n`, message);
    return 0;
  },

  read: async (context) => {
    const session = requireSession(context);
    const { options, client, print } = context;
    const limit = options.limit !== null ? { limit: options.limit } : {};
    const other = options.with;
    const page = other !== null ? await client.conversation(other, limit) : await client.unread(limit);
    // Reading is what marks messages read: exactly the ones shown that were sent to me.
    const shownUnread = page.messages.filter((m) => m.to === session.username && m.readAt === null && (other === null || m.from === other));
    let marked = 0;
    if (shownUnread.length > 0) {
      const target = other !== null ? { with: other, upTo: Math.max(...shownUnread.map((m) => m.id)) } : shownUnread.map((m) => m.id);
      marked = (await client.markRead(target)).marked;
    }
    const human = other === null && page.messages.length === 0 ? "no unread messages\n" : formatMessages(page.messages, session.username);
    print(`${human}${marked > 0 ? `marked ${plural(marked, "message")} read\n` : ""}`, { ...page, marked });
    return 0;
  },

  unread: async (context) => {
    requireSession(context);
    const { client, print } = context;
    const conversations = (await client.conversations()).conversations.filter((c) => c.unread > 0);
    const total = conversations.reduce((sum, c) => sum + c.unread, 0);
    const human =
      conversations.length === 0
        ? "no unread messages\n"
        : formatTable(conversations.map((c) => [c.with, String(c.unread), preview(c.lastMessage)]), ["FROM", "UNREAD", "LAST MESSAGE"]);
    print(human, { conversations, unread: total });
    return 0;
  },

  rm: async (context) => {
    requireSession(context);
    const { options, io, client, print } = context;
    const result = await client.deleteMessages(parseIds(options.args));
    const deleted = result.deleted.length === 0 ? "" : `deleted ${result.deleted.map((id) => `#${id}`).join(" ")}\n`;
    print(deleted, result);
    if (result.notFound.length === 0) return 0;
    // Like rm(1): what could not be deleted is an error, reported after what was done.
    io.stderr(`concord chat: no message ${result.notFound.map((id) => `#${id}`).join(" ")} that you sent or received (not_found)\n`);
    return EXIT.failed;
  },

  watch: async (context) => {
    requireSession(context);
    const { options, io, client } = context;
    const subscription = client.events({
      ...(options.since !== null ? { lastEventId: options.since } : {}),
      onEvent: (event) => io.stdout(options.json ? `${JSON.stringify({ id: event.id, type: event.type, data: event.data })}\n` : formatEvent(event)),
      onStatus: (status) => {
        // Progress goes to stderr: stdout carries only events.
        if (status.state === "connected") io.stderr(`watching via ${status.node}\n`);
        if (status.state === "reconnecting") io.stderr(`lost ${status.node} (${status.error?.message ?? "closed"}); reconnecting\n`);
      },
    });
    io.onInterrupt(() => subscription.close());
    const error = await subscription.closed;
    if (error !== null) throw error;
    return 0;
  },

  "delete-account": async (context) => {
    const session = requireSession(context);
    const { options, io, client, print } = context;
    const password = await askPassword(options, io, `password of ${session.username}, to delete the account: `, false);
    await client.deleteAccount(password);
    await removeSession(options.sessionPath);
    print(`account ${session.username} deleted\n`, { deleted: session.username });
    return 0;
  },
};

function requireSession(context: Context): StoredSession {
  if (context.session === null) throw new ConcordError("not_signed_in", "not logged in: run 'concord chat login <username>' first");
  return context.session;
}

async function askPassword(options: ChatOptions, io: ChatIo, prompt: string, confirm: boolean): Promise<string> {
  if (options.password !== null) return options.password;
  const password = await io.readSecret(prompt);
  if (password === "") throw new UsageError("no password given");
  if (confirm && io.interactive && (await io.readSecret("again: ")) !== password) throw new UsageError("the two passwords differ");
  return password;
}

/** The next command starts at the node that answered this one (it was alive a moment ago). */
async function rememberNode({ options, client, session }: Context): Promise<void> {
  if (session === null || session.node === client.currentNode || options.command === "logout" || options.command === "delete-account") return;
  const current = await loadSession(options.sessionPath).catch(() => null);
  // Only an unchanged session is updated: login in between wrote a newer one.
  if (current?.token !== session.token) return;
  // A hint only: failing to save it must not fail a command that worked.
  await saveSession(options.sessionPath, { ...session, node: client.currentNode }).catch(() => {});
}

function reportError(error: unknown, json: boolean, io: ChatIo): number {
  let code: string;
  let status: number;
  if (error instanceof UsageError) {
    code = "usage";
    status = EXIT.usage;
  } else if (error instanceof ConcordError) {
    code = error.code;
    status = exitCodeOfClientError(error);
  } else {
    throw error; // a bug, not a failure to report: main prints the stack
  }
  const message = error.message.split("\n")[0] ?? "";
  if (json) io.stdout(`${JSON.stringify({ error: { code, message, ...(error instanceof ConcordError ? { status: error.status } : {}) } })}\n`);
  io.stderr(`concord chat: ${printable(message)} (${code})\n`);
  if (code === "usage") io.stderr("run 'concord chat --help' for usage\n");
  return status;
}

function preview(message: ChatMessage): string {
  const line = message.content.replace(/\s+/g, " ").trim();
  return line.length <= PREVIEW_CHARS ? line : `${line.slice(0, PREVIEW_CHARS - 1)}…`;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}
