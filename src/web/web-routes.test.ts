import { describe, expect, test } from "bun:test";
import { webRoutes } from "./web-routes.ts";
import type { WebAssets } from "./web-assets.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const assets: WebAssets = {
  script: { name: "main-abc123.js", contentType: "text/javascript; charset=utf-8", body: bytes("console.log(1)") },
  stylesheet: { name: "styles-def456.css", contentType: "text/css; charset=utf-8", body: bytes("body{}") },
};
const app = webRoutes({ assets, nodes: ["http://127.0.0.1:8081", "http://127.0.0.1:8082"] });

describe("webRoutes", () => {
  test("the page shell names the hashed assets, carries every node's address, and is revalidated", async () => {
    for (const path of ["/", "/cluster"]) {
      const response = await app.request(path);
      expect(response.status).toBe(200);
      expect(response.headers.get("cache-control")).toBe("no-cache");
      const html = await response.text();
      expect(html).toContain('src="/assets/main-abc123.js"');
      expect(html).toContain('href="/assets/styles-def456.css"');
      expect(html).toContain('{"nodes":["http://127.0.0.1:8081","http://127.0.0.1:8082"]}');
    }
  });

  test("hashed assets are immutable and answer If-None-Match with 304", async () => {
    const first = await app.request("/assets/main-abc123.js");
    expect(first.status).toBe(200);
    expect(first.headers.get("cache-control")).toContain("immutable");
    expect(first.headers.get("content-type")).toStartWith("text/javascript");
    const etag = first.headers.get("etag");
    expect(etag).toMatch(/^"[0-9a-f]{32}"$/);
    const again = await app.request("/assets/main-abc123.js", { headers: { "if-none-match": etag! } });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe("");
  });

  test("an unknown asset is not found", async () => {
    expect((await app.request("/assets/main-old.js")).status).toBe(404);
  });

  test("the shell's config cannot close its script tag", async () => {
    const hostile = webRoutes({ assets, nodes: ["http://x</script><script>alert(1)</script>"] });
    const html = await (await hostile.request("/")).text();
    expect(html).not.toContain("</script><script>alert(1)");
  });
});
