import { findNatsServer, NatsServerMissingError } from "./nats-server-process.ts";

/**
 * Find nats-server, or install Debian's package when we can (root with apt-get).
 * Returns the binary's path; throws NatsServerMissingError saying how to get it.
 */
export async function ensureNatsServer(progress: (line: string) => void): Promise<string> {
  try {
    return findNatsServer();
  } catch (error) {
    if (!(error instanceof NatsServerMissingError)) throw error;
    const canInstall = process.getuid?.() === 0 && Bun.which("apt-get") !== null;
    if (!canInstall) throw error;
    progress("nats-server is missing; installing Debian's package (apt-get install -y nats-server) …");
    const install = () => run(["apt-get", "install", "-y", "--no-install-recommends", "nats-server"]);
    if ((await install()) !== 0) {
      progress("refreshing package lists (apt-get update) …");
      await run(["apt-get", "update"]);
      if ((await install()) !== 0) throw error;
    }
    // The package starts a system service on the default port; Concord runs its own.
    if (Bun.which("systemctl") !== null) await run(["systemctl", "disable", "--now", "nats-server"]);
    progress("nats-server installed");
    return findNatsServer();
  }
}

async function run(command: string[]): Promise<number> {
  const child = Bun.spawn(command, { stdin: "ignore", stdout: "ignore", stderr: "inherit", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  return child.exited;
}
