// A run must be a pure function of (seed, options): same seed, same trace, line for line.

import { expect, test } from "bun:test";
import { runSimulation } from "./simulation.ts";

for (const [seed, nodeCount] of [
  [11, 3],
  [12, 5],
] as const) {
  test(`seed ${seed} with ${nodeCount} nodes replays identically`, () => {
    const options = { seed, nodeCount, steps: 150, keepFullTrace: true };
    const first = runSimulation(options);
    const second = runSimulation(options);
    expect(first.trace).not.toBeNull();
    expect(first.trace!.length).toBeGreaterThan(500);
    expect(second.trace).toEqual(first.trace);
    expect(second.virtualTimeMs).toBe(first.virtualTimeMs);
  });
}

test("different seeds take different paths", () => {
  const a = runSimulation({ seed: 21, nodeCount: 5, steps: 100, keepFullTrace: true });
  const b = runSimulation({ seed: 22, nodeCount: 5, steps: 100, keepFullTrace: true });
  expect(a.trace).not.toEqual(b.trace);
});
