/// <reference lib="dom" />
// /cluster: one card a node, fed by that node's own /v1/cluster/events stream, so a dead
// node shows as down the moment its stream breaks and the survivors report the new leader
// as soon as they elect it. With the admin token: transfer leadership, add or remove members.

import type { ClusterStatus } from "../../client/api-types.ts";
import type { ConcordClient } from "../../client/concord-client.ts";
import { ConcordError } from "../../client/concord-error.ts";
import type { StreamHandle } from "../../client/sse-stream.ts";
import { commitRatePlot } from "./commit-rate-plot.ts";
import { h, replaceChildren } from "./dom.ts";
import { createClient, nodeLabel, type PageConfig } from "./page-config.ts";

/** The admin panel locks itself after this long without an admin action: the token goes with it. */
const ADMIN_IDLE_LOCK_MS = 10 * 60_000;

interface NodeCard {
  readonly url: string;
  status: ClusterStatus | null;
  up: boolean;
  /** When this node last told us anything (ms since epoch). */
  heardAt: number | null;
  readonly element: HTMLElement;
}

const ROLE_NAMES: Readonly<Record<string, string>> = { leader: "Leader", follower: "Follower", candidate: "Candidate", preCandidate: "Pre-candidate" };

export function clusterDashboard(config: PageConfig): { element: HTMLElement; dispose(): void } {
  const client = createClient(config);
  // The admin token lives only in this client, in memory, while the panel is unlocked:
  // never in sessionStorage or localStorage, gone on Lock, after ten idle minutes, or with the page.
  let admin: ConcordClient | null = null;
  let idleLock: ReturnType<typeof setTimeout> | undefined;
  const lockAdmin = () => {
    clearTimeout(idleLock);
    admin = null;
    renderAdmin();
    render();
  };
  const keepUnlocked = () => {
    clearTimeout(idleLock);
    idleLock = setTimeout(lockAdmin, ADMIN_IDLE_LOCK_MS);
  };
  const cards: NodeCard[] = config.nodes.map((url) => ({ url, status: null, up: false, heardAt: null, element: h("article", { class: "node-card", dataset: { url, state: "connecting" } }) }));
  const plot = commitRatePlot();
  const summary = h("p", { class: "cluster-summary", id: "cluster-summary" }, "Connecting to the nodes…");
  const adminPanel = h("section", { class: "card admin-panel" });
  const notice = h("p", { class: "admin-notice", attrs: { role: "status", "aria-live": "polite" } });

  const leaderCard = (): NodeCard | null => {
    let best: NodeCard | null = null;
    for (const c of cards) if (c.up && c.status?.role === "leader" && (best === null || c.status.term > best.status!.term)) best = c;
    return best;
  };

  const runAdmin = async (what: string, action: (admin: ConcordClient) => Promise<void>) => {
    if (admin === null) return;
    keepUnlocked();
    notice.textContent = `${what}…`;
    try {
      await action(admin);
      notice.textContent = `${what}: accepted.`;
    } catch (e) {
      notice.textContent = `${what} failed: ${e instanceof ConcordError ? e.message : String(e)}`;
    }
  };

  const renderCard = (card: NodeCard, leader: NodeCard | null) => {
    const s = card.status;
    const isLeader = leader !== null && card === leader;
    card.element.dataset["state"] = card.up ? "up" : "down";
    card.element.dataset["role"] = card.up && s !== null ? s.role : "down";
    card.element.dataset["nodeId"] = s !== null ? String(s.nodeId) : "";
    card.element.classList.toggle("leader", isLeader);
    const leaderStatus = leader?.status ?? null;
    const member = s !== null ? leaderStatus?.members.find((m) => m.id === s.nodeId) : undefined;
    const lag = s !== null && leaderStatus !== null ? Math.max(0, leaderStatus.commitIndex - s.appliedIndex) : null;
    const lastContact = isLeader ? "leader" : member?.lastContactMs != null ? ago(member.lastContactMs) : "—";
    const row = (label: string, value: string, testId: string) => h("div", { class: "stat" }, h("dt", null, label), h("dd", { dataset: { field: testId } }, value));
    const title = s !== null ? `Node ${s.nodeId}` : nodeLabel(card.url);
    const badge = !card.up ? h("span", { class: "role-badge down" }, "Down") : h("span", { class: `role-badge ${s?.role ?? ""}` }, ROLE_NAMES[s?.role ?? ""] ?? "…");
    const actions: HTMLElement[] = [];
    if (admin !== null && s !== null && leaderStatus !== null) {
      if (!isLeader && card.up) {
        const transfer = h("button", { type: "button", class: "button subtle small" }, "Make leader");
        transfer.addEventListener("click", () => void runAdmin(`Transfer leadership to node ${s.nodeId}`, (a) => a.transferLeadership(s.nodeId)));
        actions.push(transfer);
      }
      if (leaderStatus.members.some((m) => m.id === s.nodeId)) {
        const remove = h("button", { type: "button", class: "button subtle small danger-text" }, "Remove");
        remove.addEventListener("click", () => {
          if (confirm(`Remove node ${s.nodeId} from the cluster?`)) void runAdmin(`Remove node ${s.nodeId}`, (a) => a.removeMember(s.nodeId));
        });
        actions.push(remove);
      }
    }
    replaceChildren(
      card.element,
      h("header", { class: "node-card-header" }, h("span", { class: `status-dot ${card.up ? "up" : "down"}`, attrs: { "aria-hidden": "true" } }), h("h3", null, title), badge),
      h("p", { class: "node-url" }, nodeLabel(card.url)),
      h(
        "dl",
        { class: "stats" },
        row("Term", s !== null ? String(s.term) : "—", "term"),
        row("Commit", s !== null ? String(s.commitIndex) : "—", "commit"),
        row("Applied", s !== null ? String(s.appliedIndex) : "—", "applied"),
        row("Lag", lag !== null ? String(lag) : "—", "lag"),
        row("Last contact", lastContact, "contact"),
        row("Heard from", card.heardAt !== null ? (card.up ? "live" : ago(Date.now() - card.heardAt)) : "never", "heard"),
      ),
      actions.length > 0 ? h("div", { class: "node-actions" }, ...actions) : null,
    );
  };

  const render = () => {
    const leader = leaderCard();
    for (const card of cards) renderCard(card, leader);
    const up = cards.filter((c) => c.up).length;
    summary.textContent = leader?.status != null ? `Node ${leader.status.nodeId} leads term ${leader.status.term} · ${up} of ${cards.length} nodes up` : `No leader right now · ${up} of ${cards.length} nodes up`;
    summary.dataset["leader"] = leader?.status != null ? String(leader.status.nodeId) : "";
  };

  const renderAdmin = () => {
    if (admin === null) {
      const token = h("input", { type: "password", id: "admin-token", placeholder: "Admin token", autocomplete: "off", attrs: { "aria-label": "Admin token" } });
      const form = h("form", { class: "inline-form" }, token, h("button", { type: "submit", class: "button primary" }, "Unlock"));
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        if (token.value.trim() === "") return;
        admin = createClient(config, { adminToken: token.value.trim() });
        token.value = "";
        keepUnlocked();
        renderAdmin();
        render();
      });
      replaceChildren(adminPanel, h("h2", null, "Administration"), h("p", { class: "muted" }, "Enter the cluster’s admin token (in data/admin-token) to move leadership and change membership."), form);
      return;
    }
    const id = h("input", { type: "number", min: "1", step: "1", id: "member-id", placeholder: "Node id", required: true, attrs: { "aria-label": "Node id" } });
    const voter = h("input", { type: "checkbox", checked: true, id: "member-voter" });
    const add = h("form", { class: "inline-form" }, id, h("label", { class: "checkbox" }, voter, "Voter"), h("button", { type: "submit", class: "button primary" }, "Add member"));
    add.addEventListener("submit", (event) => {
      event.preventDefault();
      const n = Number(id.value);
      if (!Number.isInteger(n) || n <= 0) return;
      void runAdmin(`Add node ${n}`, (a) => a.addMember(n, voter.checked));
    });
    const lock = h("button", { type: "button", class: "button subtle small" }, "Lock");
    lock.addEventListener("click", lockAdmin);
    replaceChildren(adminPanel, h("div", { class: "admin-header" }, h("h2", null, "Administration"), lock), add, notice);
  };

  const streams: StreamHandle[] = cards.map((card) =>
    client.clusterEvents({
      node: card.url,
      onUpdate: (status) => {
        // The first figure starts the plot's clock, so its first point comes a second later.
        if (cards.every((c) => c.status === null)) queueMicrotask(sample);
        card.status = status;
        card.up = true;
        card.heardAt = Date.now();
        render();
      },
      onStatus: (status) => {
        const up = status.state === "connected";
        if (up === card.up && status.state !== "closed") return;
        card.up = up;
        if (!up && card.heardAt !== null) card.heardAt = Date.now();
        render();
      },
    }),
  );

  const sample = () => {
    let highest: number | null = null;
    for (const c of cards) if (c.up && c.status !== null) highest = Math.max(highest ?? 0, c.status.commitIndex);
    plot.sample(highest);
  };
  const sampler = setInterval(() => {
    sample();
    // Also ages the "heard from" and "last contact" figures of nodes that went quiet.
    render();
  }, 1000);

  renderAdmin();
  render();

  const element = h(
    "div",
    { class: "dashboard" },
    h("header", { class: "topbar dashboard-topbar" }, h("a", { class: "brand", href: "/" }, h("span", { class: "brand-mark", attrs: { "aria-hidden": "true" } }), "Concord"), h("span", { class: "topbar-title" }, "Cluster"), h("a", { class: "button subtle small", href: "/" }, "Open chat")),
    h("main", { class: "dashboard-main" }, summary, h("div", { class: "node-grid", id: "nodes" }, ...cards.map((c) => c.element)), plot.element, adminPanel),
  );
  return {
    element,
    dispose: () => {
      clearInterval(sampler);
      clearTimeout(idleLock);
      admin = null;
      for (const s of streams) s.close();
    },
  };
}

function ago(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms ago` : ms < 120_000 ? `${Math.round(ms / 1000)} s ago` : `${Math.round(ms / 60_000)} min ago`;
}
