import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { NatsTransport } from "../../src/transport/nats-transport.ts";
import { TransportError } from "../../src/transport/transport-error.ts";
import { message } from "../../src/transport/transport.conformance.ts";
import { EventLog, Received } from "./events.ts";
import { NatsServer } from "../../src/cli/nats-server-process.ts";

const CLUSTER = "restart";
let server: NatsServer | null = null;
const open: NatsTransport[] = [];

beforeAll(async () => {
  server = await NatsServer.start({ cluster: CLUSTER, nodeIds: [1, 2] });
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
});

afterAll(async () => {
  await server?.stop();
});

async function node(id: number, received: Received, log: EventLog): Promise<NatsTransport> {
  const s = server!;
  const t = new NatsTransport({
    ...s.transportOptions(id),
    reconnectWaitMs: 50,
    logger: log,
  });
  open.push(t);
  await t.start(received.handlers());
  return t;
}

/** A sender that keeps raft-like traffic flowing from node 1 to node 2 every few ms. */
function traffic(from: NatsTransport): { readonly sent: number; stop(): void } {
  let sent = 0;
  const timer = setInterval(() => {
    // Any throw here would surface as an uncaught error and fail the test.
    from.send([message({ from: 1, to: 2, context: ++sent })]);
    from.flush();
  }, 5);
  return {
    get sent() {
      return sent;
    },
    stop: () => clearInterval(timer),
  };
}

describe("NatsTransport across a nats-server restart", () => {
  for (const signal of ["SIGTERM", "SIGKILL"] as const) {
    test(`batches flow again after the server is stopped with ${signal} and started, without new transports`, async () => {
      const logs = [new EventLog(), new EventLog()] as const;
      const received = new Received();
      const t1 = await node(1, new Received(), logs[0]);
      const t2 = await node(2, received, logs[1]);
      const flow = traffic(t1);
      try {
        await received.signal.until("traffic before the outage", () => received.messages.length > 0);

        await server!.down(signal);
        await logs[0].signal.until("node 1 to notice the outage", () => logs[0].count("disconnected") > 0);
        // While away: no throw from send/flush, and requests fail at once instead of queueing.
        const failedAt = Date.now();
        const error = await t1.request(2, new Uint8Array([1]), 5_000).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(TransportError);
        expect((error as TransportError).code).toBe("no_responder");
        expect(Date.now() - failedAt).toBeLessThan(1_000);

        await server!.up();
        const mark = flow.sent;
        await received.signal.until("a batch sent after the restart", () => received.messages.some((m) => m.context > mark));
        expect([...(await t2.request(1, new Uint8Array([4, 2]), 5_000))]).toEqual([4, 2]);
        for (const log of logs) expect(log.count("reconnected")).toBeGreaterThan(0);
        expect(logs[0].count("dropped_while_disconnected")).toBeGreaterThan(0);
      } finally {
        flow.stop();
      }
    });
  }

  test("close() during an outage returns promptly", async () => {
    const log = new EventLog();
    const t1 = await node(1, new Received(), log);
    await server!.down("SIGKILL");
    try {
      await log.signal.until("the outage to be noticed", () => log.count("disconnected") > 0);
      const startedAt = Date.now();
      await t1.close();
      expect(Date.now() - startedAt).toBeLessThan(1_000);
      const error = await t1.request(2, new Uint8Array([1]), 1_000).catch((e: unknown) => e);
      expect((error as TransportError).code).toBe("closed");
    } finally {
      await server!.up();
    }
  });
});
