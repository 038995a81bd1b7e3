/// <reference lib="dom" />
// The sidebar's conversations, newest first: partner, last message, time, unread badge.

import type { ChatState } from "./chat-state.ts";
import { h, replaceChildren } from "./dom.ts";
import { avatar } from "./avatar.ts";
import { shortTime } from "./message-time.ts";

export interface ConversationList {
  readonly element: HTMLElement;
  render(): void;
}

export function conversationList(state: ChatState, open: (partner: string) => void): ConversationList {
  const list = h("ul", { class: "conversation-list", id: "conversations", attrs: { "aria-label": "Conversations" } });
  const render = () => {
    const items = state.conversationList();
    if (items.length === 0) {
      replaceChildren(list, h("li", { class: "empty-note" }, "No conversations yet. Find someone above to say hello."));
      return;
    }
    replaceChildren(
      list,
      ...items.map((c) => {
        const last = c.lastMessage;
        const preview = `${last.from === state.me ? "You: " : ""}${last.content}`;
        const button = h(
          "button",
          { type: "button", class: "conversation-item", dataset: { partner: c.with }, attrs: { "aria-current": String(state.openPartner === c.with) } },
          avatar(c.with),
          h(
            "span",
            { class: "conversation-text" },
            h("span", { class: "conversation-top" }, h("span", { class: "conversation-name" }, c.with), h("time", { class: "conversation-time", dateTime: last.sentAt }, shortTime(last.sentAt))),
            h("span", { class: "conversation-bottom" }, h("span", { class: "conversation-preview" }, preview), c.unread > 0 ? h("span", { class: "badge", attrs: { "aria-label": `${c.unread} unread` } }, String(c.unread)) : null),
          ),
        );
        button.addEventListener("click", () => open(c.with));
        return h("li", null, button);
      }),
    );
  };
  render();
  return { element: list, render };
}
