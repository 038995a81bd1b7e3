import type { Message } from "../../src/raft/types.ts";
import type { LogFields, LogLevel, Logger } from "../../src/transport/log.ts";
import type { TransportHandlers } from "../../src/transport/transport.ts";

const WAIT_MS = 15_000;

/** Something to wait on without sleeping: every record() wakes the waiters, who recheck. */
export class Signal {
  private waiters: (() => void)[] = [];

  notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  async until(what: string, done: () => boolean, timeoutMs = WAIT_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      const leftMs = deadline - Date.now();
      if (leftMs <= 0) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, leftMs);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}

/** A transport logger that keeps events for assertions. */
export class EventLog implements Logger {
  readonly events: { event: string; fields: Record<string, unknown> }[] = [];
  readonly signal = new Signal();
  readonly log = (_level: LogLevel, event: string, fields: LogFields = {}): void => {
    this.events.push({ event, fields });
    this.signal.notify();
  };

  count(event: string): number {
    return this.events.filter((e) => e.event === event).length;
  }
}

/** Handlers that record raft messages and requests. */
export class Received {
  readonly messages: Message[] = [];
  requests = 0;
  snapshots = 0;
  readonly signal = new Signal();

  handlers(): TransportHandlers {
    return {
      onMessages: (ms) => {
        this.messages.push(...ms);
        this.signal.notify();
      },
      onSnapshot: async () => {
        this.snapshots++;
        this.signal.notify();
      },
      onRequest: async (_from, payload) => {
        this.requests++;
        this.signal.notify();
        return payload;
      },
    };
  }
}
