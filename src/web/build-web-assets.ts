// Builds the web app with Bun's bundler, in memory, when a node starts (a few hundred
// milliseconds). Bun-only: imported by entry points (src/cli) and tests, never by
// webRoutes or createApp, whose code must stay web-standard.

import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import type { WebAsset, WebAssets } from "./web-assets.ts";

const ENTRY = fileURLToPath(new URL("./client/main.ts", import.meta.url));
const STYLESHEET = fileURLToPath(new URL("./client/styles.css", import.meta.url));

export async function buildWebAssets(options: { minify?: boolean } = {}): Promise<WebAssets> {
  const result = await Bun.build({
    entrypoints: [ENTRY],
    target: "browser",
    format: "esm",
    minify: options.minify ?? true,
    sourcemap: "none",
    naming: "[name]-[hash].[ext]",
  });
  if (!result.success) throw new Error(`web app build failed:\n${result.logs.map(String).join("\n")}`);
  const output = result.outputs.find((o) => o.kind === "entry-point");
  if (output === undefined) throw new Error("web app build produced no entry point");
  const script: WebAsset = {
    name: output.path.replace(/^.*\//, ""),
    contentType: "text/javascript; charset=utf-8",
    body: new Uint8Array(await output.arrayBuffer()),
  };
  const css = new Uint8Array(await readFile(STYLESHEET));
  const stylesheet: WebAsset = { name: `styles-${contentHash(css)}.css`, contentType: "text/css; charset=utf-8", body: css };
  return { script, stylesheet };
}

function contentHash(body: Uint8Array): string {
  return createHash("sha256").update(body).digest("hex").slice(0, 12);
}
