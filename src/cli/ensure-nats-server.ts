import { MissingPackagesError, NATS_SERVER, ensureDebianPackages, hostSystem } from "./ensure-debian-packages.ts";
import { NatsServerMissingError } from "./nats-server-process.ts";

/**
 * Find nats-server, or install Debian's package when we can (root with apt-get): what
 * `concord cluster up` (npm start) needs. Returns the binary's path; throws
 * NatsServerMissingError saying how to get it.
 */
export async function ensureNatsServer(progress: (line: string) => void): Promise<string> {
  try {
    const { found } = await ensureDebianPackages([NATS_SERVER], hostSystem(), progress);
    const path = found.get(NATS_SERVER.name);
    if (path === undefined) throw new Error("nats-server: ensureDebianPackages returned no path");
    return path;
  } catch (error) {
    if (error instanceof MissingPackagesError) throw new NatsServerMissingError(error.message);
    throw error;
  }
}
