/// <reference lib="dom" />
// Everything the chat screens show, kept consistent with the server: the conversation
// list, the loaded part of each conversation, and the messages still being sent. Live
// events and API answers both land here; message ids (log indexes) make applying the
// same message twice harmless, so a replayed event or a retried send never doubles it.

import type { ChatStreamEvent } from "../../client/chat-events.ts";
import type { ChatMessage, ConversationSummary } from "../../client/api-types.ts";
import type { ConcordClient } from "../../client/concord-client.ts";
import { ConcordError } from "../../client/concord-error.ts";

export const PAGE_SIZE = 30;
/** A send that failed for a transient reason is tried again (same key) after this long. */
const RESEND_DELAY_MS = 1000;

export interface PendingMessage {
  /** The Idempotency-Key of every attempt: a resend after failover cannot double it. */
  readonly key: string;
  readonly to: string;
  readonly content: string;
  /** sending: in flight or waiting to be retried; failed: refused for good (error says why). */
  state: "sending" | "failed";
  error: string | null;
}

export class Thread {
  readonly messages = new Map<number, ChatMessage>();
  /** undefined until the first page arrives; null when the oldest message is loaded. */
  nextBefore: number | null | undefined = undefined;
  loading = false;
  partnerDeleted = false;

  /** Oldest first, as the view shows them. */
  sorted(): ChatMessage[] {
    return [...this.messages.values()].sort((a, b) => a.id - b.id);
  }
}

export type ChatChange = { readonly kind: "conversations" } | { readonly kind: "thread"; readonly partner: string };

