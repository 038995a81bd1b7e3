import type { PasswordHasher } from "../api/password-hasher.ts";

/**
 * argon2id through Bun's native implementation, with OWASP's recommended parameters
 * (19 MiB, 2 passes). The PHC string it returns carries salt and parameters, so any
 * node can verify a hash another node made.
 *
 * The async calls run on Bun's thread pool, off the event loop (measured: one verify
 * ~22 ms; 64 at once kept this process's loop within 4 ms of its timers, where
 * verifySync holds it for the whole hash). What they do take is CPU: the API bounds how
 * many run at once per node (src/api/hashing-gate.ts), so a flood of logins cannot
 * starve raft on a machine's cores.
 */
export const bunPasswordHasher: PasswordHasher = {
  hash: (password) => Bun.password.hash(password, { algorithm: "argon2id", memoryCost: 19_456, timeCost: 2 }),
  verify: (password, hash) => Bun.password.verify(password, hash),
};
