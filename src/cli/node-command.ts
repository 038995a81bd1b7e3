import { createApp } from "../api/app.ts";
import { startConcordNode } from "../node/concord-node.ts";
import { JsonLogger } from "../node/logger.ts";
import { buildWebAssets } from "../web/build-web-assets.ts";
import type { WebAssets } from "../web/web-assets.ts";
import { webRoutes } from "../web/web-routes.ts";
import { bunPasswordHasher } from "./bun-password-hasher.ts";
import { parseNodeOptions } from "./node-options.ts";
import { UNLIMITED_AUTH_RATE_LIMITS } from "../api/rate-limit.ts";

/** How an entry point serves HTTP (Bun.serve there; this file stays runtime-neutral). */
export type ServeHttp = (options: {
  hostname: string;
  port: number;
  /** Seconds a quiet connection may stay open; above the 15 s SSE heartbeat. */
  idleTimeout: number;
  /** HTTPS with this certificate and key (PEM); absent: plain HTTP. */
  tls?: { cert: string; key: string };
  fetch: (request: Request) => Response | Promise<Response>;
}) => {
  stop(): void | Promise<void>;
};

/** `concord node …`: run one node until SIGINT/SIGTERM, then stop gracefully. */
export async function runNodeCommand(
  argv: string[],
  env: Record<string, string | undefined>,
  serve: ServeHttp,
  onSignal: (signal: "SIGINT" | "SIGTERM", handler: () => void) => void,
): Promise<void> {
  const options = parseNodeOptions(argv, env);
  const logger = new JsonLogger((line) => process.stderr.write(line), options.logLevel, { node: options.id });
  // The web page is bundled while the node starts; a failed build leaves the API serving.
  const assets = buildWebAssets().catch((error: unknown): WebAssets | null => {
    logger.log("warn", "web_build_failed", { error: error instanceof Error ? error.message : String(error) });
    return null;
  });
  const node = await startConcordNode(options, logger);
  const webAssets = await assets;
  // The web app is mounted here, beside the API: src/api imports nothing of src/web.
  const web = webAssets === null ? {} : { extraRoutes: { routes: webRoutes({ assets: webAssets, nodes: options.webPeers }), connectTo: options.webPeers } };
  const app = createApp({
    backend: node.backend,
    passwords: bunPasswordHasher,
    adminToken: options.adminToken,
    logger,
    ...(node.faults !== null ? { faults: node.faults } : {}),
    // A load generator's clients share one address: a queue long enough for all of them,
    // so its concurrent logins wait their turn instead of bouncing off the address's share.
    ...(options.unlimitedLogins ? { rateLimits: UNLIMITED_AUTH_RATE_LIMITS, hashing: { queue: 64, maxWaitMs: 5000 } } : {}),
    ...web,
  });
  // With a certificate, HTTPS only: nothing answers plain HTTP on the port. The app sees
  // https: request URLs, so it sends HSTS and marks the session cookie Secure.
  const server = serve({ hostname: options.httpHost, port: options.httpPort, idleTimeout: 60, ...(options.https !== null ? { tls: options.https } : {}), fetch: app.fetch });
  const scheme = options.https !== null ? "https" : "http";
  // One line on stdout so a supervisor (or a person) knows where we are.
  process.stdout.write(`${JSON.stringify({ event: "listening", node: options.id, http: `${scheme}://${options.httpHost}:${options.httpPort}`, data: options.dataDir })}\n`);

  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = () => {
      if (stopping) return;
      stopping = true;
      void (async () => {
        await server.stop();
        await node.stop({ transferLeadership: true });
        resolve();
      })();
    };
    onSignal("SIGINT", stop);
    onSignal("SIGTERM", stop);
  });
}
