import { parseArgs } from "node:util";
import { MissingPackagesError, type SetupSystem, type SetupTarget, ensureDebianPackages, packagesFor } from "./ensure-debian-packages.ts";
import { EXIT } from "./exit-codes.ts";
import { wantsHelp } from "./help-flag.ts";
import { UsageError } from "./node-options.ts";

export const SETUP_USAGE = `usage: concord setup [--for run|tests] [--quiet] [-h|--help]
       concord setup tls …   the certificates of a two-machine cluster (concord setup tls --help)

Installs what Concord needs on this machine, or says how. Missing programs come from
Debian's packages: as root with apt-get, setup runs apt-get update once, installs them in
one apt-get install, and disables the nats-server system service the package starts
(Concord runs its own). Anyone else gets the one command to run as root, and nothing is
changed.

  --for run     nats-server: what \`npm start\` (concord cluster up) runs (the default)
  --for tests   also chromium (test/e2e), etcd-server (the bench:vs-etcd smoke test),
                openssl (TLS certificates) and, as root, iproute2 (\`ip\`, for the tests in network namespaces,
                which only root runs): what \`npm test\` needs
  --quiet       print nothing when everything is installed already

Exit status: 0 when everything is installed, 4 when something is missing and setup cannot
install it (the message says how), 2 on a usage mistake.
`;

export interface SetupIo {
  stdout(text: string): void;
  stderr(text: string): void;
}

/** `concord setup`: exit 0 with everything installed, 4 when something is missing, 2 on a usage mistake. */
export async function runSetupCommand(argv: readonly string[], io: SetupIo, system: SetupSystem): Promise<number> {
  if (argv[0] === "tls") {
    const { runSetupTls } = await import("./setup-tls-command.ts");
    return runSetupTls(argv.slice(1));
  }
  if (wantsHelp(argv)) {
    io.stdout(SETUP_USAGE);
    return EXIT.ok;
  }
  let values;
  try {
    values = parseArgs({ args: [...argv], strict: true, options: { for: { type: "string", default: "run" }, quiet: { type: "boolean", default: false } } }).values;
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n\n${SETUP_USAGE}`);
  }
  const target = values.for;
  if (target !== "run" && target !== "tests") throw new UsageError(`--for is run or tests, not '${target}'\n\n${SETUP_USAGE}`);
  const packages = packagesFor(target satisfies SetupTarget, system.isRoot);
  let result;
  try {
    result = await ensureDebianPackages(packages, system, (line) => io.stderr(`${line}\n`));
  } catch (error) {
    if (!(error instanceof MissingPackagesError)) throw error;
    io.stderr(`concord setup: ${error.message}\n`);
    return EXIT.missingDependency;
  }
  if (!values.quiet) {
    for (const pkg of packages) {
      io.stdout(`${pkg.name}: ${result.found.get(pkg.name)} (${result.installed.includes(pkg.name) ? "installed now" : "already installed"})\n`);
    }
  }
  return EXIT.ok;
}
