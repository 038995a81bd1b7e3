/// <reference lib="dom" />
// One conversation: its history (older pages load as you scroll up), the composer (Enter
// sends, Shift+Enter breaks the line), delete on your own messages, read marks as you see
// them. Bubbles are reconciled by key, so a live message or a deletion moves nothing else.

import type { ChatMessage } from "../../client/api-types.ts";
import { type ChatState, type PendingMessage } from "./chat-state.ts";
import { avatar } from "./avatar.ts";
import { h } from "./dom.ts";
import { clockTime } from "./message-time.ts";

/** Closer than this to the top loads the next older page. */
const LOAD_OLDER_WITHIN_PX = 120;
/** Closer than this to the bottom counts as "at the bottom": new messages keep it there. */
const STICK_TO_BOTTOM_PX = 60;

export interface ConversationView {
  readonly element: HTMLElement;
  readonly partner: string;
  render(): void;
  focus(): void;
  dispose(): void;
}

export function conversationView(state: ChatState, partner: string, onBack: () => void): ConversationView {
  const thread = state.thread(partner);
  const back = h("button", { type: "button", class: "icon-button back-button", attrs: { "aria-label": "Back to conversations" } }, "‹");
  back.addEventListener("click", onBack);
  const status = h("span", { class: "conversation-status" });
  const header = h("header", { class: "conversation-header" }, back, avatar(partner), h("div", { class: "conversation-title" }, h("h2", null, partner), status));

  const olderNote = h("div", { class: "older-note", attrs: { "aria-live": "polite" } });
  const list = h("ol", { class: "messages", id: "messages", attrs: { "aria-label": `Messages with ${partner}` } });
  const scroller = h("div", { class: "message-scroller", tabIndex: 0 }, olderNote, list);

  const input = h("textarea", { id: "composer", rows: 1, maxLength: 4000, placeholder: `Message ${partner}`, attrs: { "aria-label": `Message ${partner}`, enterkeyhint: "send" } });
  const sendButton = h("button", { type: "submit", class: "button primary send-button", attrs: { "aria-label": "Send" } }, "Send");
  const composer = h("form", { class: "composer" }, input, sendButton);
  const element = h("section", { class: "conversation", dataset: { partner } }, header, scroller, composer);

  const bubbles = new Map<string, HTMLElement>();

  const submit = () => {
    const content = input.value.trim();
    if (content === "") return;
    state.send(partner, content);
    input.value = "";
    autosize();
    scrollToBottom();
  };
  composer.addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submit();
    }
  });
  const autosize = () => {
    input.style.height = "auto";
    input.style.height = `${Math.min(input.scrollHeight, 160)}px`;
  };
  input.addEventListener("input", autosize);

  const scrollToBottom = () => {
    scroller.scrollTop = scroller.scrollHeight;
  };

  const loadOlder = async () => {
    if (thread.loading || thread.nextBefore === null) return;
    const fromBottom = scroller.scrollHeight - scroller.scrollTop;
    const first = thread.nextBefore === undefined;
    await state.loadOlder(partner).catch(() => {
      olderNote.textContent = "Couldn’t load older messages. Scroll up to retry.";
    });
    // Keep what the reader was looking at in place as the older page lands above it.
    if (first) scrollToBottom();
    else scroller.scrollTop = scroller.scrollHeight - fromBottom;
    // The page may not fill the screen yet: keep going until it does or history ends.
    if (thread.nextBefore !== null && scroller.scrollHeight <= scroller.clientHeight + LOAD_OLDER_WITHIN_PX) void loadOlder();
  };
  scroller.addEventListener("scroll", () => {
    if (scroller.scrollTop < LOAD_OLDER_WITHIN_PX) void loadOlder();
  });

  const messageBubble = (m: ChatMessage): HTMLElement => {
    const mine = m.from === state.me;
    const meta = h("span", { class: "meta" }, h("time", { dateTime: m.sentAt }, clockTime(m.sentAt)));
    const item = h("li", { class: `bubble ${mine ? "mine" : "theirs"}`, dataset: { id: String(m.id) } }, h("p", { class: "content" }, m.content), meta);
    if (mine) {
      const read = h("span", { class: "read-mark", attrs: { "aria-label": m.readAt !== null ? "Read" : "Delivered" } }, m.readAt !== null ? "✓✓" : "✓");
      meta.append(read);
      const remove = h("button", { type: "button", class: "delete-button", attrs: { "aria-label": "Delete message" } }, "Delete");
      remove.addEventListener("click", async () => {
        remove.disabled = true;
        item.classList.add("deleting");
        await state.deleteMessage(m.id).catch(() => {
          remove.disabled = false;
          item.classList.remove("deleting");
        });
      });
      item.append(remove);
    }
    return item;
  };

  const pendingBubble = (p: PendingMessage): HTMLElement => {
    const meta = h("span", { class: "meta" }, p.state === "failed" ? `Not sent: ${p.error ?? ""}` : "Sending…");
    const item = h("li", { class: `bubble mine pending ${p.state}`, dataset: { pending: p.key } }, h("p", { class: "content" }, p.content), meta);
    if (p.state === "failed") {
      const dismiss = h("button", { type: "button", class: "delete-button visible" }, "Dismiss");
      dismiss.addEventListener("click", () => state.discard(p));
      item.append(dismiss);
    }
    return item;
  };

  const render = () => {
    const atBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < STICK_TO_BOTTOM_PX;
    const items: { key: string; build: () => HTMLElement }[] = [];
    for (const m of thread.sorted()) items.push({ key: `m${m.id}:${m.readAt !== null ? "r" : "u"}`, build: () => messageBubble(m) });
    for (const p of state.pending) if (p.to === partner) items.push({ key: `p${p.key}:${p.state}`, build: () => pendingBubble(p) });
    const keep = new Set(items.map((i) => i.key));
    for (const [key, node] of bubbles) {
      if (!keep.has(key)) {
        node.remove();
        bubbles.delete(key);
      }
    }
    let previous: Element | null = null;
    for (const item of items) {
      let node = bubbles.get(item.key);
      if (node === undefined) {
        node = item.build();
        bubbles.set(item.key, node);
      }
      const expected: Element | null = previous === null ? list.firstElementChild : previous.nextElementSibling;
      if (expected !== node) list.insertBefore(node, expected);
      previous = node;
    }
    olderNote.textContent = thread.loading ? "Loading older messages…" : thread.nextBefore === null ? (items.length === 0 ? "" : "This is the beginning of your conversation.") : "";
    if (items.length === 0 && thread.nextBefore === null) olderNote.textContent = `No messages yet. Say hello to ${partner}!`;
    status.textContent = thread.partnerDeleted ? "This account was deleted" : "";
    input.disabled = thread.partnerDeleted;
    sendButton.disabled = thread.partnerDeleted;
    if (atBottom) scrollToBottom();
    markReadSoon();
  };

  // Read marks only while the page is actually in front of someone.
  let markTimer: ReturnType<typeof setTimeout> | undefined;
  const markReadSoon = () => {
    clearTimeout(markTimer);
    markTimer = setTimeout(() => {
      if (document.visibilityState === "visible") void state.markRead(partner).catch(() => {});
    }, 300);
  };
  const onVisible = () => markReadSoon();
  document.addEventListener("visibilitychange", onVisible);

  render();
  queueMicrotask(() => void loadOlder());
  return {
    element,
    partner,
    render,
    focus: () => input.focus(),
    dispose: () => {
      clearTimeout(markTimer);
      document.removeEventListener("visibilitychange", onVisible);
    },
  };
}
