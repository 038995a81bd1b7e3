import { ConcordError } from "./concord-error.ts";

/** More nodes than this is a configuration mistake, not a cluster (Raft groups are small). */
export const MAX_NODES = 64;

/**
 * The nodes a client may talk to, and the one it prefers: the node that last answered.
 * Staying on it keeps a session's reads on a warm node and makes the web UI's "connected
 * to" indicator stable; a failure moves the preference on to the next node in the list.
 */
export class NodePool {
  readonly nodes: readonly string[];
  #current: number;
  readonly #listeners = new Set<(node: string) => void>();

  constructor(nodes: readonly string[], preferred?: string) {
    if (nodes.length === 0) throw new ConcordError("invalid_argument", "at least one node URL is needed");
    if (nodes.length > MAX_NODES) throw new ConcordError("invalid_argument", `at most ${MAX_NODES} node URLs, got ${nodes.length}`);
    this.nodes = nodes.map(normalizeBaseUrl);
    if (new Set(this.nodes).size !== this.nodes.length) throw new ConcordError("invalid_argument", `duplicate node URLs in ${this.nodes.join(", ")}`);
    const start = preferred === undefined ? -1 : this.nodes.indexOf(normalizeBaseUrl(preferred));
    this.#current = Math.max(0, start);
  }

  get current(): string {
    return this.nodes[this.#current]!;
  }

  get currentIndex(): number {
    return this.#current;
  }

  /** The node at `index` in the list, wrapping around (so `currentIndex + k` walks on from the preferred one). */
  at(index: number): string {
    return this.nodes[((index % this.nodes.length) + this.nodes.length) % this.nodes.length]!;
  }

  succeeded(node: string): void {
    this.#moveTo(this.nodes.indexOf(node));
  }

  /**
   * `node` failed. Only moves on if it is still the preferred node: when several requests
   * fail on the same dead node at once, the preference advances one step, not one per request.
   */
  failed(node: string): void {
    const index = this.nodes.indexOf(node);
    if (index === this.#current) this.#moveTo((index + 1) % this.nodes.length);
  }

  /** Calls `listener` whenever the preferred node changes; returns an unsubscribe function. */
  subscribe(listener: (node: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #moveTo(index: number): void {
    if (index < 0 || index === this.#current) return;
    this.#current = index;
    for (const listener of [...this.#listeners]) listener(this.current);
  }
}

/** "http://host:8081/" and "http://host:8081" are the same node; only http(s) is accepted. */
export function normalizeBaseUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw new ConcordError("invalid_argument", `not a URL: '${text}'`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ConcordError("invalid_argument", `node URLs must be http or https, got '${text}'`);
  }
  if (url.search !== "" || url.hash !== "") throw new ConcordError("invalid_argument", `a node URL has no query or fragment: '${text}'`);
  return url.href.replace(/\/+$/, "");
}
