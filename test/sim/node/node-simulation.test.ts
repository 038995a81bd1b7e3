// The whole-node simulator over many seeds: the RaftNode that ships, crashed, cut off and
// stalled anywhere. A failure names its seed and the command that replays it.

import { expect, test } from "bun:test";
import { runNodeSimulation } from "./simulation.ts";

const FIRST_SEED = 1;
/** 2,000 seeds in CI; at ~0.1 s a seed, batches of 100 stay well under the test timeout. */
const BATCHES = 20;
const SEEDS_PER_BATCH = 100;
const STEPS_PER_SEED = 150;

for (let b = 0; b < BATCHES; b++) {
  const first = FIRST_SEED + b * SEEDS_PER_BATCH;
  const last = first + SEEDS_PER_BATCH - 1;
  test(`whole-node simulation seeds ${first}..${last}`, async () => {
    let acknowledged = 0;
    let crashes = 0;
    for (let seed = first; seed <= last; seed++) {
      const result = await runNodeSimulation({ seed, nodeCount: 5, steps: STEPS_PER_SEED });
      acknowledged += result.acknowledged;
      crashes += result.world.crashes;
    }
    // A simulator that never gets a write through, or never crashes anything, passes vacuously.
    expect(acknowledged).toBeGreaterThan(10 * SEEDS_PER_BATCH);
    expect(crashes).toBeGreaterThan(SEEDS_PER_BATCH);
  }, 120_000);
}
