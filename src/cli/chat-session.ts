// The CLI's session: the token from login, kept between commands in a file only its owner
// can read (the token is as good as the password until logout).
import { chmod, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { ConcordError } from "../client/concord-error.ts";

export interface StoredSession {
  readonly username: string;
  readonly token: string;
  /** The node that last answered, tried first next time (it was alive a moment ago). */
  readonly node: string | null;
}

/** A session file is a few hundred bytes; anything much bigger is not ours. */
const MAX_SESSION_FILE_BYTES = 64 << 10;

export async function loadSession(path: string): Promise<StoredSession | null> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw sessionFileError("cannot read", path, error);
  }
  if (text.length > MAX_SESSION_FILE_BYTES) throw new ConcordError("session_file", `${path} is not a Concord session file (too big)`);
  try {
    const o = JSON.parse(text) as Record<string, unknown>;
    if (typeof o["username"] !== "string" || typeof o["token"] !== "string") throw new Error("no username or token");
    return { username: o["username"], token: o["token"], node: typeof o["node"] === "string" ? o["node"] : null };
  } catch (error) {
    throw new ConcordError("session_file", `${path} is not a Concord session file (${(error as Error).message}); remove it or pass --session`);
  }
}

/** Written to a temporary file and renamed, so a crash never leaves half a session. */
export async function saveSession(path: string, session: StoredSession): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`;
  try {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    await writeFile(temporary, `${JSON.stringify({ ...session, savedAt: new Date().toISOString() }, null, 2)}\n`, { mode: 0o600 });
    // The mode above only applies to a new file; make sure of it.
    await chmod(temporary, 0o600);
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true }).catch(() => {});
    throw sessionFileError("cannot write", path, error);
  }
}

export async function removeSession(path: string): Promise<void> {
  try {
    await rm(path, { force: true });
  } catch (error) {
    throw sessionFileError("cannot remove", path, error);
  }
}

function sessionFileError(what: string, path: string, error: unknown): ConcordError {
  return new ConcordError("session_file", `${what} ${path}: ${(error as Error).message}`);
}
