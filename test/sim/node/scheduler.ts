// Virtual time for the whole-node simulator. Every timer, disk completion and message
// delivery is an event on one queue; after each event the microtasks it set off (the
// RaftNode's awaits) run to the end before the next event, so a run is a pure function
// of its seed even though the node under test is async code.

import type { NodeClock } from "../../../src/node/node-clock.ts";
import { EventQueue } from "../event-queue.ts";

interface Timed {
  readonly run: () => void;
  cancelled: boolean;
}

/** The wall clock nodes see at virtual time 0 (leader time stamps land in the chat state). */
export const SIM_EPOCH_MS = Date.UTC(2026, 0, 1);

/** Lets every microtask queued so far, and those they queue, run: one real macrotask turn. */
function drainMicrotasks(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve));
}

export class SimScheduler {
  nowMs = 0;
  events = 0;
  private readonly queue = new EventQueue<Timed>();

  /** Run `run` after `delayMs` of virtual time; the returned function cancels it. */
  at(delayMs: number, run: () => void): () => void {
    const timed: Timed = { run, cancelled: false };
    this.queue.push(this.nowMs + Math.max(0, delayMs), timed);
    return () => {
      timed.cancelled = true;
    };
  }

  /**
   * The clock one node incarnation runs on. Once `alive()` is false (the process was
   * killed) its timers never fire and its turns never end: a dead process does nothing.
   */
  clockFor(alive: () => boolean): NodeClock {
    return {
      nowMs: () => SIM_EPOCH_MS + this.nowMs,
      monotonicMs: () => this.nowMs,
      after: (ms, fn) =>
        this.at(ms, () => {
          if (alive()) fn();
        }),
      every: (ms, fn) => {
        let cancelled = false;
        const tick = (): void => {
          if (cancelled || !alive()) return;
          fn();
          this.at(ms, tick);
        };
        this.at(ms, tick);
        return () => {
          cancelled = true;
        };
      },
      nextTurn: () =>
        new Promise<void>((resolve) =>
          this.at(0, () => {
            if (alive()) resolve();
          }),
        ),
    };
  }

  /**
   * Run events up to `endMs` (each followed by its microtasks and then `afterEach`);
   * true as soon as `done()` holds, false when time or events run out first.
   */
  async runUntil(endMs: number, done: () => boolean, afterEach: () => void): Promise<boolean> {
    for (;;) {
      const next = this.queue.peekTimeMs();
      if (next === undefined || next > endMs) {
        if (Number.isFinite(endMs)) this.nowMs = endMs;
        return false;
      }
      const event = this.queue.pop()!;
      if (event.item.cancelled) continue;
      this.nowMs = event.atMs;
      this.events++;
      event.item.run();
      await drainMicrotasks();
      afterEach();
      if (done()) return true;
    }
  }
}
