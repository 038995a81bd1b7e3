// Latency breakdown of single proposals from stage traces: run
//   CONCORD_TRACE=/tmp/trace bun test/bench/node.ts --clients 1
// then `bun test/bench/trace-breakdown.ts /tmp/trace [client-1.trace]`. With `-` for the
// client file (e.g. after bench:http, whose requests call RaftNode.propose), every
// proposal is followed from the call to its return on the leader.
// Every node writes `<monotonic µs> <node> <stage> <index> [<detail>]` lines (see
// src/node/stage-trace.ts); the client file names the proposals to follow. Prints the
// median of each stage along the critical path: the leader, and the follower whose
// acknowledgement completed the quorum.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

const dir = process.argv[2] ?? "/tmp/concord-trace";
const clientFile = process.argv[3] ?? "client-1.trace";

interface Mark {
  t: number;
  node: number;
  stage: string;
  index: number;
  detail: string | undefined;
}

const byIndex = new Map<number, Mark[]>();
for (const file of readdirSync(dir)) {
  if (!file.endsWith(".trace")) continue;
  if (file.startsWith("client-") && file !== clientFile) continue;
  for (const line of readFileSync(join(dir, file), "utf8").split("\n")) {
    if (line === "") continue;
    const [t, node, stage, index, detail] = line.split(" ");
    const mark: Mark = { t: Number(t), node: Number(node), stage: stage!, index: Number(index), detail };
    // rpc_in carries its own time (when the request arrived) as its detail.
    if (mark.stage === "rpc_in") mark.t = Number(detail);
    let marks = byIndex.get(mark.index);
    if (marks === undefined) byIndex.set(mark.index, (marks = []));
    marks.push(mark);
  }
}

const first = (marks: Mark[], stage: string, node?: number, detail?: string) =>
  marks.find((m) => m.stage === stage && (node === undefined || m.node === node) && (detail === undefined || m.detail === detail))?.t;

const samples = new Map<string, number[]>();
const order: string[] = [];
function add(name: string, from: number | undefined, to: number | undefined): void {
  if (from === undefined || to === undefined) return;
  if (!samples.has(name)) {
    samples.set(name, []);
    order.push(name);
  }
  samples.get(name)!.push(to - from);
}

let followed = 0;
for (const [index, marks] of byIndex) {
  const send = first(marks, "client_send");
  const recv = first(marks, "client_recv");
  if (index === 0 || (clientFile !== "-" && (send === undefined || recv === undefined))) continue;
  const proposed = marks.find((m) => m.stage === "proposed");
  if (proposed === undefined) continue;
  const leader = proposed.node;
  followed++;
  const L = (stage: string) => first(marks, stage, leader);
  // Acks at the leader, in arrival order; with 5 voters the 2nd completes the quorum.
  const acks = marks.filter((m) => m.stage === "ack_in" && m.node === leader).sort((a, b) => a.t - b.t);
  const quorumAck = acks[1];
  const f = quorumAck === undefined ? undefined : Number(quorumAck.detail);
  const F = (stage: string) => (f === undefined ? undefined : first(marks, stage, f));
  add("client → leader rpc (NATS)", send, L("rpc_in"));
  add("leader: rpc → proposed", L("rpc_in"), L("proposed"));
  add("leader: proposed → Ready", L("proposed"), L("ready"));
  add("leader: Ready → appends handed to transport", L("ready"), L("app_out"));
  add("leader: own raft write (fsync)", L("app_out"), L("persisted"));
  add("leader → follower append (NATS)", f === undefined ? undefined : first(marks, "app_out", leader, String(f)), F("app_in"));
  add("follower: append in → Ready", F("app_in"), F("ready"));
  add("follower: raft write (fsync)", F("ready"), F("persisted"));
  add("follower: persisted → ack handed to transport", F("persisted"), F("ack_out"));
  add("follower → leader ack (NATS)", F("ack_out"), quorumAck?.t);
  add("leader: quorum ack → commit Ready", quorumAck?.t, L("commit_ready"));
  add("leader: apply", L("commit_ready"), L("applied"));
  add("leader: applied → reply", L("applied"), L("reply"));
  add("leader reply → client (NATS)", L("reply"), recv);
  add("(leader fsync done → quorum ack)", L("persisted"), quorumAck?.t);
  add("(leader: proposed → commit Ready)", L("proposed"), L("commit_ready"));
  add("(leader: call → return)", L("rpc_in"), L("reply"));
  add("TOTAL client round trip", send, recv);
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
console.log(`${followed} proposals followed (${clientFile}); µs`);
console.log(`${"stage".padEnd(48)} ${"p50".padStart(7)} ${"p90".padStart(7)} ${"mean".padStart(7)}`);
for (const name of order) {
  const xs = samples.get(name)!;
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  console.log(`${name.padEnd(48)} ${String(pct(xs, 50)).padStart(7)} ${String(pct(xs, 90)).padStart(7)} ${mean.toFixed(0).padStart(7)}`);
}
