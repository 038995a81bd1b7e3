import type { PasswordHasher } from "./password-hasher.ts";
import { overloaded } from "./errors.ts";

// Password hashing is the one thing a request can make a node do that costs tens of
// milliseconds of CPU (argon2id, ~22 ms a hash here). Bun runs Bun.password's async
// calls on a thread pool, so they do not hold the event loop (64 concurrent verifies:
// < 4 ms of loop delay in one process), but they do take the machine's cores: 64
// concurrent bad logins on five nodes sharing two cores left every node's event loop
// starved, up to 237 ms late against a 300 ms election timeout. The gate bounds how many
// hashes one node runs at once and how many wait; past that a login gets 429 at once.
// The waiting places are shared between addresses: one address may hold at most half of
// them (rounded up), so a script logging in as fast as it is answered cannot keep
// everyone else's logins out (its hashes are also charged to its budgets, rate-limit.ts).

export interface HashingLimits {
  /** Hashes running at once (default: half the cores, at least 1). */
  readonly concurrency: number;
  /**
   * Hashes waiting for a turn at most; more are refused with 429 overloaded (default 4:
   * a short queue answers a flood with quick 429s instead of seconds of waiting for all).
   */
  readonly queue: number;
  /** A hash that has not started after this long is refused instead (default 1000 ms). */
  readonly maxWaitMs: number;
}

export function defaultHashingLimits(): HashingLimits {
  const cores = typeof navigator !== "undefined" && Number.isInteger(navigator.hardwareConcurrency) ? navigator.hardwareConcurrency : 2;
  return { concurrency: Math.max(1, Math.floor(cores / 2)), queue: 4, maxWaitMs: 1000 };
}

interface Waiter {
  readonly start: () => void;
  readonly timer: ReturnType<typeof setTimeout>;
}

/** A PasswordHasher that runs its inner hasher's calls through a bounded gate. */
export class HashingGate implements PasswordHasher {
  private running = 0;
  private readonly waiting: Waiter[] = [];
  /** Calls waiting, by client. */
  private readonly waitingBy = new Map<string, number>();
  /** Calls refused because the queue (or the address's share of it) was full or the wait too long (for /metrics). */
  refused = 0;

  constructor(
    private readonly inner: PasswordHasher,
    readonly limits: HashingLimits,
  ) {
    if (!Number.isInteger(limits.concurrency) || limits.concurrency < 1) throw new RangeError(`hashing concurrency must be >= 1, got ${limits.concurrency}`);
    if (!Number.isInteger(limits.queue) || limits.queue < 0) throw new RangeError(`hashing queue must be >= 0, got ${limits.queue}`);
  }

  get active(): number {
    return this.running;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** Waiting places one client may hold: half the queue, rounded up. */
  get perClientQueue(): number {
    return Math.ceil(this.limits.queue / 2);
  }

  hash(password: string): Promise<string> {
    return this.run(() => this.inner.hash(password), undefined);
  }

  verify(password: string, hash: string): Promise<boolean> {
    return this.run(() => this.inner.verify(password, hash), undefined);
  }

  /** This gate for one client (an address key): its calls hold at most `perClientQueue` waiting places. */
  for(client: string): PasswordHasher {
    return {
      hash: (password) => this.run(() => this.inner.hash(password), client),
      verify: (password, hash) => this.run(() => this.inner.verify(password, hash), client),
    };
  }

  private async run<T>(work: () => Promise<T>, client: string | undefined): Promise<T> {
    await this.turn(client);
    try {
      return await work();
    } finally {
      this.running--;
      this.waiting.shift()?.start();
    }
  }

  /** Resolves when this call may run (its slot already counted in `running`). */
  private turn(client: string | undefined): Promise<void> {
    if (this.running < this.limits.concurrency) {
      this.running++;
      return Promise.resolve();
    }
    if (this.waiting.length >= this.limits.queue) {
      this.refused++;
      return Promise.reject(overloaded(`this node is already checking ${this.running + this.waiting.length} passwords; try again shortly`));
    }
    const mine = client === undefined ? 0 : (this.waitingBy.get(client) ?? 0);
    if (client !== undefined && mine >= this.perClientQueue) {
      this.refused++;
      return Promise.reject(overloaded(`this node already has ${mine} passwords from your address waiting to be checked; try again shortly`));
    }
    if (client !== undefined) this.waitingBy.set(client, mine + 1);
    const leave = () => {
      if (client === undefined) return;
      const left = (this.waitingBy.get(client) ?? 1) - 1;
      if (left > 0) this.waitingBy.set(client, left);
      else this.waitingBy.delete(client);
    };
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        start: () => {
          clearTimeout(waiter.timer);
          leave();
          this.running++;
          resolve();
        },
        timer: setTimeout(() => {
          const at = this.waiting.indexOf(waiter);
          if (at >= 0) this.waiting.splice(at, 1);
          leave();
          this.refused++;
          reject(overloaded(`no turn to check the password within ${this.limits.maxWaitMs} ms; try again shortly`));
        }, this.limits.maxWaitMs),
      };
      this.waiting.push(waiter);
    });
  }
}
