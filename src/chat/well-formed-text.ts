/**
 * True when `text` has no unpaired surrogate. SQLite stores UTF-8, which cannot hold
 * one: it would come back as U+FFFD, so two different strings could land as the same
 * key, and what apply returned would differ from what it stored.
 */
export function isWellFormedText(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0xd800 || unit > 0xdfff) continue;
    const next = text.charCodeAt(i + 1);
    if (unit > 0xdbff || !(next >= 0xdc00 && next <= 0xdfff)) return false;
    i++;
  }
  return true;
}
