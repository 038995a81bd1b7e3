// The real terminal behind `concord chat`: stdout, stderr, stdin, signals. Kept apart from
// chat-command.ts so tests run the command against an in-memory ChatIo instead.
import { ConcordError } from "../client/concord-error.ts";

export interface ChatIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Whether prompts can be shown (stdin is a terminal). */
  readonly interactive: boolean;
  /** A password: typed without echo on a terminal, else the next line of stdin. */
  readonly readSecret: (prompt: string) => Promise<string>;
  /** All of stdin, at most `maxChars` characters. */
  readonly readAll: (maxChars: number) => Promise<string>;
  /** Calls `handler` on Ctrl+C or SIGTERM. */
  readonly onInterrupt: (handler: () => void) => void;
}

/** A password line longer than this is not a password. */
const MAX_SECRET_CHARS = 4096;

export function processChatIo(onSignal: (signal: "SIGINT" | "SIGTERM", handler: () => void) => void): ChatIo {
  const interactive = process.stdin.isTTY === true;
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    env: process.env,
    interactive,
    readSecret: (prompt) => (interactive ? readHidden(prompt) : readLine()),
    readAll,
    onInterrupt: (handler) => {
      onSignal("SIGINT", handler);
      onSignal("SIGTERM", handler);
    },
  };
}

/** Raw mode, so the terminal does not echo; the prompt goes to stderr to keep stdout clean. */
function readHidden(prompt: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.resume();
  return new Promise<string>((resolve, reject) => {
    let secret = "";
    const finish = (error: ConcordError | null) => {
      stdin.off("data", onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write("\n");
      if (error === null) resolve(secret);
      else reject(error);
    };
    const onData = (chunk: Buffer) => {
      for (const char of chunk.toString("utf8")) {
        if (char === "\r" || char === "\n" || char === "\u0004") return finish(null);
        // Raw mode turns Ctrl+C into a byte instead of a signal.
        if (char === "\u0003") return finish(new ConcordError("interrupted", "interrupted"));
        if (char === "\u007f" || char === "\b") secret = secret.slice(0, -1);
        else if (char >= " " && secret.length < MAX_SECRET_CHARS) secret += char;
      }
    };
    stdin.on("data", onData);
  });
}

async function readLine(): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  for await (const chunk of process.stdin) {
    text += decoder.decode(chunk as Buffer, { stream: true });
    const end = text.indexOf("\n");
    if (end !== -1) return text.slice(0, end).replace(/\r$/, "");
    if (text.length > MAX_SECRET_CHARS) break;
  }
  if (text.length > MAX_SECRET_CHARS) throw new ConcordError("invalid_argument", `a password line longer than ${MAX_SECRET_CHARS} characters`);
  return text.replace(/\r$/, "");
}

async function readAll(maxChars: number): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  for await (const chunk of process.stdin) {
    text += decoder.decode(chunk as Buffer, { stream: true });
    if (text.length > maxChars) throw new ConcordError("invalid_argument", `more than ${maxChars} characters on stdin`);
  }
  return text + decoder.decode();
}
