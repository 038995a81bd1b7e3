/// <reference lib="dom" />
// The session token lives in sessionStorage: it survives a reload and a failover, and two
// tabs can be two different people. Bearer tokens, not cookies, because the page calls
// other nodes cross-origin. The page's CSP lets no script but its own run, and sessions
// expire on the server. The cluster admin token is never stored: the dashboard keeps it
// in memory while unlocked (cluster-dashboard.ts).

const SESSION_KEY = "concord.session";

export interface SavedSession {
  readonly token: string;
  readonly username: string;
}

export function loadSession(): SavedSession | null {
  try {
    const parsed = JSON.parse(sessionStorage.getItem(SESSION_KEY) ?? "null") as Partial<SavedSession> | null;
    return parsed !== null && typeof parsed.token === "string" && typeof parsed.username === "string" ? { token: parsed.token, username: parsed.username } : null;
  } catch {
    return null;
  }
}

export function saveSession(session: SavedSession | null): void {
  if (session === null) sessionStorage.removeItem(SESSION_KEY);
  else sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
}
