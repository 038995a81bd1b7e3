import type { Context } from "hono";
import { streamSSE, type SSEStreamingApi } from "hono/streaming";
import type { ApiDeps, AppEnv } from "./api-env.ts";
import { clientKey } from "./client-address.ts";
import { overloaded } from "./errors.ts";
import type { StreamPool } from "./stream-pool.ts";

/**
 * Open a Server-Sent Events response with what every stream needs: a slot in its pool
 * (bounded in all, per client address and per account), a keep-alive comment every
 * `heartbeatMs` so proxies and clients can tell a quiet stream from a dead one, and
 * cleanup however the stream ends. `body` runs until it returns or the client goes away
 * (`stream.aborted`).
 */
export function openStream(
  c: Context<AppEnv>,
  deps: ApiDeps,
  pool: { readonly pool: StreamPool; readonly account: string | null },
  body: (stream: SSEStreamingApi, onHeartbeat: (listener: () => void) => void) => Promise<void>,
): Response {
  const slot = pool.pool.acquire(clientKey(c, deps.addressOf), pool.account);
  if (!slot.ok) throw overloaded(slot.reason, 5);
  const release = slot.release;
  c.header("X-Accel-Buffering", "no"); // nginx and friends: do not buffer the stream
  return streamSSE(c, async (stream) => {
    const heartbeatListeners: (() => void)[] = [];
    const timer = setInterval(() => {
      if (stream.aborted || stream.closed) return;
      void stream.write(": keep-alive\n\n");
      for (const listener of heartbeatListeners) listener();
    }, deps.heartbeatMs);
    try {
      await body(stream, (listener) => heartbeatListeners.push(listener));
    } catch {
      // The stream cannot carry a status any more; closing makes the client reconnect
      // (with Last-Event-ID), which is the recovery for every failure here.
    } finally {
      clearInterval(timer);
      release();
    }
  });
}

/** Resolves when `wake` is called or the client goes away; the loop body checks which. */
export class Waker {
  private pending: (() => void) | null = null;
  private woken = false;

  constructor(stream: SSEStreamingApi) {
    stream.onAbort(() => this.wake());
  }

  wake(): void {
    this.woken = true;
    this.pending?.();
    this.pending = null;
  }

  wait(): Promise<void> {
    if (this.woken) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.pending = () => {
        this.woken = false;
        resolve();
      };
    });
  }
}
