import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import type { Msg, NatsConnection } from "@nats-io/transport-node";
import { natsServerConfig } from "../../src/cli/nats-server-config.ts";
import { TOOL_SENDER, inboxPrefix, nodePermissions, raftSubject, replySubject, rpcSubject, snapSubject, toolPermissions, type NatsPermissions } from "../../src/transport/subjects.ts";
import { DriverRequests, answerDriver, busSubject, harnessIdentity, harnessPermissions, isDriverReply } from "./two-machine-bus.ts";

// The two-machine demo's harness identities (two-machine-bus.ts): exactly their side of
// the exchange, no allow_responses, and no way onto a node's subjects. Also: no identity
// the code generates has allow_responses, outside the benchmarks in test/bench.

const CLUSTER = "concord";
/** The demo's nats-servers know node identities 1-9. */
const NODES = [1, 2, 3, 4, 5, 6, 7, 8, 9];

/** nats-server's subject matching: `*` is one token, `>` one or more at the end. */
function matches(pattern: string, subject: string): boolean {
  const p = pattern.split(".");
  const s = subject.split(".");
  for (let i = 0; i < p.length; i++) {
    if (p[i] === ">") return s.length > i;
    if (i >= s.length) return false;
    if (p[i] !== "*" && p[i] !== s[i]) return false;
  }
  return p.length === s.length;
}

const mayPublish = (permissions: NatsPermissions, subject: string) => permissions.publish.some((p) => matches(p, subject));
const maySubscribe = (permissions: NatsPermissions, subject: string) => permissions.subscribe.some((p) => matches(p, subject));

/** Every subject the cluster's members and tool use: what a harness must never publish or read. */
function clusterSubjects(): string[] {
  const subjects: string[] = [];
  for (const to of NODES) {
    for (const from of [TOOL_SENDER, ...NODES]) {
      subjects.push(raftSubject(CLUSTER, to, from), snapSubject(CLUSTER, to, from), rpcSubject(CLUSTER, to, from));
      subjects.push(replySubject(CLUSTER, from, to, "abc123"));
    }
  }
  return subjects;
}

const machine2Reply = () => new DriverRequests({} as NatsConnection, CLUSTER).replySubject();

describe("the two-machine demo's harness identities", () => {
  test("are named apart from every node id and the tool", () => {
    for (const machine of [1, 2] as const) {
      expect(harnessIdentity(machine)).not.toMatch(/^[0-9]+$/);
      expect(inboxPrefix(CLUSTER, harnessIdentity(machine))).toBe(`_INBOX_${CLUSTER}.harness-${machine}`);
    }
  });

  test("machine 1 sends requests and narration and reads the typed lines and its own inbox; machine 2 the other way round", () => {
    const s = (name: Parameters<typeof busSubject>[1]) => busSubject(CLUSTER, name);
    expect(harnessPermissions(CLUSTER, 1)).toEqual({
      publish: [s("ready"), s("step"), s("quit"), s("print")],
      subscribe: [s("typed"), `_INBOX_${CLUSTER}.harness-1.>`],
      allowResponses: false,
    });
    expect(harnessPermissions(CLUSTER, 2)).toEqual({
      publish: [s("typed"), `_INBOX_${CLUSTER}.harness-1.harness-2.*`],
      subscribe: [s("ready"), s("step"), s("quit"), s("print")],
      allowResponses: false,
    });
  });

  test("neither may publish or read any subject of the cluster's nodes or tool", () => {
    for (const machine of [1, 2] as const) {
      const permissions = harnessPermissions(CLUSTER, machine);
      for (const subject of clusterSubjects()) {
        expect({ machine, subject, publish: mayPublish(permissions, subject) }).toEqual({ machine, subject, publish: false });
        expect({ machine, subject, subscribe: maySubscribe(permissions, subject) }).toEqual({ machine, subject, subscribe: false });
      }
    }
  });

  test("machine 2 answers on machine 1's inbox for it, which only machine 1 reads and no node may write", () => {
    const reply = machine2Reply();
    expect(reply).toMatch(new RegExp(`^_INBOX_${CLUSTER}\\.harness-1\\.harness-2\\.[A-Za-z0-9]+$`));
    expect(machine2Reply()).not.toBe(reply);
    expect(mayPublish(harnessPermissions(CLUSTER, 2), reply)).toBe(true);
    expect(maySubscribe(harnessPermissions(CLUSTER, 1), reply)).toBe(true);
    expect(maySubscribe(harnessPermissions(CLUSTER, 2), reply)).toBe(false);
    for (const id of NODES) {
      expect(mayPublish(nodePermissions(CLUSTER, id), reply)).toBe(false);
      expect(maySubscribe(nodePermissions(CLUSTER, id), reply)).toBe(false);
    }
    expect(mayPublish(toolPermissions(CLUSTER), reply)).toBe(false);
    // Machine 2 cannot write into machine 1's inbox as anyone else, nor into its own.
    expect(mayPublish(harnessPermissions(CLUSTER, 2), `_INBOX_${CLUSTER}.harness-1.3.abc`)).toBe(false);
    expect(mayPublish(harnessPermissions(CLUSTER, 2), `_INBOX_${CLUSTER}.harness-2.harness-1.abc`)).toBe(false);
  });

  test("machine 2 answers only a reply subject of machine 1's for it: never a node's subject", () => {
    const answered: string[] = [];
    const request = (reply: string | undefined) => ({ reply, respond: () => (answered.push(reply!), true) }) as unknown as Msg;
    const good = machine2Reply();
    expect(answerDriver(request(good), CLUSTER, "ready")).toBe(true);
    for (const bad of [undefined, raftSubject(CLUSTER, 2, 1), `${inboxPrefix(CLUSTER, 1)}.harness-2.abc`, `_INBOX_${CLUSTER}.harness-1.harness-2.a.b`, `_INBOX_${CLUSTER}.harness-1.harness-2.`, "_INBOX.abc"]) {
      expect(isDriverReply(bad, CLUSTER)).toBe(false);
      expect(answerDriver(request(bad), CLUSTER, "ready")).toBe(false);
    }
    expect(answered).toEqual([good]);
  });

  test("the configuration the demo's servers get has no allow_responses", async () => {
    for (const machine of [1, 2] as const) {
      const config = await natsServerConfig({
        cluster: CLUSTER,
        host: "127.0.0.1",
        port: 4222,
        users: [
          ...NODES.map((id) => ({ publicKey: `UNODE${id}`, permissions: nodePermissions(CLUSTER, id) })),
          { publicKey: "UHARNESS", permissions: harnessPermissions(CLUSTER, machine) },
        ],
      });
      expect(config).toContain("UHARNESS");
      expect(config).not.toContain("allow_responses");
    }
  });
});

describe("allow_responses", () => {
  test("no identity in the code has it, but the benchmarks' throwaway ones (test/bench)", () => {
    const root = join(import.meta.dir, "../..");
    const granting = /allowResponses\s*:\s*true/;
    const found: string[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) {
          if (entry.name !== "node_modules") walk(path);
        } else if (/\.ts$/.test(entry.name) && granting.test(readFileSync(path, "utf8"))) {
          found.push(relative(root, path));
        }
      }
    };
    for (const top of ["src", "harness", "test"]) walk(join(root, top));
    expect(found.filter((path) => !path.startsWith("test/bench/"))).toEqual([]);
    // The scan does look: the one in test/bench/floor.ts is found.
    expect(found).toContain("test/bench/floor.ts");
  });
});
