// One logical request, tried on node after node until one answers. What may be retried
// elsewhere: a refused or broken connection, a timeout, and 503 (no leader or no quorum
// on that node). Everything else is an answer, even an error, and is returned at once.
//
// Retrying a write is only safe because every attempt carries the same Idempotency-Key:
// the first node may have committed the write and died before answering, and the retry
// then gets the first result back instead of a second message.

import { ConcordError } from "./concord-error.ts";
import type { NodePool } from "./node-pool.ts";
import { backoffDelayMs, retryAfterMs, sleepMs } from "./retry-timing.ts";

/** What the client needs of `fetch`; a plain function so wrappers and test doubles fit. */
export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

/** Bigger than any documented answer (200 messages of 4000 chars, JSON-escaped). */
export const MAX_RESPONSE_BYTES = 16 << 20;
/** A node asking for more than this is not honoured beyond it; the deadline bounds it too. */
const MAX_RETRY_AFTER_MS = 5000;
/** Pause before trying the next node within one pass over the list. */
const NEXT_NODE_DELAY_MS = 20;
/** Backoff between passes over the whole list. */
const ROUND_BASE_DELAY_MS = 100;
const ROUND_MAX_DELAY_MS = 2000;
/** How many failed attempts the final error message lists. */
const MAX_REPORTED_FAILURES = 6;

export interface TransportOptions {
  readonly pool: NodePool;
  readonly fetch: FetchLike;
  /** One attempt, from sending to the last byte of the answer. */
  readonly requestTimeoutMs: number;
  /** All attempts together, backoff included. */
  readonly deadlineMs: number;
  readonly maxAttempts: number;
  readonly random?: () => number;
}

export interface RequestSpec {
  readonly method: "GET" | "POST" | "PUT" | "DELETE";
  /** Path and query, starting with "/". */
  readonly path: string;
  readonly body?: unknown;
  readonly bearer: string | null;
  readonly idempotencyKey?: string;
  /** Ask exactly this node, once (per-node views: /healthz, /readyz, a node's /v1/cluster). */
  readonly node?: string;
  /** Statuses besides 2xx that are answers, not errors (503 from /readyz means "not ready"). */
  readonly answerStatuses?: readonly number[];
}

export interface Answer {
  readonly status: number;
  readonly node: string;
  readonly headers: Headers;
  readonly text: string;
}

type Attempt =
  | { readonly kind: "answer"; readonly answer: Answer }
  | { readonly kind: "refused"; readonly error: ConcordError } // a final error from a live node
  | { readonly kind: "retry"; readonly error: ConcordError; readonly retryAfterMs: number | null };

export class HttpTransport {
  constructor(private readonly options: TransportOptions) {}

  get pool(): NodePool {
    return this.options.pool;
  }

  async request(spec: RequestSpec): Promise<Answer> {
    const { pool, maxAttempts, requestTimeoutMs, deadlineMs } = this.options;
    const random = this.options.random ?? Math.random;
    const deadline = Date.now() + deadlineMs;
    const attempts = spec.node !== undefined ? 1 : maxAttempts;
    const firstIndex = pool.currentIndex;
    const failures: string[] = [];
    let lastError: ConcordError | null = null;
    // A node that answered "no quorum" says more than one that could not be reached.
    let answeredUnavailable: ConcordError | null = null;
    let roundRetryAfterMs = 0;

    for (let attempt = 0; attempt < attempts; attempt++) {
      if (attempt > 0) {
        // Within a pass the next node is tried almost at once: a dead node says nothing
        // about the others. After a whole pass failed, the cluster itself is likely
        // electing, so back off, and honour the longest Retry-After the pass was given.
        const newRound = attempt % pool.nodes.length === 0;
        const delayMs = newRound
          ? Math.max(backoffDelayMs(attempt / pool.nodes.length - 1, ROUND_BASE_DELAY_MS, ROUND_MAX_DELAY_MS, random), Math.min(roundRetryAfterMs, MAX_RETRY_AFTER_MS))
          : backoffDelayMs(0, NEXT_NODE_DELAY_MS, NEXT_NODE_DELAY_MS, random);
        if (newRound) roundRetryAfterMs = 0;
        if (Date.now() + delayMs >= deadline) break;
        await sleepMs(delayMs);
      }
      const remainingMs = deadline - Date.now();
      if (remainingMs <= 0) break;
      const node = spec.node ?? pool.at(firstIndex + attempt);
      const result = await this.#attempt(node, spec, Math.min(requestTimeoutMs, remainingMs));
      if (result.kind === "answer") {
        if (spec.node === undefined) pool.succeeded(node);
        return result.answer;
      }
      if (result.kind === "refused") {
        // The node is alive and said no: that is the answer, from any node.
        if (spec.node === undefined) pool.succeeded(node);
        throw withKey(result.error, spec.idempotencyKey);
      }
      if (spec.node === undefined) pool.failed(node);
      lastError = result.error;
      if (result.error.code === "unavailable") answeredUnavailable = result.error;
      roundRetryAfterMs = Math.max(roundRetryAfterMs, result.retryAfterMs ?? 0);
      failures.push(`${node}: ${result.error.message}`);
    }

    if (lastError === null) {
      throw new ConcordError("timeout", `${spec.method} ${pathWithoutQuery(spec)}: deadline of ${deadlineMs} ms passed before any attempt`, null, spec.idempotencyKey ?? null);
    }
    if (spec.node !== undefined) throw withKey(lastError, spec.idempotencyKey);
    const reported = answeredUnavailable !== null && (lastError.code === "network" || lastError.code === "timeout") ? answeredUnavailable : lastError;
    const shown = failures.slice(-MAX_REPORTED_FAILURES);
    const more = failures.length > shown.length ? `; … ${failures.length - shown.length} earlier` : "";
    throw new ConcordError(
      reported.code,
      `no node could serve ${spec.method} ${pathWithoutQuery(spec)} (${failures.length} attempts): ${shown.join("; ")}${more}`,
      reported.status,
      spec.idempotencyKey ?? null,
    );
  }

