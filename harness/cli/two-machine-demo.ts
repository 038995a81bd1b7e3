import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { NatsConnection } from "@nats-io/transport-node";
import { EXIT } from "../../src/cli/exit-codes.ts";
import { NatsServer } from "../../src/cli/nats-server-process.ts";
import { TlsBundleError, loadTlsBundle, type TlsBundle } from "../../src/cli/tls-bundle.ts";
import { readSecretFile } from "../../src/transport/nats-identity.ts";
import { formatStep, parseLine, parseScenarioLocated } from "../scenario/parse.ts";
import type { LocatedStep } from "../scenario/steps.ts";
import { ScenarioRunner, StepFailure, type PeerMachine } from "../runner/scenario-runner.ts";
import { StatusBoard, type Output } from "../runner/status-board.ts";
import { askBeforeStep } from "./ask-before-step.ts";
import { runScenario, type HarnessIo, type ParsedHarnessArgs } from "./harness-command.ts";
import { DriverRequests, answerDriver, busSubject, harnessIdentity, harnessPermissions, isDriverReply, type BusSubject } from "./two-machine-bus.ts";

// The original two-machine demo: machine 1 hosts nodes 1-2, machine 2 hosts nodes 3-5.
// Each machine runs a nats-server, joined to the other's by a route, and its nodes connect
// to their local server. Machine 1 drives the scenario; a step that touches machine 2's
// nodes is sent to machine 2's harness over NATS (request/reply: the step is done there
// when the reply comes). Lines typed at machine 2's prompt go to machine 1, so an operator
// can type on either machine.
//
// Trust: both nats-servers listen only on the address the machine's certificate names
// (`concord setup tls`), speak TLS to clients and to each other, and accept a route only
// from a server holding a certificate of the cluster's CA and the route secret (verified
// both ways). Nodes log in with their own nkeys; each harness with an identity of its own,
// limited to its side of their exchange (two-machine-bus.ts; no allow_responses). The
// admin token is the cluster's, from the bundle, on both machines.

const CLUSTER = "concord";
const NATS_PORT = 4222;
const ROUTE_PORT = 6222;
/** Node i listens on HTTP_PORT_BASE + i - 1 on both machines. */
const HTTP_PORT_BASE = 8081;
const HOSTS: Readonly<Record<1 | 2, readonly number[]>> = { 1: [1, 2], 2: [3, 4, 5] };
const PEER_WAIT_MS = 300_000;
const STEP_TIMEOUT_MS = 180_000;
const DEMO_SCENARIO = fileURLToPath(new URL("../scenarios/original-demo.scn", import.meta.url));

const subject = (name: BusSubject) => busSubject(CLUSTER, name);

interface StepReply {
  readonly ok: boolean;
  readonly message: string;
}

