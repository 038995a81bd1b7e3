import type { Context } from "hono";
import type { ApiDeps, AppEnv } from "./api-env.ts";
import { clientKey } from "./client-address.ts";
import type { PasswordHasher } from "./password-hasher.ts";
import { rateLimited } from "./errors.ts";
import type { RateLimiter } from "./rate-limit.ts";

// The rate limits around the requests that check or set a password. Every password check
// (login, password change, account deletion) costs a slow hash, so every one is charged
// to a budget of its address and of its account, whatever the outcome: a generous one for
// checks that succeed, a strict one for those that fail. The outcome is only known after
// the hash, so a check reserves from both before it hashes and gives back the one its
// outcome does not belong to; a guesser is limited per address and per account, and a
// script logging in right as fast as it is answered is limited too (it would otherwise
// fill the node's hashing gate and replicate a session per login). Sign-ups take from
// their address's and their username's buckets, and keep them whatever the outcome (a
// taken name is a probe too), unless the node could not serve the request at all. The
// hashes themselves run through the hashing gate under the address's share of its queue.

/** One budget to take from: the limiter, the key, how many tokens, the refusal counter, what a refusal says is too many. */
type Budget = readonly [limiter: RateLimiter, key: string, count: number, counted: () => void, what: string];

/** Take from each budget in turn; if one is short, give back what was taken and answer 429. Returns each budget's give-back, in order. */
function takeAll(budgets: readonly Budget[]): (() => void)[] {
  const refunds: (() => void)[] = [];
  for (const [limiter, key, count, counted, what] of budgets) {
    const result = limiter.take(key, count);
    if (!result.ok) {
      for (const refund of refunds) refund();
      counted();
      const wait = Math.ceil(result.retryAfterS);
      throw rateLimited(result.full ? `this node cannot count more ${what} right now (too many others are limited); try again in ${wait} s` : `too many ${what}; try again in ${wait} s`, result.retryAfterS);
    }
    refunds.push(() => limiter.refund(key, count));
  }
  return refunds;
}

/** The hashing gate as this request's client may use it (its address's share of the queue). */
export function clientPasswords(c: Context<AppEnv>, deps: ApiDeps): PasswordHasher {
  return deps.hashing.for(clientKey(c, deps.addressOf));
}

/**
 * Run a password check for `account` under the limits. `check` hashes through the hasher
 * it is given and resolves true when the password is right; `hashesIfRight` is how many
 * hashes the request makes when it is (a password change hashes the new one too). A
 * rejection (the node could not serve, the hashing gate is full) costs nothing.
 */
export async function limitedPasswordCheck(
  c: Context<AppEnv>,
  deps: ApiDeps,
  account: string,
  check: (passwords: PasswordHasher) => Promise<boolean>,
  hashesIfRight = 1,
): Promise<boolean> {
  const { limiters } = deps;
  const address = clientKey(c, deps.addressOf);
  // Addresses first: an address out of budget never makes an account's bucket.
  const refunds = takeAll([
    [limiters.successfulLoginsPerAddress, address, hashesIfRight, () => limiters.refusals.successfulLoginsPerAddress++, "logins from your address"],
    [limiters.failedLoginsPerAddress, address, 1, () => limiters.refusals.failedLoginsPerAddress++, "failed password attempts from your address"],
    [limiters.successfulLoginsPerAccount, account, hashesIfRight, () => limiters.refusals.successfulLoginsPerAccount++, "logins to this account"],
    [limiters.failedLoginsPerAccount, account, 1, () => limiters.refusals.failedLoginsPerAccount++, "failed password attempts for this account"],
  ]);
  const [rightFromAddress, wrongFromAddress, rightForAccount, wrongForAccount] = refunds as [() => void, () => void, () => void, () => void];
  let ok: boolean;
  try {
    ok = await check(deps.hashing.for(address));
  } catch (error) {
    for (const refund of refunds) refund();
    throw error;
  }
  if (ok) {
    wrongFromAddress();
    wrongForAccount();
  } else {
    rightFromAddress();
    rightForAccount();
  }
  return ok;
}

/** Run a sign-up under its limits; `work` failing with 429 or 5xx (not the client's doing) gives the tokens back. */
export async function limitedSignup<T>(c: Context<AppEnv>, deps: ApiDeps, username: string, work: (passwords: PasswordHasher) => Promise<T>): Promise<T> {
  const { limiters } = deps;
  const address = clientKey(c, deps.addressOf);
  const refunds = takeAll([
    [limiters.signupsPerAddress, address, 1, () => limiters.refusals.signupsPerAddress++, "sign-ups from your address"],
    [limiters.signupsPerUsername, username, 1, () => limiters.refusals.signupsPerUsername++, "sign-ups for this username"],
  ]);
  try {
    return await work(deps.hashing.for(address));
  } catch (error) {
    // Thrown ApiErrors carry their status; anything else (the node refusing) maps to 429 or 5xx.
    const status = typeof error === "object" && error !== null && "status" in error && typeof error.status === "number" ? error.status : 500;
    if (status === 429 || status >= 500) for (const refund of refunds) refund();
    throw error;
  }
}
