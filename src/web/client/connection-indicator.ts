/// <reference lib="dom" />
// The little pill that says which node the page talks to, and when it is moving to
// another one. data-node and data-state are what the browser tests read.

import type { StreamStatus } from "../../client/sse-stream.ts";
import { h } from "./dom.ts";
import { nodeLabel } from "./page-config.ts";

export interface ConnectionIndicator {
  readonly element: HTMLElement;
  update(status: StreamStatus): void;
}

export function connectionIndicator(): ConnectionIndicator {
  const dot = h("span", { class: "dot", attrs: { "aria-hidden": "true" } });
  const text = h("span", { class: "indicator-text" }, "Connecting…");
  const element = h("div", { class: "indicator", id: "connection", dataset: { state: "connecting", node: "" }, attrs: { role: "status", "aria-live": "polite" } }, dot, text);
  return {
    element,
    update(status) {
      element.dataset["state"] = status.state;
      const label = nodeLabel(status.node);
      switch (status.state) {
        case "connected":
          element.dataset["node"] = status.node;
          text.textContent = label;
          element.title = `Live: connected to ${label}`;
          break;
        case "connecting":
          text.textContent = element.dataset["node"] === "" ? "Connecting…" : "Reconnecting…";
          element.title = `Trying ${label}`;
          break;
        case "reconnecting":
          text.textContent = "Reconnecting…";
          element.title = `Lost ${label}${status.error !== undefined ? `: ${status.error.message}` : ""}`;
          break;
        case "closed":
          text.textContent = "Offline";
          element.title = status.error?.message ?? "Disconnected";
          break;
      }
    },
  };
}
