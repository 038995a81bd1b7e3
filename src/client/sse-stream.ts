// A Server-Sent Events subscription that survives node failures: when the connection
// fails or ends it connects again, to the next node, sending Last-Event-ID so that node
// replays what was missed. What counts as "already seen" is the caller's business
// (chat-events.ts drops indexes it has delivered); this file only keeps a stream going.

import { ConcordError } from "./concord-error.ts";
import { errorFromAnswer, type FetchLike } from "./http-transport.ts";
import { backoffDelayMs, retryAfterMs, sleepMs } from "./retry-timing.ts";
import { SseParser, type SseMessage } from "./sse-parser.ts";

/** Backoff between failed passes over the nodes until the server suggests one with `retry:`. */
export const DEFAULT_RECONNECT_BASE_MS = 250;
/** Pause before trying the next node. */
const NEXT_NODE_DELAY_MS = 50;
/** A connection that lasted this long was healthy: what ended it says nothing about the others. */
const HEALTHY_CONNECTION_MS = 1000;
export const MAX_RECONNECT_DELAY_MS = 10_000;
const MIN_SERVER_RETRY_MS = 50;
/** Error bodies of a refused stream are short; more than this is not read. */
const MAX_ERROR_BODY_BYTES = 64 << 10;

export interface StreamStatus {
  /** connecting: trying `node`; reconnecting: the connection to `node` failed or ended, next try in `retryInMs`. */
  readonly state: "connecting" | "connected" | "reconnecting" | "closed";
  /** The node being connected to, connected to, or (reconnecting) the one that was lost. */
  readonly node: string;
  /** Why the last connection ended (reconnecting), or the fatal error (closed). */
  readonly error?: ConcordError;
  readonly retryInMs?: number;
}

export interface SseStreamOptions {
  readonly fetch: FetchLike;
  /** Path and query, starting with "/". */
  readonly path: string;
  /** Read at each connect, so a token set after login is used on the next reconnect. */
  readonly bearer: () => string | null;
  /** Read at each connect: the id to resume after, or null to start live. */
  readonly lastEventId: () => string | null;
  /** The node for the next connection; `previous` is null for the first one. */
  readonly nextNode: (previous: string | null) => string;
  /** How many distinct nodes nextNode cycles through (1 when pinned to one node). */
  readonly nodeCount: number;
  /** Until the response headers arrive. */
  readonly connectTimeoutMs: number;
  /** No byte (event or `:` keep-alive) for this long means the node is gone (SIGSTOP, cable). */
  readonly idleTimeoutMs: number;
  readonly onMessage: (message: SseMessage) => void;
  readonly onStatus?: (status: StreamStatus) => void;
}

export interface StreamHandle {
  /** Stops for good; idempotent. */
  close(): void;
  /** Settles once the stream is over: null after close(), else the error that ended it (401…). */
  readonly closed: Promise<ConcordError | null>;
}

type Outcome =
  | { readonly kind: "closed" }
  | { readonly kind: "fatal"; readonly error: ConcordError }
  | { readonly kind: "lost"; readonly error: ConcordError; readonly connected: boolean; readonly retryAfterMs: number | null };

