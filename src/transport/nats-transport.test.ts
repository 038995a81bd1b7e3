import { afterAll, beforeAll } from "bun:test";
import { NatsServer } from "../cli/nats-server-process.ts";
import { NatsTransport } from "./nats-transport.ts";
import { describeTransport } from "./transport.conformance.ts";

const CLUSTER = "conformance";
let server: NatsServer | null = null;

beforeAll(async () => {
  server = await NatsServer.start({ cluster: CLUSTER, nodeIds: [1, 2, 3] });
});

afterAll(async () => {
  await server?.stop();
});

describeTransport("nats", async (nodeIds) => {
  const s = server!;
  const transports = new Map(
    nodeIds.map((id) => {
      // A small frame cap so the 5 MB snapshot really goes through many chunks.
      return [id, new NatsTransport({ ...s.transportOptions(id), maxPayloadBytes: 256 * 1024 })] as const;
    }),
  );
  return { transports, cleanup: async () => void (await Promise.all([...transports.values()].map((t) => t.close()))) };
});
