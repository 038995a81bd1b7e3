import type { PasswordHasher } from "../password-hasher.ts";

/**
 * PBKDF2-SHA256 through crypto.subtle, so it runs on Bun and Deno alike. Test support:
 * the default iteration count is far below the 600k API.md asks for in production, to keep
 * test suites fast; the format carries the count, so a stronger hasher verifies the same strings.
 */
export function pbkdf2Hasher(iterations = 1000): PasswordHasher {
  return {
    async hash(password) {
      const salt = crypto.getRandomValues(new Uint8Array(16));
      const derived = await derive(password, salt, iterations);
      return `pbkdf2-sha256$${iterations}$${toBase64(salt)}$${toBase64(derived)}`;
    },
    async verify(password, hash) {
      const [scheme, rounds, salt, expected] = hash.split("$");
      const count = Number(rounds);
      if (scheme !== "pbkdf2-sha256" || !Number.isInteger(count) || count < 1 || count > 10_000_000 || salt === undefined || expected === undefined) return false;
      const actual = toBase64(await derive(password, fromBase64(salt), count));
      let diff = actual.length ^ expected.length;
      for (let i = 0; i < Math.min(actual.length, expected.length); i++) diff |= actual.charCodeAt(i) ^ expected.charCodeAt(i);
      return diff === 0;
    },
  };
}

async function derive(password: string, salt: Uint8Array<ArrayBuffer>, iterations: number): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(password), "PBKDF2", false, ["deriveBits"]);
  return new Uint8Array(await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, key, 256));
}

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