  async #attempt(node: string, spec: RequestSpec, timeoutMs: number): Promise<Attempt> {
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
    const headers: Record<string, string> = { accept: "application/json" };
    if (spec.body !== undefined) headers["content-type"] = "application/json";
    if (spec.bearer !== null) headers["authorization"] = `Bearer ${spec.bearer}`;
    if (spec.idempotencyKey !== undefined) headers["idempotency-key"] = spec.idempotencyKey;
    try {
      const response = await this.options.fetch(`${node}${spec.path}`, {
        method: spec.method,
        headers,
        ...(spec.body !== undefined ? { body: JSON.stringify(spec.body) } : {}),
        signal: controller.signal,
      });
      const text = await readBoundedText(response, MAX_RESPONSE_BYTES);
      const answer: Answer = { status: response.status, node, headers: response.headers, text };
      if (response.ok || spec.answerStatuses?.includes(response.status) === true) return { kind: "answer", answer };
      const error = errorFromAnswer(answer);
      // 503, and a 429 `overloaded` (a full queue: the node turned the request away
      // before doing anything), may go better on another node or a moment later.
      // `rate_limited` is about the caller and stays with the caller.
      if (response.status === 503 || (response.status === 429 && error.code === "overloaded")) {
        return { kind: "retry", error, retryAfterMs: retryAfterMs(response.headers.get("retry-after")) };
      }
      return { kind: "refused", error };
    } catch (error) {
      if (error instanceof ConcordError) return { kind: "refused", error };
      if (timedOut) return { kind: "retry", error: new ConcordError("timeout", `no answer within ${timeoutMs} ms`), retryAfterMs: null };
      return { kind: "retry", error: new ConcordError("network", describeNetworkError(error)), retryAfterMs: null };
    } finally {
      clearTimeout(timer);
    }
  }
}

/** The API's `{error: {code, message}}`, or a code derived from the status when a body lacks it. */
export function errorFromAnswer(answer: Pick<Answer, "status" | "text">): ConcordError {
  let code = ConcordError.fallbackCode(answer.status);
  let message = `HTTP ${answer.status}`;
  try {
    const body: unknown = JSON.parse(answer.text);
    const error = typeof body === "object" && body !== null ? (body as { error?: unknown }).error : undefined;
    if (typeof error === "object" && error !== null) {
      const fields = error as { code?: unknown; message?: unknown };
      if (typeof fields.code === "string" && fields.code !== "") code = fields.code;
      if (typeof fields.message === "string" && fields.message !== "") message = fields.message;
    }
  } catch {
    // Not JSON (a proxy's page): the status is all we know.
  }
  return new ConcordError(code, message, answer.status);
}

/** The body as text, refusing more than `maxBytes` rather than buffering whatever arrives. */
async function readBoundedText(response: Response, maxBytes: number): Promise<string> {
  if (response.body === null) return "";
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  let bytes = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return text + decoder.decode();
    bytes += value.byteLength;
    if (bytes > maxBytes) {
      await reader.cancel().catch(() => {});
      throw new ConcordError("bad_response", `answer larger than ${maxBytes} bytes`, response.status);
    }
    text += decoder.decode(value, { stream: true });
  }
}

function describeNetworkError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message === "" ? "connection failed" : message;
}

function withKey(error: ConcordError, key: string | undefined): ConcordError {
  return key === undefined || error.idempotencyKey === key ? error : new ConcordError(error.code, error.message, error.status, key);
}

function pathWithoutQuery(spec: RequestSpec): string {
  return spec.path.split("?")[0] ?? spec.path;
}
