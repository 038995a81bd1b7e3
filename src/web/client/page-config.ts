/// <reference lib="dom" />
// What the node put into the page: every node's address, so the page can move to another
// node when its own dies. The node it was loaded from is tried first.

import { ConcordClient } from "../../client/concord-client.ts";

export interface PageConfig {
  /** Base URLs of every node; at least the page's own origin. */
  readonly nodes: readonly string[];
  /** The node the page came from, when it is in the list. */
  readonly home: string | undefined;
}

export function readPageConfig(): PageConfig {
  const element = document.getElementById("concord-config");
  let nodes: string[] = [];
  try {
    const parsed = JSON.parse(element?.textContent ?? "{}") as { nodes?: unknown };
    if (Array.isArray(parsed.nodes)) nodes = parsed.nodes.filter((n): n is string => typeof n === "string");
  } catch {
    // A broken config still leaves the page usable against its own node.
  }
  const origin = location.origin;
  const normalized = nodes.map((n) => n.replace(/\/+$/, ""));
  if (!normalized.includes(origin)) normalized.unshift(origin);
  return { nodes: normalized, home: origin };
}

export function createClient(config: PageConfig, credentials: { token?: string; adminToken?: string } = {}): ConcordClient {
  return new ConcordClient({
    nodes: config.nodes,
    ...(config.home !== undefined ? { preferredNode: config.home } : {}),
    ...(credentials.token !== undefined ? { token: credentials.token } : {}),
    ...(credentials.adminToken !== undefined ? { adminToken: credentials.adminToken } : {}),
    // A killed node refuses connections at once; a frozen one should not hold the page for long.
    requestTimeoutMs: 4000,
    deadlineMs: 12_000,
    // The server sends a keep-alive every 15 s; a stream silent for 20 s is gone.
    eventIdleTimeoutMs: 20_000,
  });
}

/** "http://127.0.0.1:8082" → "127.0.0.1:8082": what the indicator shows. */
export function nodeLabel(url: string): string {
  return url.replace(/^https?:\/\//, "");
}
