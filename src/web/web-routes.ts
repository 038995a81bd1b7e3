// Serves the web app: the page at / and /cluster (one HTML shell; the script picks the
// screen from the path), and the hashed assets. Web standards only (crypto.subtle for
// ETags): the entry point mounts these on createApp's app (ApiOptions.extraRoutes), which
// must keep running under Deno.

import { Hono } from "hono";
import type { WebAppOptions, WebAsset } from "./web-assets.ts";

/** Hashed names never change content: cache for a year, never revalidate. */
const IMMUTABLE = "public, max-age=31536000, immutable";
/** The shell names the current hashed assets, so it must be revalidated every time. */
const REVALIDATE = "no-cache";

/** The page's routes; anything else under them is left to the API's 404. */
export const PAGE_PATHS = ["/", "/cluster"] as const;

export function webRoutes(options: WebAppOptions): Hono {
  const app = new Hono();
  const { script, stylesheet } = options.assets;
  const html = new TextEncoder().encode(pageShell(options));
  const files = new Map<string, WebAsset>([script, stylesheet].map((asset) => [asset.name, asset]));
  const etags = new Map<Uint8Array<ArrayBuffer>, Promise<string>>();
  const etagOf = (body: Uint8Array<ArrayBuffer>) => {
    let etag = etags.get(body);
    if (etag === undefined) {
      etag = strongEtag(body);
      etags.set(body, etag);
    }
    return etag;
  };

  const serve = async (request: Request, body: Uint8Array<ArrayBuffer>, contentType: string, cacheControl: string): Promise<Response> => {
    const etag = await etagOf(body);
    const headers = { etag, "cache-control": cacheControl, "x-content-type-options": "nosniff" };
    if (ifNoneMatch(request.headers.get("if-none-match"), etag)) return new Response(null, { status: 304, headers });
    return new Response(request.method === "HEAD" ? null : body, { status: 200, headers: { ...headers, "content-type": contentType } });
  };

  for (const path of PAGE_PATHS) {
    app.on(["GET", "HEAD"], path, (c) => serve(c.req.raw, html, "text/html; charset=utf-8", REVALIDATE));
  }
  app.on(["GET", "HEAD"], "/assets/:name", async (c, next) => {
    const asset = files.get(c.req.param("name"));
    if (asset === undefined) return next();
    return serve(c.req.raw, asset.body, asset.contentType, IMMUTABLE);
  });
  return app;
}

function pageShell(options: WebAppOptions): string {
  // JSON inside <script> must not be able to close the tag.
  const config = JSON.stringify({ nodes: options.nodes }).replace(/</g, "\\u003c");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">
<meta name="color-scheme" content="light dark">
<title>Concord</title>
<link rel="icon" href="data:image/svg+xml,${encodeURIComponent('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="8" fill="#4f46e5"/><path d="M9 11h14v9H15l-4 4v-4H9z" fill="#fff"/></svg>')}">
<link rel="stylesheet" href="/assets/${options.assets.stylesheet.name}">
<script id="concord-config" type="application/json">${config}</script>
<script type="module" src="/assets/${options.assets.script.name}"></script>
</head>
<body><div id="app" class="app-loading">Loading Concord…</div></body>
</html>
`;
}

async function strongEtag(body: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", body));
  return `"${Array.from(digest.subarray(0, 16), (b) => b.toString(16).padStart(2, "0")).join("")}"`;
}

function ifNoneMatch(header: string | null, etag: string): boolean {
  if (header === null) return false;
  return header.split(",").some((tag) => {
    const t = tag.trim();
    return t === "*" || t === etag || t === `W/${etag}`;
  });
}
