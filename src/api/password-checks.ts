import type { Context } from "hono";
import type { ApiDeps, AppEnv } from "./api-env.ts";
import { clientKey } from "./client-address.ts";
import { rateLimited } from "./errors.ts";
import type { RateLimiter } from "./rate-limit.ts";

// The rate limits around the requests that check or set a password. A password check
// (login, password change, account deletion) takes a token from its address's and its
// account's failed-attempt buckets before it hashes anything, and gives both back unless
// the password turned out wrong: only failures count, so people who type their password
// right are never limited, and a guesser is, per address and per account. Sign-ups take
// from their address's and their username's buckets, and keep them whatever the outcome
// (a taken name is a probe too), unless the node could not serve the request at all.

/** Take one token from each limiter in turn; if one is empty, give back what was taken and answer 429. */
function takeAll(limiters: readonly (readonly [RateLimiter, string, () => void, string])[]): () => void {
  const taken: (readonly [RateLimiter, string])[] = [];
  for (const [limiter, key, counted, what] of limiters) {
    const result = limiter.take(key);
    if (!result.ok) {
      for (const [l, k] of taken) l.refund(k);
      counted();
      throw rateLimited(`too many ${what}; try again in ${Math.ceil(result.retryAfterS)} s`, result.retryAfterS);
    }
    taken.push([limiter, key]);
  }
  return () => {
    for (const [l, k] of taken) l.refund(k);
  };
}

/**
 * Run a password check for `account` under the failed-attempt limits. `check` resolves
 * true when the password is right; a rejection (the node could not serve, the hashing
 * gate is full) is not the client's failure and costs nothing either.
 */
export async function limitedPasswordCheck(c: Context<AppEnv>, deps: ApiDeps, account: string, check: () => Promise<boolean>): Promise<boolean> {
  const { limiters } = deps;
  const refund = takeAll([
    [limiters.failedLoginsPerAddress, clientKey(c, deps.addressOf), () => limiters.refusals.failedLoginsPerAddress++, "failed password attempts from your address"],
    [limiters.failedLoginsPerAccount, account, () => limiters.refusals.failedLoginsPerAccount++, "failed password attempts for this account"],
  ]);
  let ok: boolean;
  try {
    ok = await check();
  } catch (error) {
    refund();
    throw error;
  }
  if (ok) refund();
  return ok;
}

/** Run a sign-up under its limits; `work` failing with 429 or 5xx (not the client's doing) gives the tokens back. */
export async function limitedSignup<T>(c: Context<AppEnv>, deps: ApiDeps, username: string, work: () => Promise<T>): Promise<T> {
  const { limiters } = deps;
  const refund = takeAll([
    [limiters.signupsPerAddress, clientKey(c, deps.addressOf), () => limiters.refusals.signupsPerAddress++, "sign-ups from your address"],
    [limiters.signupsPerUsername, username, () => limiters.refusals.signupsPerUsername++, "sign-ups for this username"],
  ]);
  try {
    return await work();
  } catch (error) {
    // Thrown ApiErrors carry their status; anything else (the node refusing) maps to 429 or 5xx.
    const status = typeof error === "object" && error !== null && "status" in error && typeof error.status === "number" ? error.status : 500;
    if (status === 429 || status >= 500) refund();
    throw error;
  }
}
