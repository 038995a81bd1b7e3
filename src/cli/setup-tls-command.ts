import { parseArgs } from "node:util";
import { EXIT } from "./exit-codes.ts";
import { wantsHelp } from "./help-flag.ts";
import { UsageError } from "./node-options.ts";
import { TlsBundleError, createTwoMachineBundles } from "./tls-bundle.ts";

const USAGE = `usage: concord setup tls --machine-1 ADDRESS --machine-2 ADDRESS [--out DIR]

Makes the certificates of a two-machine cluster (concord demo --machine-id): a CA made
for this cluster, one certificate per machine naming its address, a shared route secret
and admin token. Writes DIR/machine-1 and DIR/machine-2 (default DIR: ./concord-tls);
copy DIR/machine-2 to machine 2 at the same path (each machine needs only its own), then
run the demo on both with --tls DIR. The CA's private key is not kept.
`;

/** `concord setup tls`: exit 0 with the bundles written, 2 on a usage mistake, 3 when refused. */
export function runSetupTls(argv: string[]): number {
  if (wantsHelp(argv)) {
    process.stdout.write(USAGE);
    return EXIT.ok;
  }
  let values;
  try {
    values = parseArgs({ args: argv, strict: true, options: { out: { type: "string", default: "./concord-tls" }, "machine-1": { type: "string" }, "machine-2": { type: "string" } } }).values;
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n\n${USAGE}`);
  }
  const one = values["machine-1"];
  const two = values["machine-2"];
  if (one === undefined || two === undefined || one === two) throw new UsageError(`--machine-1 and --machine-2 are the two machines' addresses\n\n${USAGE}`);
  for (const address of [one, two]) {
    if (address === "0.0.0.0" || address === "::") throw new UsageError(`${address} is every interface: name the address the other machine reaches this one at`);
  }
  try {
    const made = createTwoMachineBundles(values.out, { 1: one, 2: two });
    process.stdout.write(`wrote ${made.join(" and ")}\ncopy ${made[1]} to machine 2 (same path), then on each: concord demo --machine-id N --peer <other address> --tls ${values.out}\n`);
    return EXIT.ok;
  } catch (error) {
    if (!(error instanceof TlsBundleError)) throw error;
    process.stderr.write(`concord: ${error.message} (${error.code})\n`);
    return EXIT.refused;
  }
}
