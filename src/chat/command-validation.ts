import {
  IDEMPOTENCY_KEY_MAX_CHARS,
  IDS_PER_COMMAND_MAX,
  PASSWORD_HASH_MAX_CHARS,
  REQUEST_DIGEST_PATTERN,
  TOKEN_HASH_MAX_CHARS,
  USERNAME_PATTERN,
} from "./chat-limits.ts";
import type { ChatCommand } from "./commands.ts";
import { contentProblem } from "./message-content.ts";
import { isWellFormedText } from "./well-formed-text.ts";

// Apply's own check of a decoded command. The API validates first and answers the
// client precisely; this is the backstop that keeps whatever reaches the log inside
// the bounds the tables and queries assume.

/** The account a command acts for: the one its idempotency key must be scoped to. */
export function commandActor(command: ChatCommand): string {
  return command.type === "sendMessage" ? command.from : command.username;
}

/** Why the command is invalid, or null when apply may run it. */
export function commandProblem(command: ChatCommand): string | null {
  const problem = fieldsProblem(command);
  if (problem !== null) return problem;
  const idempotency = command.idempotency;
  if (idempotency === undefined) return null;
  if (idempotency.account !== commandActor(command)) return "the idempotency key is scoped to another account";
  if (idempotency.digest !== undefined && !REQUEST_DIGEST_PATTERN.test(idempotency.digest)) return "the request digest is not hex SHA-256";
  return boundedText(idempotency.key, IDEMPOTENCY_KEY_MAX_CHARS) ? null : `the idempotency key must be 1-${IDEMPOTENCY_KEY_MAX_CHARS} characters`;
}

function fieldsProblem(command: ChatCommand): string | null {
  switch (command.type) {
    case "createAccount":
      return usernameProblem(command.username) ?? (boundedText(command.passwordHash, PASSWORD_HASH_MAX_CHARS) ? null : "the password hash is malformed");
    case "deleteAccount":
      return usernameProblem(command.username);
    case "createSession":
      return usernameProblem(command.username) ?? tokenHashProblem(command.tokenHash);
    case "revokeSessions":
      return usernameProblem(command.username) ?? (command.tokenHash === null ? null : tokenHashProblem(command.tokenHash));
    case "touchSession":
      return usernameProblem(command.username) ?? tokenHashProblem(command.tokenHash);
    case "changePassword":
      return (
        usernameProblem(command.username) ??
        (boundedText(command.passwordHash, PASSWORD_HASH_MAX_CHARS) ? null : "the password hash is malformed") ??
        (command.keepTokenHash === null ? null : tokenHashProblem(command.keepTokenHash))
      );
    case "sendMessage":
      return usernameProblem(command.from) ?? usernameProblem(command.to) ?? contentProblem(command.content);
    case "markRead":
      return usernameProblem(command.username) ?? markReadProblem(command.ids, command.with, command.upTo);
    case "deleteMessages":
      return usernameProblem(command.username) ?? idsProblem(command.ids);
  }
}

function markReadProblem(ids: readonly number[] | null, other: string | null, upTo: number | null): string | null {
  if (ids !== null) return other === null && upTo === null ? idsProblem(ids) : "markRead takes either ids or with and upTo";
  if (other === null || upTo === null) return "markRead needs ids, or both with and upTo";
  return usernameProblem(other) ?? (isMessageId(upTo) ? null : "upTo is not a message id");
}

function idsProblem(ids: readonly number[]): string | null {
  if (ids.length === 0 || ids.length > IDS_PER_COMMAND_MAX) return `between 1 and ${IDS_PER_COMMAND_MAX} ids are needed`;
  return ids.every(isMessageId) ? null : "an id is not a message id";
}

function usernameProblem(username: string): string | null {
  return USERNAME_PATTERN.test(username) ? null : "a username must be 1-32 of A-Za-z0-9_.-";
}

function tokenHashProblem(tokenHash: string): string | null {
  return boundedText(tokenHash, TOKEN_HASH_MAX_CHARS) ? null : "the token hash is malformed";
}

/** Message ids are log indexes: positive integers. */
function isMessageId(id: number): boolean {
  return Number.isSafeInteger(id) && id > 0;
}

/** Non-empty, at most `max` UTF-16 units, storable as UTF-8. */
function boundedText(text: string, max: number): boolean {
  return text.length > 0 && text.length <= max && isWellFormedText(text);
}
