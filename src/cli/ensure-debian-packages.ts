import { existsSync } from "node:fs";
import { join } from "node:path";

// What `concord setup` installs: the programs Concord runs (nats-server) and the ones its
// tests drive (Chromium for test/e2e, etcd for the vs-etcd smoke test, openssl for TLS
// certificates, `ip` for the tests in network namespaces), as Debian packages.
// Root with apt-get: refresh the package lists once, install everything missing in one
// `apt-get install`, and disable the system service a package starts (Concord runs its
// own nats-server). Anyone else: stop before doing anything, naming the one command that
// installs what is missing. The decision (`planSetup`) is pure; the system it looks at and
// the commands it runs come in through `SetupSystem`, so tests run no apt.

/** The machine as setup sees it. */
export interface SetupSystem {
  readonly isRoot: boolean;
  env(name: string): string | undefined;
  exists(path: string): boolean;
  /** Runs a command (stdin closed, DEBIAN_FRONTEND=noninteractive); resolves to its exit code. */
  run(command: readonly string[]): Promise<number>;
}

/** A program Concord needs and the Debian package that has it. */
export interface DebianPackage {
  /** The Debian package name. */
  readonly name: string;
  /** The program's path if it is installed, else null. */
  find(system: SetupSystem): string | null;
  /** A system service the package enables that must not run (it would hold a port Concord uses). */
  readonly disableService?: string;
}

/** Directories searched for a program: PATH, then the sbin directories a non-login shell may lack. */
function searchDirs(system: SetupSystem): string[] {
  const path = (system.env("PATH") ?? "").split(":").filter(Boolean);
  return [...path, "/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/local/bin", "/usr/bin", "/bin"];
}

/** The first of `$envVar` (when set and present) and `candidates` (absolute paths, or names searched for in PATH) that exists. */
export function findProgram(system: SetupSystem, envVar: string | null, candidates: readonly string[]): string | null {
  const fromEnv = envVar === null ? undefined : system.env(envVar);
  if (fromEnv !== undefined && fromEnv !== "" && system.exists(fromEnv)) return fromEnv;
  for (const candidate of candidates) {
    const paths = candidate.startsWith("/") ? [candidate] : searchDirs(system).map((dir) => join(dir, candidate));
    const found = paths.find((path) => system.exists(path));
    if (found !== undefined) return found;
  }
  return null;
}

export const NATS_SERVER: DebianPackage = {
  name: "nats-server",
  find: (system) => findProgram(system, "NATS_SERVER_BIN", ["nats-server"]),
  disableService: "nats-server",
};

/** Where test/e2e looks for Chromium (browser.ts): the same places, in the same order. */
export const CHROMIUM_CANDIDATES = ["/usr/lib/chromium/chromium", "/usr/bin/chromium"] as const;

const CHROMIUM: DebianPackage = {
  name: "chromium",
  find: (system) => findProgram(system, "CHROMIUM_PATH", CHROMIUM_CANDIDATES),
};

const IPROUTE2: DebianPackage = {
  name: "iproute2",
  find: (system) => findProgram(system, null, ["ip"]),
};

/** openssl makes the certificates of TLS clusters (tls-bundle.ts: setup tls, init, the TLS tests). */
const OPENSSL: DebianPackage = {
  name: "openssl",
  find: (system) => findProgram(system, null, ["openssl"]),
};

/** etcd, for bench:vs-etcd and its smoke test; the package's service would hold 2379/2380. */
export const ETCD_SERVER: DebianPackage = {
  name: "etcd-server",
  find: (system) => findProgram(system, "ETCD_BIN", ["etcd"]),
  disableService: "etcd",
};

/** What setup is for: running Concord (`npm start`), or also its tests (`npm test`). */
export type SetupTarget = "run" | "tests";

/**
 * The packages a target needs. The tests drive Chromium (test/e2e), etcd (the
 * bench:vs-etcd smoke test) and openssl (the TLS certificate tests, a slim Debian lacks
 * it); `ip` only matters to root, since the tests in network namespaces (two and five
 * machines) are skipped for anyone else.
 */
export function packagesFor(target: SetupTarget, isRoot: boolean): DebianPackage[] {
  if (target === "run") return [NATS_SERVER];
  const forTests = [NATS_SERVER, CHROMIUM, ETCD_SERVER, OPENSSL];
  return isRoot ? [...forTests, IPROUTE2] : forTests;
}

