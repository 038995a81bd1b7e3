// Token buckets per key (an address, an account), bounded in memory. Ours rather than
// hono-rate-limiter's: that one counts fixed windows per request, keeps every key until
// its window ends (no cap on keys), and cannot give back a token when the attempt turns
// out fine, which is what lets a failed-login budget ignore successful logins.

export interface BucketRule {
  /** Attempts allowed at once (a full bucket). */
  readonly burst: number;
  /** Tokens added back per second. */
  readonly perSecond: number;
}

export type Taken = { readonly ok: true } | { readonly ok: false; readonly retryAfterS: number };

interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date (ms). */
  at: number;
}

/**
 * One bucket per key, created full. At most `maxKeys` buckets are kept: past it the one
 * touched longest ago goes (a Map keeps insertion order, and a touched key is re-inserted).
 * The least recently used bucket has had the longest to refill, so forgetting it loses
 * the least; an attacker who churns through more keys than the cap only resets buckets
 * that were filling up anyway. Per node: each node limits what it is sent.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

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

  /** Take one token for `key`, or say how many seconds until one is there. */
  take(key: string): Taken {
    const bucket = this.bucket(key);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, retryAfterS: (1 - bucket.tokens) / this.rule.perSecond };
  }

  /** Give back a token taken for an attempt that should not count (a successful login). */
  refund(key: string): void {
    const bucket = this.buckets.get(key);
    if (bucket === undefined) return; // forgotten meanwhile: it starts full anyway
    this.refill(bucket);
    bucket.tokens = Math.min(this.rule.burst, bucket.tokens + 1);
  }

  private bucket(key: string): Bucket {
    let bucket = this.buckets.get(key);
    if (bucket !== undefined) {
      this.buckets.delete(key);
      this.refill(bucket);
    } else {
      bucket = { tokens: this.rule.burst, at: this.now() };
      if (this.buckets.size >= this.maxKeys) this.buckets.delete(this.buckets.keys().next().value!);
    }
    this.buckets.set(key, bucket);
    return bucket;
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

export const DEFAULT_AUTH_RATE_LIMITS: AuthRateLimits = {
  failedLoginsPerAddress: { burst: 20, perSecond: 0.2 },
  failedLoginsPerAccount: { burst: 10, perSecond: 1 / 30 },
  signupsPerAddress: { burst: 60, perSecond: 0.1 },
  signupsPerUsername: { burst: 20, perSecond: 1 / 6 },
  maxKeys: 10_000,
};

/** The four limiters of one app. */
export class AuthLimiters {
  readonly failedLoginsPerAddress: RateLimiter;
  readonly failedLoginsPerAccount: RateLimiter;
  readonly signupsPerAddress: RateLimiter;
  readonly signupsPerUsername: RateLimiter;
  /** 429 rate_limited answers given, by limiter (for /metrics). */
  readonly refusals = { failedLoginsPerAddress: 0, failedLoginsPerAccount: 0, signupsPerAddress: 0, signupsPerUsername: 0 };

  constructor(limits: AuthRateLimits, now: () => number) {
    this.failedLoginsPerAddress = new RateLimiter(limits.failedLoginsPerAddress, now, limits.maxKeys);
    this.failedLoginsPerAccount = new RateLimiter(limits.failedLoginsPerAccount, now, limits.maxKeys);
    this.signupsPerAddress = new RateLimiter(limits.signupsPerAddress, now, limits.maxKeys);
    this.signupsPerUsername = new RateLimiter(limits.signupsPerUsername, now, limits.maxKeys);
  }
}
