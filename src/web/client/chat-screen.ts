/// <reference lib="dom" />
// The signed-in screen: a sidebar (search, conversations) and the open conversation. On
// a phone only one of the two shows at a time. Owns the live event stream.

import type { ConcordClient } from "../../client/concord-client.ts";
import { accountMenu } from "./account-menu.ts";
import { ChatState } from "./chat-state.ts";
import { connectionIndicator } from "./connection-indicator.ts";
import { conversationList } from "./conversation-list.ts";
import { conversationView, type ConversationView } from "./conversation-view.ts";
import { h, replaceChildren } from "./dom.ts";
import { peopleSearch } from "./people-search.ts";

export function chatScreen(client: ConcordClient, me: string, onSignedOut: () => void): { element: HTMLElement; dispose(): void } {
  const state = new ChatState(client, me);
  const indicator = connectionIndicator();
  let view: ConversationView | null = null;

  const pane = h("div", { class: "conversation-pane" }, emptyPane());
  const open = (partner: string) => {
    search.clear();
    if (view?.partner !== partner) {
      view?.dispose();
      state.openPartner = partner;
      view = conversationView(state, partner, close);
      replaceChildren(pane, view.element);
      list.render();
    }
    root.classList.add("showing-conversation");
    view.focus();
  };
  const close = () => {
    view?.dispose();
    view = null;
    state.openPartner = null;
    replaceChildren(pane, emptyPane());
    root.classList.remove("showing-conversation");
    list.render();
  };
  const search = peopleSearch(client, me, open);
  const list = conversationList(state, open);

  const root = h(
    "div",
    { class: "chat-screen" },
    h(
      "aside",
      { class: "sidebar" },
      h("header", { class: "topbar" }, h("a", { class: "brand", href: "/" }, h("span", { class: "brand-mark", attrs: { "aria-hidden": "true" } }), "Concord"), indicator.element, accountMenu(client, me, onSignedOut)),
      search.element,
      h("nav", { class: "conversation-nav" }, list.element),
      h("footer", { class: "sidebar-footer" }, h("a", { class: "quiet-link", href: "/cluster" }, "Cluster dashboard")),
    ),
    pane,
  );

  state.subscribe((change) => {
    if (change.kind === "conversations") list.render();
    else if (view !== null && change.partner === view.partner) view.render();
  });

  // Start the stream first, then load: anything that happens in between arrives as an
  // event and is merged by id, so nothing falls in the gap.
  let loaded = false;
  const events = client.events({
    onEvent: (event) => state.apply(event),
    onStatus: (status) => {
      indicator.update(status);
      if (status.state === "connected") {
        if (!loaded) {
          loaded = true;
          void state.loadConversations().catch(() => (loaded = false));
        }
        state.resendWaiting();
      }
    },
  });
  void events.closed.then((error) => {
    if (error?.authentication === true) onSignedOut();
  });

  return {
    element: root,
    dispose: () => {
      events.close();
      view?.dispose();
    },
  };
}

function emptyPane(): HTMLElement {
  return h("div", { class: "empty-pane" }, h("div", { class: "empty-illustration", attrs: { "aria-hidden": "true" } }), h("h2", null, "Pick a conversation"), h("p", null, "Or find someone with the search on the left."));
}
