// The deterministic simulator over many seeds, mixing 3- and 5-node clusters. A
// failure message starts with the seed and the command that reproduces it.

import { expect, test } from "bun:test";
import { runSimulation } from "./simulation.ts";

const FIRST_SEED = 1;
const BATCHES = 10;
const SEEDS_PER_BATCH = 52;
/** Chaos actions per seed; sized so the whole file stays well under a minute on 2 cores. */
const STEPS_PER_SEED = 300;

for (let b = 0; b < BATCHES; b++) {
  const first = FIRST_SEED + b * SEEDS_PER_BATCH;
  const last = first + SEEDS_PER_BATCH - 1;
  test(`simulation seeds ${first}..${last} (odd seeds 3 nodes, even seeds 5 nodes)`, () => {
    let acknowledged = 0;
    for (let seed = first; seed <= last; seed++) {
      const result = runSimulation({ seed, nodeCount: seed % 2 === 1 ? 3 : 5, steps: STEPS_PER_SEED });
      acknowledged += result.client.acknowledged;
    }
    // A simulator that never gets a write through would pass vacuously.
    expect(acknowledged).toBeGreaterThan(SEEDS_PER_BATCH);
  });
}
