// An SVG chart of latency against throughput (one point per client count; p50 and p99).
import type { LevelResult } from "./workload.ts";

const W = 640;
const H = 400;
const M = { left: 64, right: 24, top: 40, bottom: 52 };

export function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&apos;");
}

/** Round numbers for an axis from 0 to at least `max` (about `count` steps). */
export function niceTicks(max: number, count = 5): number[] {
  if (!(max > 0) || !Number.isFinite(max)) return [0, 1];
  const raw = max / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw)!;
  const ticks: number[] = [];
  for (let v = 0; v < max + step * 0.999; v += step) ticks.push(+v.toPrecision(12));
  return ticks;
}

export function latencyThroughputSvg(levels: readonly LevelResult[], title: string): string {
  const points = levels.filter((l) => Number.isFinite(l.latencyMs.p99) && Number.isFinite(l.messagesPerSecond));
  const xTicks = niceTicks(Math.max(1, ...points.map((l) => l.messagesPerSecond)));
  const yTicks = niceTicks(Math.max(1, ...points.map((l) => l.latencyMs.p99)));
  const xMax = xTicks[xTicks.length - 1]!;
  const yMax = yTicks[yTicks.length - 1]!;
  const x = (v: number) => M.left + (v / xMax) * (W - M.left - M.right);
  const y = (v: number) => H - M.bottom - (v / yMax) * (H - M.top - M.bottom);
  const f = (n: number) => n.toFixed(1);
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  parts.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="14">${escapeXml(title)}</text>`);
  for (const t of xTicks) {
    parts.push(`<line x1="${f(x(t))}" y1="${M.top}" x2="${f(x(t))}" y2="${H - M.bottom}" stroke="#eee"/>`);
    parts.push(`<text x="${f(x(t))}" y="${H - M.bottom + 16}" text-anchor="middle">${t.toLocaleString("en-US")}</text>`);
  }
  for (const t of yTicks) {
    parts.push(`<line x1="${M.left}" y1="${f(y(t))}" x2="${W - M.right}" y2="${f(y(t))}" stroke="#eee"/>`);
    parts.push(`<text x="${M.left - 6}" y="${f(y(t) + 4)}" text-anchor="end">${t}</text>`);
  }
  parts.push(`<line x1="${M.left}" y1="${H - M.bottom}" x2="${W - M.right}" y2="${H - M.bottom}" stroke="black"/>`);
  parts.push(`<line x1="${M.left}" y1="${M.top}" x2="${M.left}" y2="${H - M.bottom}" stroke="black"/>`);
  parts.push(`<text x="${(M.left + W - M.right) / 2}" y="${H - 12}" text-anchor="middle">messages/s (acknowledged, durable on a majority)</text>`);
  parts.push(`<text transform="translate(16 ${(M.top + H - M.bottom) / 2}) rotate(-90)" text-anchor="middle">latency ms</text>`);
  for (const [key, colour] of [["p50", "#1f77b4"], ["p99", "#d62728"]] as const) {
    const path = points.map((l, i) => `${i === 0 ? "M" : "L"}${f(x(l.messagesPerSecond))} ${f(y(l.latencyMs[key]))}`).join(" ");
    if (points.length > 1) parts.push(`<path d="${path}" fill="none" stroke="${colour}" stroke-width="2"/>`);
    for (const l of points) {
      parts.push(`<circle cx="${f(x(l.messagesPerSecond))}" cy="${f(y(l.latencyMs[key]))}" r="4" fill="${colour}"><title>${l.clients} clients: ${l.messagesPerSecond} msg/s, ${key} ${l.latencyMs[key]} ms</title></circle>`);
      if (key === "p99") parts.push(`<text x="${f(x(l.messagesPerSecond) + 6)}" y="${f(y(l.latencyMs[key]) - 6)}">${l.clients}</text>`);
    }
  }
  // Top left: latency grows with throughput, so points crowd the right and the bottom.
  parts.push(`<text x="${M.left + 12}" y="${M.top + 12}" fill="#1f77b4">● p50</text>`);
  parts.push(`<text x="${M.left + 62}" y="${M.top + 12}" fill="#d62728">● p99</text>`);
  parts.push(`<text x="${M.left + 12}" y="${M.top + 28}">labels: clients</text>`);
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}
