// Pure statistics for `concord bench`: percentiles, medians, the longest gap in a series.

/** Nearest-rank percentile of an ascending array (NaN when empty). `p` in 0..100. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  if (p <= 0) return sorted[0]!;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, rank) - 1]!;
}

/** Median of any array (mean of the middle two for an even count; NaN when empty). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * The longest interval between consecutive times (any order) at or after `from`,
 * counting the interval that spans `from` itself. 0 with fewer than two times.
 */
export function longestGap(times: readonly number[], from = -Infinity): { gap: number; start: number; end: number } {
  const sorted = [...times].sort((a, b) => a - b);
  let best = { gap: 0, start: NaN, end: NaN };
  for (let i = 1; i < sorted.length; i++) {
    const start = sorted[i - 1]!;
    const end = sorted[i]!;
    if (end < from) continue;
    if (end - start > best.gap) best = { gap: end - start, start, end };
  }
  return best;
}

/** Round to `digits` decimals (keeps JSON and tables short). */
export function round(value: number, digits = 2): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
