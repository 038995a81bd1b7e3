import { USERNAME_MAX_CHARS } from "./chat-limits.ts";

/**
 * Translate an account search pattern, where only `*` (any run) and `?` (one character)
 * are special, into an SQLite GLOB pattern. GLOB is case-sensitive like usernames and,
 * unlike LIKE, gives `%` and `_` no meaning; its one other metacharacter pair, `[` `]`,
 * is escaped as the one-character classes `[[]` and `[]]`.
 *
 * Returns null when the pattern cannot match any username (it needs more characters
 * than a username has), which also bounds the work a long pattern can cause.
 */
export function accountGlob(pattern: string): string | null {
  let glob = "";
  let fixedChars = 0;
  for (const char of pattern) {
    if (char === "*") {
      // A run of stars means what one star means; collapsing keeps GLOB's backtracking small.
      if (!glob.endsWith("*")) glob += "*";
      continue;
    }
    fixedChars++;
    if (fixedChars > USERNAME_MAX_CHARS) return null;
    glob += char === "[" ? "[[]" : char === "]" ? "[]]" : char;
  }
  return glob;
}
