// The OpenAPI document as a node serves it, built the way the API tests build their app
// (in-memory backend, a fast test hasher), for the contract tests in this folder.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApp } from "../../src/api/app.ts";
import type { FaultControl, LinkFaultsBody } from "../../src/api/api-env.ts";
import { MemoryBackend } from "../../src/api/testing/memory-backend.ts";
import { pbkdf2Hasher } from "../../src/api/testing/test-password-hasher.ts";

export const ROOT = join(import.meta.dir, "..", "..");

/** Fault injection on, so the document also has the harness's routes (they must lint clean too). */
const faults: FaultControl = {
  faults: (): LinkFaultsBody => ({ dropTo: [], dropFrom: [] }),
  setFaults: () => {},
};

export function contractApp(options: { withFaultRoutes?: boolean } = {}) {
  return createApp({ backend: new MemoryBackend(), passwords: pbkdf2Hasher(), adminToken: "admin", ...(options.withFaultRoutes === true ? { faults } : {}) });
}

/** GET /v1/openapi.json, parsed; fails loudly when the route does not answer 200 JSON. */
export async function servedDocument(app = contractApp({ withFaultRoutes: true })): Promise<OpenApiDocument> {
  const response = await app.request("/v1/openapi.json");
  if (response.status !== 200) throw new Error(`GET /v1/openapi.json answered ${response.status}`);
  return (await response.json()) as OpenApiDocument;
}

export interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, { required?: string[]; properties?: Record<string, unknown> }> };
  [key: string]: unknown;
}

export interface Operation {
  operationId?: string;
  tags?: string[];
  security?: Array<Record<string, string[]>>;
  responses: Record<string, unknown>;
}

/** A scratch directory for one test, removed by the returned function. */
export function scratchDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `concord-${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Runs a command to completion (no shell); its exit code and both streams, for assertions. */
export function run(command: string[], cwd = ROOT): { exitCode: number; output: string } {
  const result = Bun.spawnSync(command, {
    cwd,
    stdout: "pipe",
    stderr: "pipe",
    // Redocly would otherwise phone home and check for updates from inside a test.
    env: { ...process.env, REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true", NO_COLOR: "1", FORCE_COLOR: "0" },
  });
  return { exitCode: result.exitCode ?? -1, output: `${result.stdout.toString()}${result.stderr.toString()}` };
}
