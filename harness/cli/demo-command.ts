import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { parseScenarioLocated } from "../scenario/parse.ts";
import { askBeforeStep } from "./ask-before-step.ts";
import { EXIT } from "../../src/cli/exit-codes.ts";
import { wantsHelp } from "../../src/cli/help-flag.ts";
import { parseHarnessArgs, runScenario, type HarnessIo } from "./harness-command.ts";

export const DEMO_USAGE = `usage: concord demo [--interactive] [--seed N] [--http-port P]
       concord demo --machine-id 1|2 --peer IP [--tls DIR] [--interactive] [--seed N]

The original demo, on this machine: five nodes, fail two, fail a third, restart them,
with a live table and a sentence at each step saying what should happen and whether it
did. --interactive waits for you at each step: Enter runs it, or type any harness step
(fail 1, partition 1,2 | 3,4,5, status, …) to run that first.

With --machine-id and --peer, the two-machine version: nodes 1-2 run on machine 1 and
3-5 on machine 2, each with its own nats-server joined by a route; a step typed on
either machine acts on the machine that hosts the node. Ports: NATS 4222, routes 6222,
node i's HTTP 8080+i, on --listen (default: the address in this machine's certificate).
NATS connections and routes use TLS with the cluster's certificates; make them once with
concord setup tls --out DIR --machine-1 IP --machine-2 IP, copy DIR/machine-2 to machine 2.

  --tls DIR           the cluster's certificates (default ./concord-tls): DIR/machine-N
                      or this machine's bundle itself
  --scenario FILE     another scenario instead of the original sequence (two machines)
  --link-device DEV   this machine's link to the other: "partition 1,2 | 3,4,5" and "heal"
                      take it down and up (ip link, needs root) instead of the fault hook

exit status: 0 every step did what it said, 7 an expectation or check failed, 1 a step
could not run, 2 usage, 3 the TLS bundle does not fit, 130 quit (concord --help: all)
`;

const DEMO_SCENARIO = fileURLToPath(new URL("../scenarios/original-demo.scn", import.meta.url));

export async function runDemoCommand(argv: string[], io: HarnessIo): Promise<number> {
  if (wantsHelp(argv)) {
    io.out.write(DEMO_USAGE);
    return EXIT.ok;
  }
  let args;
  try {
    args = parseHarnessArgs(argv, DEMO_USAGE, { interactive: { type: "boolean" }, "machine-id": { type: "string" }, peer: { type: "string" }, listen: { type: "string" }, tls: { type: "string" }, "link-device": { type: "string" }, scenario: { type: "string" } });
  } catch (error) {
    io.err(`${(error as Error).message}\n`);
    return EXIT.usage;
  }
  if (args.values["machine-id"] !== undefined) {
    const { runTwoMachineDemo } = await import("./two-machine-demo.ts");
    return runTwoMachineDemo(args, io);
  }
  const steps = parseScenarioLocated(await readFile(DEMO_SCENARIO, "utf8"), "original-demo.scn");
  const rerun = "concord demo";
  if (args.values["interactive"] !== true) return runScenario(steps, args, io, { rerun });
  const input = io.lines();
  try {
    return await runScenario(steps, args, io, { rerun, beforeStep: (located, runner) => askBeforeStep(located, runner, io.out, (prompt) => input.readLine(prompt)) });
  } finally {
    input.close();
  }
}
