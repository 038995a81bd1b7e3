import { z } from "zod";
import { COMMAND_BYTES_MAX } from "./chat-limits.ts";
import { chatCommandSchema, idempotencySchema, type ChatCommand } from "./commands.ts";

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

/** What an entry's bytes hold: the format version and one command, nothing else. */
const envelopeSchema = z.strictObject({ v: z.literal(COMMAND_FORMAT_VERSION), command: chatCommandSchema });

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
  // Apply decodes every entry on every replica: one parse and one schema pass, no more.
  const envelope = envelopeSchema.safeParse(parsed);
  return envelope.success ? { ok: true, value: envelope.data.command } : refuse(refusalReason(parsed, envelope.error.issues));
}

/**
 * Why an entry is refused, the most basic fault first: the envelope, then its version,
 * then the command. The reason becomes the entry's result on every replica, so these
 * words stay as they were before the schemas (replicas of two versions must agree).
 */
function refusalReason(parsed: unknown, issues: readonly z.core.$ZodIssue[]): string {
  if (issues.some((issue) => issue.path.length === 0)) return "the command envelope is malformed";
  if (issues.some((issue) => issue.path[0] === "v")) return `unknown command format version ${String((parsed as { v?: unknown }).v)}`;
  return "the command's fields are malformed";
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

/** Each command's fields in its schema's order: what encoding writes, and all it writes. */
const COMMAND_FIELDS = new Map<string, readonly string[]>(chatCommandSchema.options.map((option) => [option.shape.type.value, Object.keys(option.shape)]));
const IDEMPOTENCY_FIELDS: readonly string[] = Object.keys(idempotencySchema.shape);

function canonical(command: ChatCommand): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const name of COMMAND_FIELDS.get(command.type) ?? []) {
    const value = (command as Record<string, unknown>)[name];
    if (value === undefined) continue;
    fields[name] = name === "idempotency" ? pick(value as Record<string, unknown>, IDEMPOTENCY_FIELDS) : value;
  }
  return fields;
}

function pick(value: Record<string, unknown>, names: readonly string[]): Record<string, unknown> {
  const picked: Record<string, unknown> = {};
  for (const name of names) if (value[name] !== undefined) picked[name] = value[name];
  return picked;
}
