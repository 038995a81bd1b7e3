import { COMMAND_BYTES_MAX } from "./chat-limits.ts";
import type { ChatCommand, Idempotency } from "./commands.ts";

// Commands travel as versioned JSON; a log entry is the leader's clock followed by the
// command. Decoding never throws: every replica reads every entry, and one unreadable
// entry must become a refusal on all of them, not a crash on all of them.

/** Bumped when a command's meaning changes; entries of unknown versions are refused. */
export const COMMAND_FORMAT_VERSION = 1;

/** The leader's clock in front of each command: 8 bytes, big-endian, milliseconds since the epoch. */
const TIME_PREFIX_BYTES = 8;
/** The largest time a JS Date can hold; anything later could not become an ISO string. */
const LEADER_TIME_MAX_MS = 8_640_000_000_000_000;

export type Decoded<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

export interface Proposal {
  readonly leaderTimeMs: number;
  readonly command: ChatCommand;
}

/** Canonical bytes: only known fields, in a fixed order, so equal commands encode equally. */
export function encodeCommand(command: ChatCommand): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ v: COMMAND_FORMAT_VERSION, command: canonical(command) }));
}

/** Stateless between calls (no `stream` option), so one serves every decode. */
const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true });
const OPEN_BRACE = 0x7b;
const JSON_WHITESPACE = new Set([0x20, 0x09, 0x0a, 0x0d]);

export function decodeCommand(bytes: Uint8Array): Decoded<ChatCommand> {
  if (bytes.length > COMMAND_BYTES_MAX) return refuse(`the command is ${bytes.length} bytes, over ${COMMAND_BYTES_MAX}`);
  // JSON text that opens with anything else is no object: refusing it here spares every
  // replica a thrown SyntaxError per entry (the most expensive way to say no).
  const first = bytes[0];
  if (first === undefined || (first !== OPEN_BRACE && !JSON_WHITESPACE.has(first))) return refuse("the command is not a JSON object");
  let parsed: unknown;
  try {
    parsed = JSON.parse(STRICT_UTF8.decode(bytes));
  } catch {
    return refuse("the command is not UTF-8 JSON");
  }
  if (!isRecord(parsed) || !hasOnlyKeys(parsed, ["v", "command"])) return refuse("the command envelope is malformed");
  if (parsed["v"] !== COMMAND_FORMAT_VERSION) return refuse(`unknown command format version ${String(parsed["v"])}`);
  const command = readCommand(parsed["command"]);
  return command === null ? refuse("the command's fields are malformed") : { ok: true, value: command };
}

/** Called on the leader just before the command enters the log. */
export function encodeProposal(leaderTimeMs: number, commandBytes: Uint8Array): Uint8Array {
  if (!Number.isSafeInteger(leaderTimeMs) || leaderTimeMs < 0 || leaderTimeMs > LEADER_TIME_MAX_MS) {
    throw new RangeError(`leader time ${leaderTimeMs} is not a valid epoch millisecond count`);
  }
  const out = new Uint8Array(TIME_PREFIX_BYTES + commandBytes.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(leaderTimeMs));
  out.set(commandBytes, TIME_PREFIX_BYTES);
  return out;
}

/** Like decodeProposal, with the reason an entry is unreadable. */
export function readProposal(data: Uint8Array): Decoded<Proposal> {
  if (data.length < TIME_PREFIX_BYTES) return refuse("the entry is shorter than its time prefix");
  const time = new DataView(data.buffer, data.byteOffset, data.byteLength).getBigUint64(0);
  if (time > BigInt(LEADER_TIME_MAX_MS)) return refuse("the entry's leader time is out of range");
  const command = decodeCommand(data.subarray(TIME_PREFIX_BYTES));
  if (!command.ok) return command;
  return { ok: true, value: { leaderTimeMs: Number(time), command: command.value } };
}

export function decodeProposal(data: Uint8Array): Proposal | null {
  const proposal = readProposal(data);
  return proposal.ok ? proposal.value : null;
}

function refuse(reason: string): { ok: false; reason: string } {
  return { ok: false, reason };
}

function canonical(command: ChatCommand): Record<string, unknown> {
  const key = command.idempotency;
  const idempotency = key === undefined ? {} : { idempotency: { account: key.account, key: key.key, ...(key.digest !== undefined ? { digest: key.digest } : {}) } };
  switch (command.type) {
    case "createAccount":
      return { type: command.type, username: command.username, passwordHash: command.passwordHash, ...idempotency };
    case "deleteAccount":
      return { type: command.type, username: command.username, ...idempotency };
    case "createSession":
      return { type: command.type, username: command.username, tokenHash: command.tokenHash, ...idempotency };
    case "revokeSessions":
      return { type: command.type, username: command.username, tokenHash: command.tokenHash, ...idempotency };
    case "touchSession":
      return { type: command.type, username: command.username, tokenHash: command.tokenHash, ...idempotency };
    case "changePassword":
      return { type: command.type, username: command.username, passwordHash: command.passwordHash, keepTokenHash: command.keepTokenHash, ...idempotency };
    case "sendMessage":
      return { type: command.type, from: command.from, to: command.to, content: command.content, ...idempotency };
    case "markRead":
      return { type: command.type, username: command.username, ids: command.ids, with: command.with, upTo: command.upTo, ...idempotency };
    case "deleteMessages":
      return { type: command.type, username: command.username, ids: command.ids, ...idempotency };
  }
}

