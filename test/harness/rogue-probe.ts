// Run inside machine 1's network namespace by two-machines.test.ts while the two-machine
// demo runs: a rogue nats-server (no certificates, no credentials) that tries to join
// both machines' servers as a route, and anonymous clients that try machine 2's client
// port. Prints one JSON line with what got through. Stops what it started, by PID.
//
// Usage: bun rogue-probe.ts <own ip> <machine 2 ip> <machine 1 ip> <ca.pem> <work dir> <seconds>

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { findNatsServer } from "../../src/cli/nats-server-process.ts";

const [own, target, other, caFile, work, seconds] = process.argv.slice(2) as [string, string, string, string, string, string];
const dir = mkdtempSync(join(work, "rogue-"));
const config = join(dir, "rogue.conf");
writeFileSync(config, [
  `listen: "${own}:14222"`,
  `cluster { name: "concord", listen: "${own}:16222", routes: ["nats-route://${target}:6222", "nats-route://${other}:6222"] }`,
  "",
].join("\n"));
const log = join(dir, "rogue.log");
const rogue = Bun.spawn([findNatsServer(), "-c", config, "-l", log], { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
const refusal = async (options: Parameters<typeof connect>[0]): Promise<string> => {
  try {
    const nc = await connect({ reconnect: false, timeout: 3000, ...options });
    await nc.close();
    return "connected";
  } catch (error) {
    return (error as Error).message;
  }
};
try {
  await Bun.sleep(500);
  // Whatever the cluster's servers would tell a route reaches the rogue's own subscriber.
  const local = await connect({ servers: `${own}:14222` });
  const seen = new Set<string>();
  let messages = 0;
  local.subscribe(">", {
    callback: (_error, msg) => {
      messages++;
      seen.add(msg.subject.split(".").slice(0, 3).join("."));
    },
  });
  await local.flush();
  const anonymous = await refusal({ servers: `nats://${target}:4222` });
  const anonymousTls = await refusal({ servers: `tls://${target}:4222`, tls: { caFile } });
  const untrusted = await refusal({ servers: `tls://${target}:4222`, tls: {} });
  await Bun.sleep(Number(seconds) * 1000);
  await local.close();
  const routeLog = readFileSync(log, "utf8").split("\n").filter((line) => /[Rr]oute|TLS/.test(line)).slice(0, 20);
  process.stdout.write(`${JSON.stringify({ messages, subjects: [...seen], anonymous, anonymousTls, untrusted, routeLog })}\n`);
} finally {
  rogue.kill("SIGKILL");
  await rogue.exited;
  rmSync(dir, { recursive: true, force: true });
}
