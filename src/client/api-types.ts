// The shapes of API.md's answers, and the few checks that turn a node's JSON into them.
// Messages are checked field by field because every UI renders them; the rest is checked
// only for being the object it should be.

import type { AccountView, ChatMessage } from "../chat/commands.ts";
import { ConcordError } from "./concord-error.ts";

export type { AccountView, ChatMessage };

export interface Session {
  readonly token: string;
  readonly username: string;
  /** Unread messages waiting at login. */
  readonly unread: number;
}

/** GET /v1/accounts: the same page the node's queries produce. */
export type { AccountPage } from "../chat/chat-queries.ts";

export interface MessagePage {
  /** Newest first. */
  readonly messages: readonly ChatMessage[];
  readonly unread: number;
  /** Pass it back as `before` for older messages; null when there are none. */
  readonly nextBefore: number | null;
}

export interface ConversationSummary {
  readonly with: string;
  readonly lastMessage: ChatMessage;
  readonly unread: number;
}

export interface ConversationList {
  /** Newest first. */
  readonly conversations: readonly ConversationSummary[];
}

export interface MarkReadResult {
  readonly marked: number;
}

export interface DeleteMessagesResult {
  readonly deleted: readonly number[];
  readonly notFound: readonly number[];
}

export interface ClusterMember {
  readonly id: number;
  readonly voter: boolean;
  readonly matchIndex: number | null;
  readonly lastContactMs: number | null;
}

/** GET /v1/cluster: one node's view of the group. */
export interface ClusterStatus {
  readonly cluster: string;
  readonly nodeId: number;
  readonly role: string;
  readonly term: number;
  readonly leader: number | null;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  /** The last index in this node's log (appended, not necessarily committed). */
  readonly lastIndex: number;
  /** Where this node's latest snapshot ends: entries up to it are compacted away. */
  readonly snapshotIndex: number;
  readonly members: readonly ClusterMember[];
}

type Json = Record<string, unknown>;

export function asObject(value: unknown, what: string): Json {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw bad(`${what} is not a JSON object`);
  return value as Json;
}

export function asArray(value: unknown, what: string): readonly unknown[] {
  if (!Array.isArray(value)) throw bad(`${what} is not a JSON array`);
  return value;
}

export function asMessage(value: unknown): ChatMessage {
  const o = asObject(value, "message");
  const { id, from, to, content, sentAt } = o;
  if (typeof id !== "number" || !Number.isSafeInteger(id)) throw bad("message.id is not an integer");
  if (typeof from !== "string" || typeof to !== "string" || typeof content !== "string" || typeof sentAt !== "string") {
    throw bad(`message ${id} lacks from, to, content or sentAt`);
  }
  // API.md's message has no fromDeleted and may omit readAt; default both.
  const readAt = typeof o["readAt"] === "string" ? o["readAt"] : null;
  return { id, from, fromDeleted: o["fromDeleted"] === true, to, content, sentAt, readAt };
}

export function asMessagePage(value: unknown): MessagePage {
  const o = asObject(value, "answer");
  return {
    messages: asArray(o["messages"], "messages").map(asMessage),
    unread: typeof o["unread"] === "number" ? o["unread"] : 0,
    nextBefore: typeof o["nextBefore"] === "number" ? o["nextBefore"] : null,
  };
}

export function asConversationList(value: unknown): ConversationList {
  const o = asObject(value, "answer");
  return {
    conversations: asArray(o["conversations"], "conversations").map((item) => {
      const c = asObject(item, "conversation");
      if (typeof c["with"] !== "string") throw bad("conversation.with is not a string");
      return { with: c["with"], lastMessage: asMessage(c["lastMessage"]), unread: typeof c["unread"] === "number" ? c["unread"] : 0 };
    }),
  };
}

export function asIdList(value: unknown, what: string): readonly number[] {
  return asArray(value, what).map((id) => {
    if (typeof id !== "number" || !Number.isSafeInteger(id)) throw bad(`${what} holds a non-integer`);
    return id;
  });
}

function bad(message: string): ConcordError {
  return new ConcordError("bad_response", message);
}
