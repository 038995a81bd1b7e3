import { PAGE_LIMIT_MAX } from "./chat-limits.ts";

/** A page size within 1..PAGE_LIMIT_MAX, whatever the caller passed (NaN becomes 1). */
export function clampPageLimit(limit: number): number {
  if (Number.isNaN(limit)) return 1;
  return Math.min(PAGE_LIMIT_MAX, Math.max(1, Math.trunc(limit)));
}
