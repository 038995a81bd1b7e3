import { describe, expect, test } from "bun:test";
import { createApp } from "../api/app.ts";
import { MemoryBackend } from "../api/testing/memory-backend.ts";
import { pbkdf2Hasher } from "../api/testing/test-password-hasher.ts";
import type { WebAssets } from "./web-assets.ts";
import { webRoutes } from "./web-routes.ts";

// createApp with and without the web app (passed as extra routes, the way `concord node`
// mounts it): the page is served only when given, and the API answers cross-origin calls
// from a page another node served.

const bytes = (text: string) => new TextEncoder().encode(text);
const assets: WebAssets = {
  script: { name: "main-1.js", contentType: "text/javascript", body: bytes("") },
  stylesheet: { name: "styles-1.css", contentType: "text/css", body: bytes("") },
};

describe("createApp and the web app", () => {
  test("serves the page only when the entry point passes it", async () => {
    const without = createApp({ backend: new MemoryBackend(), passwords: pbkdf2Hasher(), adminToken: null });
    expect((await without.request("/")).status).toBe(404);
    const withWeb = createApp({ backend: new MemoryBackend(), passwords: pbkdf2Hasher(), adminToken: null, extraRoutes: { routes: webRoutes({ assets, nodes: [] }), connectTo: [] } });
    expect((await withWeb.request("/")).status).toBe(200);
    expect((await withWeb.request("/v1/cluster")).status).toBe(200);
  });

  test("a preflight from another node's page is allowed, with the headers the client sends", async () => {
    const app = createApp({ backend: new MemoryBackend(), passwords: pbkdf2Hasher(), adminToken: null });
    const response = await app.request("/v1/messages", {
      method: "OPTIONS",
      headers: { origin: "http://127.0.0.1:8081", "access-control-request-method": "POST", "access-control-request-headers": "authorization,content-type,idempotency-key" },
    });
    expect(response.status).toBe(204);
    expect(response.headers.get("access-control-allow-origin")).toBe("*");
    expect(response.headers.get("access-control-allow-headers")).toContain("idempotency-key");
    expect(response.headers.get("access-control-allow-headers")).toContain("last-event-id");
    const get = await app.request("/v1/cluster", { headers: { origin: "http://127.0.0.1:8081" } });
    expect(get.headers.get("access-control-allow-origin")).toBe("*");
  });
});