export function openSseStream(options: SseStreamOptions): StreamHandle {
  const stop = new AbortController();
  const report = (status: StreamStatus) => options.onStatus?.(status);
  let reconnectBaseMs = DEFAULT_RECONNECT_BASE_MS;

  const connectOnce = async (node: string): Promise<Outcome> => {
    const connection = new AbortController();
    const abortConnection = () => connection.abort();
    stop.signal.addEventListener("abort", abortConnection, { once: true });
    let timedOut: "connect" | "idle" | null = null;
    let timer = setTimeout(() => {
      timedOut = "connect";
      connection.abort();
    }, options.connectTimeoutMs);
    let connected = false;
    try {
      report({ state: "connecting", node });
      const headers: Record<string, string> = { accept: "text/event-stream", "cache-control": "no-store" };
      const bearer = options.bearer();
      if (bearer !== null) headers["authorization"] = `Bearer ${bearer}`;
      const lastEventId = options.lastEventId();
      if (lastEventId !== null) headers["last-event-id"] = lastEventId;
      const response = await options.fetch(`${node}${options.path}`, { method: "GET", headers, signal: connection.signal });
      if (!response.ok) {
        const text = await readErrorBody(response);
        const error = errorFromAnswer({ status: response.status, text });
        // 4xx (bad token, no such route) will not get better elsewhere; 408, 429 and 5xx may.
        const fatal = response.status >= 400 && response.status < 500 && response.status !== 408 && response.status !== 429;
        return fatal ? { kind: "fatal", error } : { kind: "lost", error, connected, retryAfterMs: retryAfterMs(response.headers.get("retry-after")) };
      }
      if (response.body === null) throw new ConcordError("bad_response", "event stream without a body", response.status);
      connected = true;
      report({ state: "connected", node });
      const parser = new SseParser({
        onMessage: options.onMessage,
        onRetry: (delayMs) => {
          reconnectBaseMs = Math.min(MAX_RECONNECT_DELAY_MS, Math.max(MIN_SERVER_RETRY_MS, delayMs));
        },
      });
      const reader = response.body.getReader();
      for (;;) {
        clearTimeout(timer);
        timer = setTimeout(() => {
          timedOut = "idle";
          connection.abort();
        }, options.idleTimeoutMs);
        const { done, value } = await reader.read();
        if (done) {
          parser.end();
          return { kind: "lost", error: new ConcordError("network", "the node closed the event stream"), connected, retryAfterMs: null };
        }
        parser.push(value);
      }
    } catch (error) {
      if (stop.signal.aborted) return { kind: "closed" };
      const lost =
        error instanceof ConcordError
          ? error
          : timedOut === "connect"
            ? new ConcordError("timeout", `no answer within ${options.connectTimeoutMs} ms`)
            : timedOut === "idle"
              ? new ConcordError("timeout", `nothing received for ${options.idleTimeoutMs} ms`)
              : new ConcordError("network", error instanceof Error && error.message !== "" ? error.message : "connection failed");
      return { kind: "lost", error: lost, connected, retryAfterMs: null };
    } finally {
      clearTimeout(timer);
      stop.signal.removeEventListener("abort", abortConnection);
      connection.abort();
    }
  };

  const run = async (): Promise<ConcordError | null> => {
    let node: string | null = null;
    // Connections in a row that failed or died young; a pass is one try of every node.
    let failures = 0;
    let passRetryAfterMs = 0;
    while (!stop.signal.aborted) {
      node = options.nextNode(node);
      const startedMs = Date.now();
      const outcome = await connectOnce(node);
      if (outcome.kind === "closed" || stop.signal.aborted) break;
      if (outcome.kind === "fatal") {
        report({ state: "closed", node, error: outcome.error });
        return outcome.error;
      }
      const healthy = outcome.connected && Date.now() - startedMs >= HEALTHY_CONNECTION_MS;
      failures = healthy ? 0 : failures + 1;
      passRetryAfterMs = Math.max(passRetryAfterMs, outcome.retryAfterMs ?? 0);
      // The next node is tried almost at once: one node failing says nothing about the
      // others. Only when a whole pass failed does the cluster itself look down; then back
      // off exponentially (from the server's `retry:` if it gave one), honouring Retry-After.
      let delayMs = backoffDelayMs(0, NEXT_NODE_DELAY_MS, NEXT_NODE_DELAY_MS);
      if (failures > 0 && failures % options.nodeCount === 0) {
        delayMs = Math.max(
          backoffDelayMs(failures / options.nodeCount - 1, reconnectBaseMs, MAX_RECONNECT_DELAY_MS),
          Math.min(passRetryAfterMs, MAX_RECONNECT_DELAY_MS),
        );
        passRetryAfterMs = 0;
      }
      report({ state: "reconnecting", node, error: outcome.error, retryInMs: delayMs });
      await sleepMs(delayMs, stop.signal);
    }
    report({ state: "closed", node: node ?? options.nextNode(null) });
    return null;
  };

  return {
    close: () => stop.abort(),
    closed: run(),
  };
}

async function readErrorBody(response: Response): Promise<string> {
  if (response.body === null) return "";
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  while (bytes < MAX_ERROR_BODY_BYTES) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    bytes += value.byteLength;
  }
  await reader.cancel().catch(() => {});
  return new TextDecoder().decode(concat(chunks, Math.min(bytes, MAX_ERROR_BODY_BYTES)));
}

function concat(chunks: readonly Uint8Array[], length: number): Uint8Array {
  const out = new Uint8Array(length);
  let at = 0;
  for (const chunk of chunks) {
    if (at >= length) break;
    out.set(chunk.subarray(0, length - at), at);
    at += chunk.byteLength;
  }
  return out;
}
