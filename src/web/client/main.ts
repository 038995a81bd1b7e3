/// <reference lib="dom" />
// The page's entry point: chat at /, the cluster dashboard at /cluster.

import { authScreen } from "./auth-screen.ts";
import { chatScreen } from "./chat-screen.ts";
import { clusterDashboard } from "./cluster-dashboard.ts";
import { replaceChildren } from "./dom.ts";
import { createClient, readPageConfig } from "./page-config.ts";
import { loadSession, saveSession, type SavedSession } from "./saved-session.ts";

const config = readPageConfig();
const root = document.getElementById("app")!;
root.className = "";

if (location.pathname === "/cluster") {
  document.title = "Cluster · Concord";
  replaceChildren(root, clusterDashboard(config).element);
} else {
  startChat();
}

function startChat(): void {
  let dispose: (() => void) | null = null;
  const show = (session: SavedSession | null) => {
    dispose?.();
    dispose = null;
    saveSession(session);
    if (session === null) {
      document.title = "Sign in · Concord";
      replaceChildren(root, authScreen(createClient(config), show));
      root.querySelector<HTMLInputElement>("#auth-username")?.focus();
      return;
    }
    document.title = "Concord";
    const client = createClient(config, { token: session.token });
    const screen = chatScreen(client, session.username, () => show(null));
    dispose = screen.dispose;
    replaceChildren(root, screen.element);
  };
  show(loadSession());
}
