// Small stand-ins for Concord nodes in tests: real HTTP servers on port 0, so the client
// is exercised through a real fetch, sockets and all. Each test says what its nodes answer,
// in API.md's shapes.
import type { Server } from "bun";

export type FakeHandler = (request: Request) => Response | Promise<Response>;

export interface FakeNode {
  readonly url: string;
  /** Every request the node received, in order. */
  readonly requests: Request[];
  stop(): Promise<void>;
}

export class FakeNodes {
  readonly #servers: Server<undefined>[] = [];

  start(handler: FakeHandler): FakeNode {
    const requests: Request[] = [];
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      idleTimeout: 0,
      fetch: (request) => {
        requests.push(request);
        return handler(request);
      },
    });
    this.#servers.push(server);
    return { url: `http://127.0.0.1:${server.port}`, requests, stop: () => server.stop(true) };
  }

  /** The URL of a node that is down: a port that was just listening and now refuses connections. */
  async dead(): Promise<string> {
    const node = this.start(() => new Response(null, { status: 500 }));
    await node.stop();
    return node.url;
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.#servers.splice(0).map((server) => server.stop(true)));
  }
}

export function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
}

export function apiError(status: number, code: string, message: string, headers: Record<string, string> = {}): Response {
  return jsonResponse(status, { error: { code, message } }, headers);
}

/** An SSE response whose body the test writes to, and ends or leaves hanging. */
export function sseResponse(): { response: Response; write(text: string): void; close(): void } {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
    },
  });
  const encoder = new TextEncoder();
  return {
    response: new Response(body, { status: 200, headers: { "content-type": "text/event-stream", "cache-control": "no-store" } }),
    write: (text) => controller.enqueue(encoder.encode(text)),
    close: () => controller.close(),
  };
}

export const sampleMessage = (id: number, from = "alice", to = "bob", content = `message ${id}`) => ({
  id,
  from,
  to,
  content,
  sentAt: new Date(Date.UTC(2025, 0, 1, 12, 0, id % 60)).toISOString(),
  readAt: null,
});