export async function runTwoMachineDemo(args: ParsedHarnessArgs & { values: Record<string, string | boolean | undefined> }, io: HarnessIo): Promise<number> {
  const machine = Number(args.values["machine-id"]);
  const peerIp = args.values["peer"];
  if ((machine !== 1 && machine !== 2) || typeof peerIp !== "string" || peerIp === "") {
    io.err("two machines need --machine-id 1 or 2 and --peer <ip of the other machine>\n");
    return EXIT.usage;
  }
  let bundle: TlsBundle;
  try {
    bundle = loadTlsBundle(typeof args.values["tls"] === "string" ? args.values["tls"] : "./concord-tls", machine);
  } catch (error) {
    if (!(error instanceof TlsBundleError)) throw error;
    io.err(`${error.message} (${error.code})\n`);
    return EXIT.refused;
  }
  const listen = typeof args.values["listen"] === "string" ? args.values["listen"] : bundle.address;
  if (listen !== bundle.address) {
    io.err(`--listen ${listen}, but machine ${machine}'s certificate names ${bundle.address}: listen there, or make the bundle for ${listen} (tls_bundle_mismatch)\n`);
    return EXIT.refused;
  }
  if (peerIp !== bundle.peer) {
    io.err(`--peer ${peerIp}, but the bundle's other machine is ${bundle.peer} (tls_bundle_mismatch)\n`);
    return EXIT.refused;
  }
  const linkDevice = typeof args.values["link-device"] === "string" ? args.values["link-device"] : null;
  const dir = await mkdtemp(join(tmpdir(), `concord-demo-m${machine}-`));
  const hosted = HOSTS[machine];
  const remote = HOSTS[machine === 1 ? 2 : 1];
  io.out.write(`machine ${machine}: nodes ${hosted.join(", ")} here; nodes ${remote.join(", ")} on ${peerIp}\n`);
  io.out.write(`starting nats-server on ${listen}:${NATS_PORT}, route to ${peerIp}:${ROUTE_PORT} …\n`);
  const nats = await NatsServer.start({
    cluster: CLUSTER,
    nodeIds: [1, 2, 3, 4, 5, 6, 7, 8, 9],
    port: NATS_PORT,
    dir: join(dir, "nats"),
    host: listen,
    tls: { caFile: bundle.caFile, certFile: bundle.certFile, keyFile: bundle.keyFile },
    routes: { port: ROUTE_PORT, peers: [`${peerIp}:${ROUTE_PORT}`], secretFile: bundle.routeSecretFile },
    // This machine's harness keeps in step with the other's on their own subjects and nothing else.
    guests: { [harnessIdentity(machine)]: harnessPermissions(CLUSTER, machine) },
  });
  let bus: NatsConnection | null = null;
  try {
    bus = await nats.connectAs(harnessIdentity(machine), { name: `concord-harness-${machine}` });
    const clusterOptions = {
      adminToken: readSecretFile(bundle.adminTokenFile, "admin token"),
      hosted,
      remoteUrls: new Map(remote.map((id) => [id, `http://${peerIp}:${HTTP_PORT_BASE + id - 1}`])),
      nats,
      dir: join(dir, "cluster"),
      httpHost: listen,
      httpPortBase: HTTP_PORT_BASE,
    };
    if (machine === 2) return await followSteps(bus, args, io, clusterOptions);
    return await driveSteps(bus, args, io, clusterOptions, linkDevice);
  } finally {
    await bus?.drain().catch(() => {});
    await nats.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

type ClusterOptions = ConstructorParameters<typeof ScenarioRunner>[0]["cluster"];

/** Machine 1: run the scenario, sending machine 2 its part of each step. */
async function driveSteps(bus: NatsConnection, args: ParsedHarnessArgs & { values: Record<string, string | boolean | undefined> }, io: HarnessIo, cluster: ClusterOptions, linkDevice: string | null): Promise<number> {
  const file = typeof args.values["scenario"] === "string" ? args.values["scenario"] : DEMO_SCENARIO;
  const steps = parseScenarioLocated(await readFile(file, "utf8"), file);
  const machine2 = new DriverRequests(bus, CLUSTER);
  io.out.write("waiting for machine 2's harness …\n");
  await waitForPeer(machine2, io);
  io.out.write("machine 2 is ready\n");
  // Narration is shown on both machines.
  const mirrored: HarnessIo = { ...io, out: mirror(io.out, (text) => bus.publish(subject("print"), text)) };
  let linkCut = false;
  const peer: PeerMachine = {
    run: async (step) => {
      // A partition along the machine boundary is a real link cut when we own the link.
      if (linkDevice !== null && (step.kind === "partition" || step.kind === "heal")) {
        const cut = step.kind === "partition" && splitsMachines(step.groups);
        if (cut || (step.kind === "heal" && linkCut)) {
          setLink(linkDevice, cut ? "down" : "up");
          linkCut = cut;
          mirrored.out.write(`  link ${linkDevice} ${cut ? "cut (ip link set down)" : "restored (ip link set up)"}\n`);
          return true;
        }
      }
      const reply = await machine2.request("step", formatStep(step), STEP_TIMEOUT_MS);
      const answer = reply.json<StepReply>();
      if (!answer.ok) throw new StepFailure("step_failed", `machine 2: ${answer.message}`);
      return false;
    },
  };
  const typed = typedLines(bus);
  const interactive = args.values["interactive"] === true;
  const local = interactive ? io.lines() : null;
  try {
    const code = await runScenario(steps, args, mirrored, {
      rerun: `concord demo --machine-id 1 --peer … --scenario ${file}`,
      runner: { ...(cluster !== undefined ? { cluster } : {}), peer },
      ...(local !== null
        ? { beforeStep: (located: LocatedStep, runner: ScenarioRunner) => askBeforeStep(located, runner, mirrored.out, (prompt) => Promise.race([local.readLine(prompt), typed.next()])) }
        : {}),
    });
    if (linkCut && linkDevice !== null) setLink(linkDevice, "up");
    await machine2.request("quit", String(code), 30_000).catch(() => {});
    return code;
  } finally {
    local?.close();
    typed.close();
  }
}

/** Machine 2: run the steps machine 1 sends, for the nodes hosted here, until told to quit. */
async function followSteps(bus: NatsConnection, args: ParsedHarnessArgs, io: HarnessIo, cluster: ClusterOptions): Promise<number> {
  const board = new StatusBoard(io.out);
  const runner = new ScenarioRunner({ seed: args.seed, board, ...(cluster !== undefined ? { cluster } : {}) });
  const ready = bus.subscribe(subject("ready"));
  const steps = bus.subscribe(subject("step"));
  const quit = bus.subscribe(subject("quit"), { max: 1 });
  const prints = bus.subscribe(subject("print"));
  io.out.write("waiting for machine 1 to drive the demo …\n");
  void (async () => {
    for await (const m of ready) answerDriver(m, CLUSTER, "ready");
  })();
  void (async () => {
    for await (const m of prints) io.out.write(m.string());
  })();
  // Lines typed here are steps for machine 1 to run.
  const input = io.lines();
  void (async () => {
    for (;;) {
      const line = await input.readLine("");
      if (line === null) return;
      bus.publish(subject("typed"), line);
    }
  })();
  void (async () => {
    for await (const m of steps) {
      // Only machine 1 may publish here; a step whose answer it could not read is not run.
      if (!isDriverReply(m.reply, CLUSTER)) continue;
      const text = m.string();
      let reply: StepReply;
      try {
        const step = parseLine(text, "<machine 1>", 1);
        if (step !== null) await runner.run(step);
        reply = { ok: true, message: "" };
      } catch (error) {
        reply = { ok: false, message: (error as Error).message };
      }
      answerDriver(m, CLUSTER, JSON.stringify(reply));
    }
  })();
  try {
    for await (const m of quit) {
      answerDriver(m, CLUSTER, "bye");
      // Machine 1's exit code, so both machines report the same outcome (7: a check failed).
      const code = Number(m.string());
      return Number.isInteger(code) && code >= 0 && code <= 255 ? code : EXIT.failed;
    }
    return EXIT.failed;
  } finally {
    input.close();
    await runner.close();
  }
}

async function waitForPeer(machine2: DriverRequests, io: HarnessIo): Promise<void> {
  const deadline = Date.now() + PEER_WAIT_MS;
  for (let attempt = 1; ; attempt++) {
    try {
      await machine2.request("ready", "", 1000);
      return;
    } catch {
      if (Date.now() > deadline) throw new StepFailure("step_failed", `machine 2 did not answer within ${PEER_WAIT_MS / 1000} s`);
      if (attempt % 10 === 0) io.out.write(`  still waiting for machine 2 (${attempt} s) …\n`);
    }
  }
}

/** Steps typed on machine 2, one per call; resolves null when closed. */
function typedLines(bus: NatsConnection): { next(): Promise<string | null>; close(): void } {
  const sub = bus.subscribe(subject("typed"));
  const iterator = sub[Symbol.asyncIterator]();
  let pending: Promise<string | null> | null = null;
  return {
    next: () => {
      pending ??= iterator.next().then((r) => {
        pending = null;
        return r.done === true ? null : r.value.string();
      });
      return pending;
    },
    close: () => sub.unsubscribe(),
  };
}

function mirror(out: Output, copy: (text: string) => void): Output {
  return {
    isTTY: out.isTTY,
    write: (text) => {
      out.write(text);
      // Terminal control sequences of the live table stay local.
      if (!text.includes("\x1b[")) copy(text);
    },
  };
}

function splitsMachines(groups: readonly (readonly number[])[]): boolean {
  const key = (ids: readonly number[]) => [...ids].sort((a, b) => a - b).join(",");
  const machines = new Set([key(HOSTS[1]), key(HOSTS[2])]);
  return groups.length === 2 && groups.every((g) => machines.has(key(g)));
}

function setLink(device: string, state: "up" | "down"): void {
  const result = spawnSync("ip", ["link", "set", device, state], { encoding: "utf8" });
  if (result.status !== 0) throw new StepFailure("step_failed", `ip link set ${device} ${state}: ${result.stderr.trim() || `exit ${result.status}`}`);
}

