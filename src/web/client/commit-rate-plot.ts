/// <reference lib="dom" />
// Commits per second over the last minute, sampled once a second from the highest commit
// index any node reports. An SVG area: crisp at any size, no library.

import { h } from "./dom.ts";

const SECONDS = 60;
const WIDTH = 600;
const HEIGHT = 120;
const SVG = "http://www.w3.org/2000/svg";

export interface CommitRatePlot {
  readonly element: HTMLElement;
  /** Called once a second with the highest commit index known now (null: nobody answers). */
  sample(commitIndex: number | null): void;
}

export function commitRatePlot(): CommitRatePlot {
  const rates: number[] = [];
  let lastIndex: number | null = null;
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${WIDTH} ${HEIGHT}`);
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("class", "plot");
  svg.setAttribute("role", "img");
  const area = document.createElementNS(SVG, "path");
  area.setAttribute("class", "plot-area");
  const line = document.createElementNS(SVG, "path");
  line.setAttribute("class", "plot-line");
  svg.append(area, line);
  const current = h("span", { class: "plot-current", id: "commit-rate" }, "measuring…");
  const peak = h("span", { class: "plot-peak" });
  const element = h(
    "section",
    { class: "card plot-card" },
    h("div", { class: "plot-header" }, h("h2", null, "Commits per second"), h("span", { class: "plot-values" }, current, peak)),
    svg as unknown as HTMLElement,
    h("div", { class: "plot-axis" }, h("span", null, "60 s ago"), h("span", null, "now")),
  );

  const draw = () => {
    const max = Math.max(1, ...rates);
    const step = WIDTH / (SECONDS - 1);
    const offset = SECONDS - rates.length;
    const points = rates.map((r, i) => `${((offset + i) * step).toFixed(1)},${(HEIGHT - 4 - (r / max) * (HEIGHT - 12)).toFixed(1)}`);
    if (points.length === 0) {
      line.setAttribute("d", "");
      area.setAttribute("d", "");
      return;
    }
    line.setAttribute("d", `M${points.join(" L")}`);
    area.setAttribute("d", `M${(offset * step).toFixed(1)},${HEIGHT} L${points.join(" L")} L${WIDTH},${HEIGHT} Z`);
    svg.setAttribute("aria-label", `Commits per second over the last minute; now ${rates.at(-1) ?? 0}, peak ${max}`);
    current.textContent = `${rates.at(-1) ?? 0}/s now`;
    peak.textContent = ` · peak ${Math.max(...rates)}/s`;
  };

  return {
    element,
    sample(commitIndex) {
      if (commitIndex === null) return;
      if (lastIndex !== null) {
        rates.push(Math.max(0, commitIndex - lastIndex));
        if (rates.length > SECONDS) rates.shift();
        draw();
      }
      lastIndex = commitIndex;
    },
  };
}
