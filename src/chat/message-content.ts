import { CONTENT_MAX_CHARS } from "./chat-limits.ts";
import { isWellFormedText } from "./well-formed-text.ts";

// What apply stores is a function of the log alone, so trimming must not depend on the
// runtime: String.prototype.trim follows the engine's Unicode tables, which have changed
// between versions (U+180E stopped being a space). This is ECMAScript's WhiteSpace and
// LineTerminator set, written out once and for all. (A loop, not a regex: `\s+$` is
// quadratic on long inner runs of spaces.)
const WHITESPACE_CODE_UNITS = new Set([
  0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0xa0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009,
  0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000, 0xfeff,
]);

/** The content as stored: without leading and trailing whitespace. */
export function trimContent(content: string): string {
  let start = 0;
  let end = content.length;
  while (start < end && WHITESPACE_CODE_UNITS.has(content.charCodeAt(start))) start++;
  while (end > start && WHITESPACE_CODE_UNITS.has(content.charCodeAt(end - 1))) end--;
  return content.slice(start, end);
}

/** Length in code points, so a character outside the BMP counts once. */
export function contentChars(content: string): number {
  let count = 0;
  for (const _ of content) count++;
  return count;
}

/** Why the content cannot be sent, or null when it can. */
export function contentProblem(content: string): string | null {
  if (!isWellFormedText(content)) return "the message has an unpaired surrogate";
  const chars = contentChars(trimContent(content));
  if (chars === 0) return "the message is empty";
  if (chars > CONTENT_MAX_CHARS) return `the message has ${chars} characters, over ${CONTENT_MAX_CHARS}`;
  return null;
}
