/// <reference lib="dom" />
// Find people by name or glob pattern (GET /v1/accounts), a page at a time.

import type { ConcordClient } from "../../client/concord-client.ts";
import { ConcordError } from "../../client/concord-error.ts";
import { avatar } from "./avatar.ts";
import { debounce, h, replaceChildren } from "./dom.ts";

const PAGE = 20;

export function peopleSearch(client: ConcordClient, me: string, open: (partner: string) => void): { element: HTMLElement; clear(): void } {
  const input = h("input", { type: "search", id: "people-search", placeholder: "Find people (try a* or ?ob)", autocomplete: "off", spellcheck: false, attrs: { "aria-label": "Find people", autocapitalize: "none" } });
  const results = h("ul", { class: "people-results", id: "people-results", hidden: true });
  let cursor: string | null = null;
  let query = 0;

  const load = async (append: boolean) => {
    const text = input.value.trim();
    const seq = ++query;
    if (text === "") {
      results.hidden = true;
      replaceChildren(results);
      return;
    }
    // A plain word finds names containing it; * and ? are the API's own glob.
    const pattern = /[*?]/.test(text) ? text : `*${text}*`;
    try {
      const page = await client.listAccounts({ pattern, limit: PAGE, ...(append && cursor !== null ? { cursor } : {}) });
      if (seq !== query) return;
      cursor = page.nextCursor;
      if (!append) replaceChildren(results);
      results.querySelector(".more")?.remove();
      for (const account of page.accounts) {
        const button = h("button", { type: "button", class: "person", dataset: { username: account.username } }, avatar(account.username, "small"), h("span", null, account.username), account.username === me ? h("span", { class: "muted" }, " (you)") : null);
        button.addEventListener("click", () => open(account.username));
        results.append(h("li", null, button));
      }
      if (results.childElementCount === 0) results.append(h("li", { class: "empty-note" }, "Nobody by that name."));
      if (cursor !== null) {
        const more = h("button", { type: "button", class: "button subtle wide" }, `More (${page.total}${page.totalCapped ? "+" : ""} in all)`);
        more.addEventListener("click", () => void load(true));
        results.append(h("li", { class: "more" }, more));
      }
      results.hidden = false;
    } catch (e) {
      if (seq !== query) return;
      replaceChildren(results, h("li", { class: "empty-note" }, e instanceof ConcordError && e.transient ? "Can’t search right now." : "Search failed."));
      results.hidden = false;
    }
  };
  input.addEventListener("input", debounce(200, () => void load(false)));
  input.addEventListener("keydown", (event) => {
    if (event.key === "Escape") clear();
  });
  const clear = () => {
    input.value = "";
    query++;
    results.hidden = true;
    replaceChildren(results);
  };
  return { element: h("div", { class: "people-search" }, input, results), clear };
}
