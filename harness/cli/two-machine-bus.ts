import { randomBytes } from "node:crypto";
import type { Msg, NatsConnection } from "@nats-io/transport-node";
import { inboxPrefix, type NatsPermissions } from "../../src/transport/subjects.ts";

// How the two machines' harnesses keep in step over NATS (two-machine-demo.ts), and the
// permissions that allow exactly that. Machine 1 drives: it asks machine 2 to run a step
// (`step`), whether it is there (`ready`), to stop (`quit`), and shows it the narration
// (`print`); machine 2 answers those requests and sends the lines typed at its prompt
// (`typed`). Nothing else, and never a node's subject.
//
// No allow_responses (subjects.ts says why): replies follow the nodes' scheme,
// `_INBOX_<cluster>.<requester>.<responder>.<token>`. Machine 1 asks for its replies on
// `_INBOX_<cluster>.harness-1.harness-2.<token>`; only it may read its inbox, and machine 2
// may publish nothing there but that. The identity names are the inbox tokens: not
// numbers, so never a node's id (or the tool's 0), and a node, which may publish replies
// only as `_INBOX_<cluster>.*.<its id>.*`, cannot answer in machine 2's place.

export type Machine = 1 | 2;

/** The NATS identity (guest) of machine `m`'s harness, and its inbox token. */
export function harnessIdentity(machine: Machine): string {
  return `harness-${machine}`;
}

export type BusSubject = "ready" | "step" | "quit" | "print" | "typed";

/** The harnesses' own subjects, apart from the cluster's `concord.<cluster>.…`. */
export function busSubject(cluster: string, name: BusSubject): string {
  return `concord-harness.${cluster}.${name}`;
}

/** What machine 1 publishes (requests and narration) and machine 2 subscribes to. */
const DRIVER_SENDS: readonly BusSubject[] = ["ready", "step", "quit", "print"];

/** What every reply subject of machine 1's requests to machine 2 starts with. */
function replyPrefix(cluster: string): string {
  return `${inboxPrefix(cluster, harnessIdentity(1))}.${harnessIdentity(2)}.`;
}

const REPLY_TOKEN = /^[A-Za-z0-9]{1,64}$/;

/** Machine `m`'s harness permissions on its own nats-server: exactly what its side of the demo does. */
export function harnessPermissions(cluster: string, machine: Machine): NatsPermissions {
  if (machine === 1) {
    return {
      publish: DRIVER_SENDS.map((name) => busSubject(cluster, name)),
      subscribe: [busSubject(cluster, "typed"), `${inboxPrefix(cluster, harnessIdentity(1))}.>`],
      allowResponses: false,
    };
  }
  return {
    publish: [busSubject(cluster, "typed"), `${replyPrefix(cluster)}*`],
    subscribe: DRIVER_SENDS.map((name) => busSubject(cluster, name)),
    allowResponses: false,
  };
}

/** Machine 1: request/reply with machine 2, the reply asked for on machine 1's inbox for machine 2. */
export class DriverRequests {
  private readonly base = randomBytes(6).toString("hex");
  private next = 0;

  constructor(
    private readonly bus: NatsConnection,
    private readonly cluster: string,
  ) {}

  /** The reply subject of the next request (one subscription per request: they are few). */
  replySubject(): string {
    return `${replyPrefix(this.cluster)}${this.base}${(this.next++).toString(36)}`;
  }

  request(name: BusSubject, data: string, timeoutMs: number): Promise<Msg> {
    return this.bus.request(busSubject(this.cluster, name), data, { timeout: timeoutMs, noMux: true, reply: this.replySubject() });
  }
}

/** Whether `reply` is machine 1's inbox for machine 2: the only place machine 2 answers (anything else would make it a relay). */
export function isDriverReply(reply: string | undefined, cluster: string): boolean {
  if (reply === undefined) return false;
  const prefix = replyPrefix(cluster);
  return reply.startsWith(prefix) && REPLY_TOKEN.test(reply.slice(prefix.length));
}

/** Machine 2: answer a request of machine 1's; a request asking for its reply anywhere else gets none. */
export function answerDriver(m: Msg, cluster: string, data: string): boolean {
  if (!isDriverReply(m.reply, cluster)) return false;
  m.respond(data);
  return true;
}
