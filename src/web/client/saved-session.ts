/// <reference lib="dom" />
// The session token lives in sessionStorage: it survives a reload and a failover, and two
// tabs can be two different people. Bearer tokens, not cookies, because the page calls
// other nodes cross-origin.

const SESSION_KEY = "concord.session";
const ADMIN_KEY = "concord.adminToken";

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

export function loadAdminToken(): string | null {
  return sessionStorage.getItem(ADMIN_KEY);
}

export function saveAdminToken(token: string | null): void {
  if (token === null || token === "") sessionStorage.removeItem(ADMIN_KEY);
  else sessionStorage.setItem(ADMIN_KEY, token);
}
