import type { PasswordHasher } from "../api/chat-backend.ts";

/**
 * argon2id through Bun's native implementation, with OWASP's recommended parameters
 * (19 MiB, 2 passes). The PHC string it returns carries salt and parameters, so any
 * node can verify a hash another node made.
 */
export const bunPasswordHasher: PasswordHasher = {
  hash: (password) => Bun.password.hash(password, { algorithm: "argon2id", memoryCost: 19_456, timeCost: 2 }),
  verify: (password, hash) => Bun.password.verify(password, hash),
};
