import type { ChatCommand, Idempotency } from "../commands.ts";

// Short builders for commands in tests.

const keyed = (idempotency?: Idempotency) => (idempotency === undefined ? {} : { idempotency });

export const createAccount = (username: string, idempotency?: Idempotency): ChatCommand => ({
  type: "createAccount",
  username,
  passwordHash: `hash-of-${username}`,
  ...keyed(idempotency),
});

export const deleteAccount = (username: string, idempotency?: Idempotency): ChatCommand => ({ type: "deleteAccount", username, ...keyed(idempotency) });

export const login = (username: string, tokenHash: string, idempotency?: Idempotency): ChatCommand => ({
  type: "createSession",
  username,
  tokenHash,
  ...keyed(idempotency),
});

export const logout = (username: string, tokenHash: string | null, idempotency?: Idempotency): ChatCommand => ({
  type: "revokeSessions",
  username,
  tokenHash,
  ...keyed(idempotency),
});

export const send = (from: string, to: string, content: string, idempotency?: Idempotency): ChatCommand => ({
  type: "sendMessage",
  from,
  to,
  content,
  ...keyed(idempotency),
});

export const markIds = (username: string, ids: readonly number[], idempotency?: Idempotency): ChatCommand => ({
  type: "markRead",
  username,
  ids,
  with: null,
  upTo: null,
  ...keyed(idempotency),
});

export const markUpTo = (username: string, other: string, upTo: number, idempotency?: Idempotency): ChatCommand => ({
  type: "markRead",
  username,
  ids: null,
  with: other,
  upTo,
  ...keyed(idempotency),
});

export const deleteIds = (username: string, ids: readonly number[], idempotency?: Idempotency): ChatCommand => ({
  type: "deleteMessages",
  username,
  ids,
  ...keyed(idempotency),
});
