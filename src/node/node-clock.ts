/**
 * Time as the driver sees it: the wall clock, a monotonic clock, timers and the end of
 * an event-loop turn. Production passes `systemClock`; the whole-node simulator passes a
 * virtual one, so the RaftNode that ships runs under a seeded schedule unchanged.
 */
export interface NodeClock {
  /** Milliseconds since the epoch: leader time stamps and request deadlines. */
  nowMs(): number;
  /** Milliseconds from an arbitrary origin, never going back: durations and stall checks. */
  monotonicMs(): number;
  /** Run `fn` once after `ms`; the returned function cancels it (a no-op once it ran). */
  after(ms: number, fn: () => void): () => void;
  /** Run `fn` every `ms` until the returned function is called. */
  every(ms: number, fn: () => void): () => void;
  /** Resolves after the rest of this event-loop turn's I/O callbacks have run. */
  nextTurn(): Promise<void>;
}

export const systemClock: NodeClock = {
  nowMs: () => Date.now(),
  monotonicMs: () => performance.now(),
  after(ms, fn) {
    const timer = setTimeout(fn, Math.max(0, ms));
    return () => clearTimeout(timer);
  },
  every(ms, fn) {
    const timer = setInterval(fn, ms);
    return () => clearInterval(timer);
  },
  nextTurn: () => new Promise<void>((resolve) => setImmediate(resolve)),
};

/** Resolves after `ms` on `clock`. */
export function sleepOn(clock: NodeClock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.after(ms, resolve));
}
