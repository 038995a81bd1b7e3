// What a node needs to serve the web app: the built files, already in memory. Produced
// by build-web-assets.ts (Bun's bundler, at node start) and handed to webRoutes, whose
// routes the entry point mounts on createApp's app, so nothing here touches a runtime
// API: the app stays web-standard.

export interface WebAsset {
  /** URL path under /assets/, with a content hash in the name (so it can be cached forever). */
  readonly name: string;
  readonly contentType: string;
  readonly body: Uint8Array<ArrayBuffer>;
}

export interface WebAssets {
  /** The bundled page script (an ES module). */
  readonly script: WebAsset;
  readonly stylesheet: WebAsset;
}

export interface WebAppOptions {
  readonly assets: WebAssets;
  /**
   * Every node's HTTP base URL, given to the page so it can fail over to another node when
   * the one it came from dies. Empty: the page talks to its own origin only.
   */
  readonly nodes: readonly string[];
}
