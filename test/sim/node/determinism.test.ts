// A whole-node run must be a pure function of its seed, async node code and all.

import { expect, test } from "bun:test";
import { runNodeSimulation } from "./simulation.ts";

test("a whole-node seed replays identically, line for line", async () => {
  const options = { seed: 12, nodeCount: 5, steps: 150, keepFullTrace: true };
  const first = await runNodeSimulation(options);
  const second = await runNodeSimulation(options);
  expect(first.trace!.length).toBeGreaterThan(100);
  expect(second.trace).toEqual(first.trace);
  expect(second.events).toBe(first.events);
  expect(second.virtualTimeMs).toBe(first.virtualTimeMs);
});

test("different seeds take different paths", async () => {
  const a = await runNodeSimulation({ seed: 21, nodeCount: 5, steps: 80, keepFullTrace: true });
  const b = await runNodeSimulation({ seed: 22, nodeCount: 5, steps: 80, keepFullTrace: true });
  expect(a.trace).not.toEqual(b.trace);
});
