// Delays between attempts. Jittered so that many clients failing over together after a
// leader dies do not all hit the next node in the same millisecond.

/** Exponential backoff with "equal jitter": somewhere in [half, full] of base·2^step, capped. */
export function backoffDelayMs(step: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const full = Math.min(maxMs, baseMs * 2 ** Math.min(step, 30));
  return Math.round(full / 2 + (random() * full) / 2);
}

/**
 * The Retry-After header in milliseconds (delta-seconds or an HTTP date), null when absent
 * or unreadable. Never negative.
 */
export function retryAfterMs(header: string | null, nowMs: number = Date.now()): number | null {
  if (header === null) return null;
  const text = header.trim();
  if (/^[0-9]+$/.test(text)) return Number(text) * 1000;
  const dateMs = Date.parse(text);
  return Number.isNaN(dateMs) ? null : Math.max(0, dateMs - nowMs);
}

/** Resolves after `delayMs`, or at once when `signal` aborts (the caller checks which). */
export function sleepMs(delayMs: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (delayMs <= 0 || signal?.aborted === true) {
      resolve();
      return;
    }
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, delayMs);
    signal?.addEventListener("abort", done, { once: true });
  });
}
