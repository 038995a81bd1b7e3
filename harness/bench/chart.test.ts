import { expect, test } from "bun:test";
import { latencyThroughputSvg, niceTicks } from "./chart.ts";
import { level } from "./fixtures.ts";

/** A small well-formedness check: one root, every tag closed in order, attributes quoted, entities known. */
function assertWellFormed(xml: string): void {
  const stack: string[] = [];
  let roots = 0;
  const tag = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/g;
  let last = 0;
  for (let m = tag.exec(xml); m !== null; m = tag.exec(xml)) {
    const between = xml.slice(last, m.index);
    expect(between).not.toMatch(/[<>]/);
    expect(between.replace(/&(amp|lt|gt|quot|apos);/g, "")).not.toContain("&");
    last = tag.lastIndex;
    const [, closing, name, , selfClosing] = m;
    if (closing === "/") expect(stack.pop()).toBe(name!);
    else if (selfClosing !== "/") {
      if (stack.length === 0) roots++;
      stack.push(name!);
    } else if (stack.length === 0) roots++;
  }
  expect(xml.slice(last).trim()).toBe("");
  expect(stack).toEqual([]);
  expect(roots).toBe(1);
}

test("the chart is well-formed SVG with a point per level and percentile", () => {
  const svg = latencyThroughputSvg([level(1, 500, 1.9, 4.5), level(16, 2500, 6, 15), level(64, 3000, 20, 60)], "a <title> & more");
  assertWellFormed(svg);
  expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
  expect(svg).toContain("a &lt;title&gt; &amp; more");
  expect(svg.match(/<circle /g)?.length).toBe(6);
  expect(svg).not.toContain("NaN");
});

test("no levels or NaN latencies still give a well-formed chart", () => {
  assertWellFormed(latencyThroughputSvg([], "empty"));
  const svg = latencyThroughputSvg([{ ...level(1, 0, NaN, NaN) }], "none");
  assertWellFormed(svg);
  expect(svg).not.toContain("NaN");
});

test("the checker itself rejects broken XML", () => {
  expect(() => assertWellFormed("<svg><g></svg>")).toThrow();
  expect(() => assertWellFormed("<svg>a & b</svg>")).toThrow();
});

test("niceTicks covers the maximum with round steps", () => {
  expect(niceTicks(9300)).toEqual([0, 2000, 4000, 6000, 8000, 10000]);
  expect(niceTicks(57)).toEqual([0, 20, 40, 60]);
  expect(niceTicks(0)).toEqual([0, 1]);
  expect(niceTicks(NaN)).toEqual([0, 1]);
});
