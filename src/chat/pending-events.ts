import { PENDING_EVENTS_MAX } from "./chat-limits.ts";
import type { ChatEvent } from "./commands.ts";

/**
 * Events applied but not yet handed to the node, in log order. Live delivery is best
 * effort; the events table is the record clients replay from, which is why dropping the
 * oldest past PENDING_EVENTS_MAX (nobody draining) loses nothing for good.
 */
export class PendingEvents {
  private events: ChatEvent[] = [];

  add(events: readonly ChatEvent[]): void {
    this.events.push(...events);
    const excess = this.events.length - PENDING_EVENTS_MAX;
    if (excess > 0) this.events.splice(0, excess);
  }

  /**
   * Forget events of `index` and later. Applying an index again means the transaction
   * that produced them rolled back (the batch is being retried), so they never happened.
   */
  dropFrom(index: number): void {
    while ((this.events[this.events.length - 1]?.index ?? -1) >= index) this.events.pop();
  }

  drain(): ChatEvent[] {
    const drained = this.events;
    this.events = [];
    return drained;
  }
}