/** The one shell line that installs `missing` as root (and stops the services they start). */
export function installCommandLine(missing: readonly DebianPackage[]): string {
  const install = `sudo apt-get install -y --no-install-recommends ${missing.map((p) => p.name).join(" ")}`;
  const services = missing.flatMap((p) => (p.disableService === undefined ? [] : [`sudo systemctl disable --now ${p.disableService}`]));
  return [install, ...services].join(" && ");
}

export type SetupPlan =
  /** Everything is here: package name → program path. */
  | { readonly kind: "ready"; readonly found: ReadonlyMap<string, string> }
  /** Root with apt-get: install these. */
  | { readonly kind: "install"; readonly found: ReadonlyMap<string, string>; readonly missing: readonly DebianPackage[] }
  /** We cannot install: the message names what is missing and the command that installs it. */
  | { readonly kind: "tell"; readonly missing: readonly DebianPackage[]; readonly message: string };

/** Decides what setup does: nothing, install the missing packages, or tell the user how. */
export function planSetup(packages: readonly DebianPackage[], system: SetupSystem): SetupPlan {
  const found = new Map<string, string>();
  const missing: DebianPackage[] = [];
  for (const pkg of packages) {
    const path = pkg.find(system);
    if (path === null) missing.push(pkg);
    else found.set(pkg.name, path);
  }
  if (missing.length === 0) return { kind: "ready", found };
  const names = missing.map((p) => p.name).join(", ");
  const hasApt = findProgram(system, null, ["apt-get"]) !== null;
  if (!hasApt) {
    return { kind: "tell", missing, message: `missing: ${names}. This machine has no apt-get: install ${missing.length === 1 ? "it" : "them"} with its package manager.` };
  }
  if (!system.isRoot) {
    return { kind: "tell", missing, message: `missing: ${names}. Install ${missing.length === 1 ? "it" : "them"} as root, then run this again:\n  ${installCommandLine(missing)}` };
  }
  return { kind: "install", found, missing };
}

/** Setup cannot get what is needed: the message says what is missing and how to get it. */
export class MissingPackagesError extends Error {
  override readonly name = "MissingPackagesError";
  constructor(
    message: string,
    readonly missing: readonly string[],
  ) {
    super(message);
  }
}

/**
 * Makes sure `packages` are installed: finds them, or installs the missing ones (root
 * with apt-get: `apt-get update` once, one `apt-get install`, then disables the services
 * they start). Returns package name → program path, and the packages it installed; throws
 * MissingPackagesError when it cannot (not root, no apt-get, or apt failed).
 */
export async function ensureDebianPackages(
  packages: readonly DebianPackage[],
  system: SetupSystem,
  progress: (line: string) => void,
): Promise<{ readonly found: Map<string, string>; readonly installed: readonly string[] }> {
  const plan = planSetup(packages, system);
  if (plan.kind === "ready") return { found: new Map(plan.found), installed: [] };
  if (plan.kind === "tell") throw new MissingPackagesError(plan.message, plan.missing.map((p) => p.name));
  const names = plan.missing.map((p) => p.name);
  const fail = (what: string) =>
    new MissingPackagesError(`missing: ${names.join(", ")}; ${what}. Try by hand:\n  ${installCommandLine(plan.missing).replaceAll("sudo ", "")}`, names);
  progress(`installing Debian's ${names.join(", ")} (apt-get update, then apt-get install) …`);
  if ((await system.run(["apt-get", "update"])) !== 0) throw fail("apt-get update failed");
  if ((await system.run(["apt-get", "install", "-y", "--no-install-recommends", ...names])) !== 0) throw fail("apt-get install failed");
  for (const pkg of plan.missing) {
    // The package may start a system service (nats-server on the default port); Concord runs its own.
    // No systemd (a container) means no service was started.
    if (pkg.disableService !== undefined && findProgram(system, null, ["systemctl"]) !== null) {
      await system.run(["systemctl", "disable", "--now", pkg.disableService]);
    }
  }
  const found = new Map(plan.found);
  for (const pkg of plan.missing) {
    const path = pkg.find(system);
    if (path === null) throw fail(`apt-get installed it, but ${pkg.name}'s program is still not found`);
    found.set(pkg.name, path);
  }
  progress(`installed ${names.join(", ")}`);
  return { found, installed: names };
}

/** This machine: the real process, file system and commands. */
export function hostSystem(): SetupSystem {
  return {
    isRoot: process.getuid?.() === 0,
    env: (name) => process.env[name],
    exists: existsSync,
    run: async (command) => {
      const child = Bun.spawn([...command], { stdin: "ignore", stdout: "ignore", stderr: "inherit", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
      return child.exited;
    },
  };
}
