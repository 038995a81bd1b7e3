/// <reference lib="dom" />
// A round initial with a colour derived from the name, so people are told apart at a glance.

import { h } from "./dom.ts";

export function avatar(name: string, size: "small" | "normal" = "normal"): HTMLElement {
  let hash = 0;
  for (const char of name) hash = (hash * 31 + char.codePointAt(0)!) >>> 0;
  const hue = hash % 360;
  const element = h("span", { class: `avatar ${size}`, attrs: { "aria-hidden": "true" } }, (name[0] ?? "?").toUpperCase());
  // Through the CSSOM, not a style attribute: the page's CSP allows no inline styles.
  element.style.setProperty("--avatar-hue", String(hue));
  return element;
}