export class ChatState {
  readonly conversations = new Map<string, ConversationSummary>();
  readonly threads = new Map<string, Thread>();
  readonly pending: PendingMessage[] = [];
  /** Deleted ids, so a page loaded after the deletion event cannot bring them back. */
  readonly #deleted = new Set<number>();
  readonly #listeners = new Set<(change: ChatChange) => void>();
  /** The conversation on screen, read as it arrives. */
  openPartner: string | null = null;
  #refreshTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly client: ConcordClient,
    readonly me: string,
  ) {}

  subscribe(listener: (change: ChatChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  thread(partner: string): Thread {
    let thread = this.threads.get(partner);
    if (thread === undefined) {
      thread = new Thread();
      this.threads.set(partner, thread);
    }
    return thread;
  }

  /** Newest first. */
  conversationList(): ConversationSummary[] {
    return [...this.conversations.values()].sort((a, b) => b.lastMessage.id - a.lastMessage.id);
  }

  async loadConversations(): Promise<void> {
    const list = await this.client.conversations();
    this.conversations.clear();
    for (const c of list.conversations) {
      if (!this.#deleted.has(c.lastMessage.id)) this.conversations.set(c.with, c);
    }
    this.#emit({ kind: "conversations" });
  }

  /** The next older page of a conversation (the first page when none is loaded). */
  async loadOlder(partner: string): Promise<void> {
    const thread = this.thread(partner);
    if (thread.loading || thread.nextBefore === null) return;
    thread.loading = true;
    this.#emit({ kind: "thread", partner });
    try {
      const page = await this.client.conversation(partner, { limit: PAGE_SIZE, ...(typeof thread.nextBefore === "number" ? { before: thread.nextBefore } : {}) });
      for (const m of page.messages) if (!this.#deleted.has(m.id)) thread.messages.set(m.id, m);
      thread.nextBefore = page.nextBefore;
    } finally {
      thread.loading = false;
      this.#emit({ kind: "thread", partner });
    }
  }

  /** Queues a message; it is retried with the same key until a node accepts or refuses it. */
  send(to: string, content: string): void {
    const pending: PendingMessage = { key: newKey(), to, content, state: "sending", error: null };
    this.pending.push(pending);
    this.#emit({ kind: "thread", partner: to });
    void this.#deliver(pending);
  }

  /** After the event stream came back: nudge every waiting message now, not at its timer. */
  resendWaiting(): void {
    for (const p of this.pending) if (p.state === "sending") void this.#deliver(p);
  }

  discard(pending: PendingMessage): void {
    this.#dropPending(pending);
  }

  async deleteMessage(id: number): Promise<void> {
    const result = await this.client.deleteMessages([id]);
    this.#forget([...result.deleted, ...result.notFound]);
  }

  /** Marks what the partner sent, up to the newest loaded message, as read. */
  async markRead(partner: string): Promise<void> {
    const thread = this.threads.get(partner);
    if (thread === undefined) return;
    let upTo = 0;
    for (const m of thread.messages.values()) if (m.from === partner && m.to === this.me && m.readAt === null) upTo = Math.max(upTo, m.id);
    const summary = this.conversations.get(partner);
    if (upTo === 0 && (summary === undefined || summary.unread === 0)) return;
    if (upTo === 0 && summary !== undefined) upTo = summary.lastMessage.id;
    const now = new Date().toISOString();
    for (const [id, m] of thread.messages) if (m.from === partner && m.readAt === null && id <= upTo) thread.messages.set(id, { ...m, readAt: now });
    if (summary !== undefined) this.conversations.set(partner, { ...summary, unread: 0 });
    this.#emit({ kind: "conversations" });
    await this.client.markRead({ with: partner, upTo });
  }

  apply(event: ChatStreamEvent): void {
    switch (event.type) {
      case "message":
        this.#addMessage(event.data);
        return;
      case "messages_deleted":
        this.#forget(event.data.ids);
        return;
      case "messages_read": {
        for (const [partner, thread] of this.threads) {
          let changed = false;
          for (const id of event.data.ids) {
            const m = thread.messages.get(id);
            if (m !== undefined && m.readAt === null) {
              thread.messages.set(id, { ...m, readAt: new Date().toISOString() });
              changed = true;
            }
          }
          if (changed) this.#emit({ kind: "thread", partner });
        }
        // Read on another device: the unread counts changed.
        if (event.data.by === this.me) this.#refreshConversationsSoon();
        return;
      }
      case "account_deleted": {
        this.thread(event.data.username).partnerDeleted = true;
        this.#emit({ kind: "thread", partner: event.data.username });
        this.#refreshConversationsSoon();
        return;
      }
      case "reset":
        // The server could not replay what we missed: start over from its current state.
        this.threads.clear();
        this.#refreshConversationsSoon();
        if (this.openPartner !== null) void this.loadOlder(this.openPartner).catch(() => {});
        return;
    }
  }

  async #deliver(pending: PendingMessage): Promise<void> {
    try {
      const message = await this.client.send(pending.to, pending.content, { idempotencyKey: pending.key });
      this.#dropPending(pending);
      this.#addMessage(message);
    } catch (error) {
      if (!this.pending.includes(pending)) return;
      if (error instanceof ConcordError && !error.transient) {
        pending.state = "failed";
        pending.error = error.message;
        this.#emit({ kind: "thread", partner: pending.to });
        return;
      }
      // No node could take it right now: keep it on screen as sending and try again.
      setTimeout(() => {
        if (this.pending.includes(pending)) void this.#deliver(pending);
      }, RESEND_DELAY_MS);
    }
  }

  #addMessage(message: ChatMessage): void {
    if (this.#deleted.has(message.id)) return;
    const partner = message.from === this.me ? message.to : message.from;
    // Our own message may come back on the event stream before the send's answer does.
    if (message.from === this.me) {
      const twin = this.pending.find((p) => p.to === message.to && p.content === message.content);
      if (twin !== undefined) this.#dropPending(twin);
    }
    const thread = this.thread(partner);
    const known = thread.messages.has(message.id);
    // Kept even before the first page arrives: that page may have been read just before this message.
    thread.messages.set(message.id, thread.messages.get(message.id) ?? message);
    const summary = this.conversations.get(partner);
    if (!known && (summary === undefined || summary.lastMessage.id < message.id)) {
      const incoming = message.to === this.me && message.from !== this.me && message.readAt === null;
      const unread = (summary?.unread ?? 0) + (incoming && this.openPartner !== partner ? 1 : 0);
      this.conversations.set(partner, { with: partner, lastMessage: message, unread });
      this.#emit({ kind: "conversations" });
    }
    this.#emit({ kind: "thread", partner });
  }

  #forget(ids: readonly number[]): void {
    let lastGone = false;
    for (const id of ids) this.#deleted.add(id);
    for (const [partner, thread] of this.threads) {
      let changed = false;
      for (const id of ids) changed = thread.messages.delete(id) || changed;
      if (changed) this.#emit({ kind: "thread", partner });
    }
    for (const c of this.conversations.values()) if (ids.includes(c.lastMessage.id)) lastGone = true;
    if (lastGone) this.#refreshConversationsSoon();
  }

  #dropPending(pending: PendingMessage): void {
    const at = this.pending.indexOf(pending);
    if (at < 0) return;
    this.pending.splice(at, 1);
    this.#emit({ kind: "thread", partner: pending.to });
  }

  #refreshConversationsSoon(): void {
    clearTimeout(this.#refreshTimer);
    this.#refreshTimer = setTimeout(() => void this.loadConversations().catch(() => {}), 150);
  }

  #emit(change: ChatChange): void {
    for (const listener of [...this.#listeners]) listener(change);
  }
}

/** crypto.randomUUID needs a secure context; a LAN http page has only getRandomValues. */
function newKey(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}
