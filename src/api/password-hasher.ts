/** Slow salted password hashing, injected by the entry point (Bun.password on Bun). */
export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(password: string, hash: string): Promise<boolean>;
}
