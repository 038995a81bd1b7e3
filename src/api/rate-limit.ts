// Token buckets per key (an address, an account), bounded in memory. Ours rather than
// hono-rate-limiter's: that one counts fixed windows per request, keeps every key until
// its window ends (no cap on keys), and cannot give back a token; giving back is what lets
// a password check reserve from both its budgets (successes, failures) before it hashes
// and keep only the one its outcome belongs to.

export interface BucketRule {
  /** Attempts allowed at once (a full bucket). */
  readonly burst: number;
  /** Tokens added back per second. */
  readonly perSecond: number;
}

export type Taken =
  | { readonly ok: true }
  | {
      readonly ok: false;
      readonly retryAfterS: number;
      /** Refused because every kept bucket is still refilling and this key has none (not because its own is empty). */
      readonly full?: true;
    };

interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date (ms). */
  at: number;
}

/**
 * One bucket per key; a key without one has a full bucket. A bucket that is full again is
 * dropped (given its tokens back: at once; refilled: when a full map is swept), so only
 * keys that still owe something take memory. At most `maxKeys` buckets are kept, and a bucket that still owes tokens is
 * never forgotten to make room: a new key then finds every kept bucket refilling, and is
 * refused (`full`) until one is full again. Forgetting a depleted bucket would hand its key
 * a fresh budget, so a flood of new keys (junk usernames) could reset the limit of the one
 * key it aims at; refusing new keys limits the flood instead. Per node: each node limits
 * what it is sent.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  /** No kept bucket is full before this (ms): until then a full map need not be swept. */
  private nextFullAt = 0;

  constructor(
    readonly rule: BucketRule,
    private readonly now: () => number,
    readonly maxKeys = 10_000,
  ) {
    if (!(rule.burst >= 1) || !(rule.perSecond > 0)) throw new RangeError(`a bucket needs burst >= 1 and perSecond > 0, got ${rule.burst} and ${rule.perSecond}`);
    if (!Number.isInteger(maxKeys) || maxKeys < 1) throw new RangeError(`maxKeys must be a positive integer, got ${maxKeys}`);
  }

  /** Keys tracked now (for tests and metrics). */
  get size(): number {
    return this.buckets.size;
  }

  /** Take `count` tokens (at most a full bucket) for `key`, or say how many seconds until they are there. */
  take(key: string, count = 1): Taken {
    count = Math.min(count, this.rule.burst);
    let bucket = this.buckets.get(key);
    if (bucket !== undefined) this.refill(bucket);
    else {
      if (this.buckets.size >= this.maxKeys && !this.sweep()) return { ok: false, retryAfterS: Math.max(0, this.nextFullAt - this.now()) / 1000, full: true };
      bucket = { tokens: this.rule.burst, at: this.now() };
      this.buckets.set(key, bucket);
    }
    if (bucket.tokens >= count) {
      bucket.tokens -= count;
      this.nextFullAt = Math.min(this.nextFullAt, this.fullAt(bucket)); // a new bucket may refill before the others
      return { ok: true };
    }
    return { ok: false, retryAfterS: (count - bucket.tokens) / this.rule.perSecond };
  }

  /** Give back tokens taken for an attempt that should not count; a bucket full again is dropped. */
  refund(key: string, count = 1): void {
    const bucket = this.buckets.get(key);
    if (bucket === undefined) return; // full already
    this.refill(bucket);
    bucket.tokens = Math.min(this.rule.burst, bucket.tokens + count);
    if (bucket.tokens >= this.rule.burst) this.buckets.delete(key);
    else this.nextFullAt = Math.min(this.nextFullAt, this.fullAt(bucket));
  }

  /** Drop every bucket that has refilled; true when that made room. */
  private sweep(): boolean {
    const now = this.now();
    if (now < this.nextFullAt) return false;
    let next = Infinity;
    for (const [key, bucket] of this.buckets) {
      const fullAt = this.fullAt(bucket);
      if (fullAt <= now) this.buckets.delete(key);
      else next = Math.min(next, fullAt);
    }
    this.nextFullAt = next;
    return this.buckets.size < this.maxKeys;
  }

  /** When `bucket` will be full if nothing else is taken (ms). */
  private fullAt(bucket: Bucket): number {
    return bucket.at + ((this.rule.burst - bucket.tokens) / this.rule.perSecond) * 1000;
  }

  private refill(bucket: Bucket): void {
    const now = this.now();
    // A clock that went back adds nothing (and takes nothing away).
    const elapsedS = Math.max(0, now - bucket.at) / 1000;
    bucket.tokens = Math.min(this.rule.burst, bucket.tokens + elapsedS * this.rule.perSecond);
    bucket.at = now;
  }
}

