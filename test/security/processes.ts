import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

// What any local user can look at: other processes' /proc entries and the files they
// may read. Helpers for the attacker tests.

/** Which of `secrets` occur in `bytes` (a command line, an environment, a log). */
export function secretsIn(bytes: Buffer, secrets: readonly string[]): string[] {
  const text = bytes.toString("utf8");
  // Report which secret, never the secret itself, so a failure prints nothing to steal.
  return secrets.flatMap((s, i) => (text.includes(s) ? [`secret #${i} (${s.length} chars)`] : []));
}

/** Every file and directory under `dir` (not following symlinks). */
export function* walk(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    yield path;
    if (entry.isDirectory()) yield* walk(path);
  }
}

/** The pids of every live process descended from `root` (children, their children, …). */
export function descendants(root: number): number[] {
  const parents = new Map<number, number>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // pid (comm) state ppid …; comm may hold spaces and parentheses: split after the last ')'.
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      parents.set(Number(name), ppid);
    } catch {
      // gone meanwhile
    }
  }
  const found: number[] = [];
  const frontier = [root];
  while (frontier.length > 0) {
    const parent = frontier.pop()!;
    for (const [pid, ppid] of parents) {
      if (ppid === parent) {
        found.push(pid);
        frontier.push(pid);
      }
    }
  }
  return found;
}

/** `count` consecutive ports free on 127.0.0.1 right now (cluster up's node i takes base+i-1). */
export async function freePortRange(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 40_000);
    const servers: import("node:net").Server[] = [];
    let ok = true;
    for (let i = 0; i < count && ok; i++) {
      const { createServer } = await import("node:net");
      const server = createServer();
      ok = await new Promise<boolean>((resolve) => {
        server.once("error", () => resolve(false));
        server.listen(base + i, "127.0.0.1", () => resolve(true));
      });
      if (ok) servers.push(server);
    }
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    if (ok) return base;
  }
  throw new Error(`no ${count} consecutive free ports`);
}