// Reading checks JSON types only; lengths, charsets and ranges are command-validation's.
function readCommand(value: unknown): ChatCommand | null {
  if (!isRecord(value)) return null;
  const idempotency = readIdempotency(value);
  if (idempotency === null) return null;
  const key = idempotency.value === undefined ? {} : { idempotency: idempotency.value };
  const type = value["type"];
  switch (type) {
    case "createAccount": {
      const { username, passwordHash } = value;
      if (!hasOnlyKeys(value, ["type", "username", "passwordHash", "idempotency"]) || !isString(username) || !isString(passwordHash)) return null;
      return { type, username, passwordHash, ...key };
    }
    case "deleteAccount": {
      const { username } = value;
      if (!hasOnlyKeys(value, ["type", "username", "idempotency"]) || !isString(username)) return null;
      return { type, username, ...key };
    }
    case "createSession": {
      const { username, tokenHash } = value;
      if (!hasOnlyKeys(value, ["type", "username", "tokenHash", "idempotency"]) || !isString(username) || !isString(tokenHash)) return null;
      return { type, username, tokenHash, ...key };
    }
    case "revokeSessions": {
      const { username, tokenHash } = value;
      if (!hasOnlyKeys(value, ["type", "username", "tokenHash", "idempotency"]) || !isString(username) || !isStringOrNull(tokenHash)) return null;
      return { type, username, tokenHash, ...key };
    }
    case "touchSession": {
      const { username, tokenHash } = value;
      if (!hasOnlyKeys(value, ["type", "username", "tokenHash", "idempotency"]) || !isString(username) || !isString(tokenHash)) return null;
      return { type, username, tokenHash, ...key };
    }
    case "changePassword": {
      const { username, passwordHash, keepTokenHash } = value;
      if (!hasOnlyKeys(value, ["type", "username", "passwordHash", "keepTokenHash", "idempotency"]) || !isString(username) || !isString(passwordHash) || !isStringOrNull(keepTokenHash)) return null;
      return { type, username, passwordHash, keepTokenHash, ...key };
    }
    case "sendMessage": {
      const { from, to, content } = value;
      if (!hasOnlyKeys(value, ["type", "from", "to", "content", "idempotency"]) || !isString(from) || !isString(to) || !isString(content)) return null;
      return { type, from, to, content, ...key };
    }
    case "markRead": {
      const { username, ids, with: other, upTo } = value;
      if (!hasOnlyKeys(value, ["type", "username", "ids", "with", "upTo", "idempotency"]) || !isString(username)) return null;
      if (!(ids === null || isNumberArray(ids)) || !isStringOrNull(other) || !(upTo === null || typeof upTo === "number")) return null;
      return { type, username, ids, with: other, upTo, ...key };
    }
    case "deleteMessages": {
      const { username, ids } = value;
      if (!hasOnlyKeys(value, ["type", "username", "ids", "idempotency"]) || !isString(username) || !isNumberArray(ids)) return null;
      return { type, username, ids, ...key };
    }
    default:
      return null;
  }
}

/** `{ value: undefined }` when absent, null when present but malformed. */
function readIdempotency(command: Record<string, unknown>): { value: Idempotency | undefined } | null {
  if (!Object.hasOwn(command, "idempotency")) return { value: undefined };
  const value = command["idempotency"];
  if (!isRecord(value) || !hasOnlyKeys(value, ["account", "key", "digest"])) return null;
  const { account, key, digest } = value;
  if (!isString(account) || !isString(key)) return null;
  if (digest === undefined) return { value: { account, key } };
  return isString(digest) ? { value: { account, key, digest } } : null;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

// Unknown fields are refused rather than ignored: a field this version does not know
// could change what the command means, and applying it half-understood is worse.
function hasOnlyKeys(value: Record<string, unknown>, allowed: readonly string[]): boolean {
  return Object.keys(value).every((key) => allowed.includes(key));
}

function isString(value: unknown): value is string {
  return typeof value === "string";
}

function isStringOrNull(value: unknown): value is string | null {
  return value === null || typeof value === "string";
}

function isNumberArray(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((item) => typeof item === "number");
}