/** The limits on password checks and sign-ups (per node). */
export interface AuthRateLimits {
  /**
   * Successful logins (and successful password checks: a password change counts two, for
   * its second hash) from one address. Every check costs a hash, so the right password is
   * limited too, only more generously than a wrong one.
   */
  readonly successfulLoginsPerAddress: BucketRule;
  /** Successful logins and password checks of one account, from anywhere. */
  readonly successfulLoginsPerAccount: BucketRule;
  /** Failed logins (and failed password checks) from one address. */
  readonly failedLoginsPerAddress: BucketRule;
  /** Failed logins and password checks against one account name, from anywhere. */
  readonly failedLoginsPerAccount: BucketRule;
  /** Sign-up attempts from one address. */
  readonly signupsPerAddress: BucketRule;
  /** Sign-up attempts for one username, from anywhere. */
  readonly signupsPerUsername: BucketRule;
  /** Buckets kept per limiter at most. */
  readonly maxKeys: number;
}

// Successes are budgeted generously: an office or a carrier's NAT puts many people behind
// one address, and what keeps one address from crowding others out of the hashing gate is
// the gate's per-address share, not this budget. The budgets bound the CPU one address
// (600, then 5 a second: at 22 ms a hash, a tenth of a core per node at most) and one
// account (120, then 1 a second) can spend on correct passwords. Failures refill their 10
// per account in 30 s each: filling 10,000 keys with them takes over 330 failed hashes a
// second per node, more than the hashing gate lets through on a small machine.
export const DEFAULT_AUTH_RATE_LIMITS: AuthRateLimits = {
  successfulLoginsPerAddress: { burst: 600, perSecond: 5 },
  successfulLoginsPerAccount: { burst: 120, perSecond: 1 },
  failedLoginsPerAddress: { burst: 20, perSecond: 0.2 },
  failedLoginsPerAccount: { burst: 10, perSecond: 1 / 30 },
  signupsPerAddress: { burst: 60, perSecond: 0.1 },
  signupsPerUsername: { burst: 20, perSecond: 1 / 6 },
  maxKeys: 10_000,
};

/** No limit worth the name on any of them: for load generators with every client on one address. */
const UNLIMITED: BucketRule = { burst: 1e9, perSecond: 1e9 };
export const UNLIMITED_AUTH_RATE_LIMITS: Partial<AuthRateLimits> = {
  successfulLoginsPerAddress: UNLIMITED,
  successfulLoginsPerAccount: UNLIMITED,
  failedLoginsPerAddress: UNLIMITED,
  failedLoginsPerAccount: UNLIMITED,
  signupsPerAddress: UNLIMITED,
  signupsPerUsername: UNLIMITED,
};

/** The limiters of one app. */
export class AuthLimiters {
  readonly successfulLoginsPerAddress: RateLimiter;
  readonly successfulLoginsPerAccount: RateLimiter;
  readonly failedLoginsPerAddress: RateLimiter;
  readonly failedLoginsPerAccount: RateLimiter;
  readonly signupsPerAddress: RateLimiter;
  readonly signupsPerUsername: RateLimiter;
  /** 429 rate_limited answers given, by limiter (for /metrics). */
  readonly refusals = { successfulLoginsPerAddress: 0, successfulLoginsPerAccount: 0, failedLoginsPerAddress: 0, failedLoginsPerAccount: 0, signupsPerAddress: 0, signupsPerUsername: 0 };

  constructor(limits: AuthRateLimits, now: () => number) {
    this.successfulLoginsPerAddress = new RateLimiter(limits.successfulLoginsPerAddress, now, limits.maxKeys);
    this.successfulLoginsPerAccount = new RateLimiter(limits.successfulLoginsPerAccount, now, limits.maxKeys);
    this.failedLoginsPerAddress = new RateLimiter(limits.failedLoginsPerAddress, now, limits.maxKeys);
    this.failedLoginsPerAccount = new RateLimiter(limits.failedLoginsPerAccount, now, limits.maxKeys);
    this.signupsPerAddress = new RateLimiter(limits.signupsPerAddress, now, limits.maxKeys);
    this.signupsPerUsername = new RateLimiter(limits.signupsPerUsername, now, limits.maxKeys);
  }
}
