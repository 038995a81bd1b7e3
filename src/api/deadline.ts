import { unavailable } from "./errors.ts";

/**
 * The time one request may take. Every wait on the node goes through `run`, so a request
 * answers 503 when the deadline passes even if the node never settles the promise: API.md
 * promises "never a hang", and we do not trust every layer below to honour its timeout.
 */
export class Deadline {
  constructor(
    private readonly at: number,
    private readonly now: () => number,
  ) {}

  /** Milliseconds left, never negative; what we hand the node as its own timeout. */
  remaining(): number {
    return Math.max(0, this.at - this.now());
  }

  /** `work` gets the time left; its result, or 503 `unavailable` once the deadline passes. */
  run<T>(work: (timeoutMs: number) => Promise<T>): Promise<T> {
    const left = this.remaining();
    if (left <= 0) return Promise.reject(unavailable("the request deadline passed"));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(unavailable(`no answer from the cluster within ${left} ms`)), left);
    });
    // The node may still settle later; nobody listens then, so swallow that to avoid an unhandled rejection.
    let pending: Promise<T>;
    try {
      pending = work(left);
    } catch (error) {
      pending = Promise.reject(error);
    }
    pending.catch(() => {});
    return Promise.race([pending, expired]).finally(() => clearTimeout(timer));
  }
}
