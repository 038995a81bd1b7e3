import { chmodSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { nkeys } from "@nats-io/transport-node";

// A node's NATS identity is an nkey (an Ed25519 key pair; nats-server keeps only the
// public key and checks a signature of its challenge at connect). The seed lives in a
// file readable by its owner alone and is passed around by path: never on a command
// line, never in a log.

export type SecretFileErrorCode =
  | "secret_missing" // no such file, or not a regular file
  | "secret_exposed" // group or others may read or write it: chmod 600
  | "secret_invalid"; // unreadable contents (e.g. not an nkey user seed)

/** A secret file Concord refuses to use; `code` is stable, the message never holds the secret. */
export class SecretFileError extends Error {
  override readonly name = "SecretFileError";
  constructor(
    readonly code: SecretFileErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** The trimmed contents of a secret file that only its owner may read. */
export function readSecretFile(path: string, what: string): string {
  let mode: number;
  try {
    const stat = statSync(path);
    if (!stat.isFile()) throw new SecretFileError("secret_missing", `${what} ${path} is not a file`);
    mode = stat.mode;
  } catch (error) {
    if (error instanceof SecretFileError) throw error;
    throw new SecretFileError("secret_missing", `cannot read ${what} ${path}: ${(error as NodeJS.ErrnoException).code ?? "error"}`);
  }
  if ((mode & 0o077) !== 0) {
    throw new SecretFileError("secret_exposed", `${what} ${path} has mode ${(mode & 0o777).toString(8)}; others must not read it (chmod 600 ${path})`);
  }
  const text = readFileSync(path, "utf8").trim();
  if (text === "") throw new SecretFileError("secret_invalid", `${what} ${path} is empty`);
  return text;
}

/** Write a secret readable by its owner alone (the directory too), replacing any old one whole. */
export function writeSecretFile(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, text.endsWith("\n") ? text : `${text}\n`, { mode: 0o600 });
  chmodSync(temporary, 0o600);
  renameSync(temporary, path);
}

export interface NatsIdentity {
  /** The nkey seed ("SU…"): the secret. */
  readonly seed: Uint8Array;
  /** The nkey public key ("U…"): what nats-server's configuration names. */
  readonly publicKey: string;
}

/** A fresh nkey user identity. */
export function createNatsIdentity(): { seed: string; publicKey: string } {
  const pair = nkeys.createUser();
  return { seed: new TextDecoder().decode(pair.getSeed()), publicKey: pair.getPublicKey() };
}

/** The identity in a seed file, checked: owner-only mode, a valid nkey user seed. */
export function readNatsIdentity(path: string): NatsIdentity {
  const seed = new TextEncoder().encode(readSecretFile(path, "NATS identity"));
  let publicKey: string;
  try {
    publicKey = nkeys.fromSeed(seed).getPublicKey();
  } catch {
    throw new SecretFileError("secret_invalid", `NATS identity ${path} does not hold an nkey seed`);
  }
  if (!publicKey.startsWith("U")) throw new SecretFileError("secret_invalid", `NATS identity ${path} is not an nkey user seed`);
  return { seed, publicKey };
}

/** Load the identity at `path`, or create it there (0600) when missing. */
export function loadOrCreateNatsIdentity(path: string): NatsIdentity {
  try {
    statSync(path);
  } catch {
    writeSecretFile(path, createNatsIdentity().seed);
  }
  return readNatsIdentity(path);
}
