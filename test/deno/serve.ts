// Serves the HTTP API on Deno, backed by the in-memory fake: proof that src/api needs
// nothing but web standards. Usage: deno run --allow-net --allow-read --allow-env test/deno/serve.ts <port>
import { createApp } from "../../src/api/app.ts";
import { MemoryBackend } from "../../src/api/testing/memory-backend.ts";
import { pbkdf2Hasher } from "../../src/api/testing/test-password-hasher.ts";

// Only what this file uses of the Deno namespace; the project type-checks with Bun's types.
declare const Deno: {
  readonly args: readonly string[];
  serve(
    options: { port: number; hostname: string; onListen?: (address: { port: number }) => void },
    handler: (request: Request) => Response | Promise<Response>,
  ): unknown;
};

const port = Number(Deno.args[0]);
if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`usage: serve.ts <port>, got '${Deno.args[0] ?? ""}'`);

const app = createApp({ backend: new MemoryBackend(), passwords: pbkdf2Hasher(), adminToken: null });
Deno.serve({ port, hostname: "127.0.0.1", onListen: (address) => console.log(JSON.stringify({ event: "listening", port: address.port })) }, app.fetch);
