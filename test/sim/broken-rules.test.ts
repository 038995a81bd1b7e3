// The simulator must catch a core with a deliberate safety bug. Each test searches
// seeds in order and stops at the first violation; if none turns up within the CI
// budget the simulator has gone blind to that class of bug.

import { expect, test } from "bun:test";
import type { UnsafeTestingFaults } from "./cluster.ts";
import { runSimulation } from "./simulation.ts";
import { SimulationViolation } from "./violation.ts";

const SEED_BUDGET = 2000;
const STEPS_PER_SEED = 300;

function firstViolation(faults: UnsafeTestingFaults): { seedsTried: number; violation: SimulationViolation } | null {
  for (let k = 0; k < SEED_BUDGET; k++) {
    const seed = 1 + k;
    try {
      runSimulation({ seed, nodeCount: seed % 2 === 1 ? 3 : 5, steps: STEPS_PER_SEED, unsafeTestingFaults: faults });
    } catch (err) {
      if (!(err instanceof SimulationViolation)) throw err;
      return { seedsTried: k + 1, violation: err };
    }
  }
  return null;
}

function expectCaught(name: string, faults: UnsafeTestingFaults): void {
  const hit = firstViolation(faults);
  if (hit === null) throw new Error(`${name}: no violation in ${SEED_BUDGET} seeds`);
  const v = hit.violation;
  console.log(`${name}: caught by seed ${v.seed} [${v.rule}] after ${hit.seedsTried} seeds`);
  // The report must be enough to reproduce and diagnose: seed, rule, recent events.
  expect(v.message).toContain(`seed ${v.seed}`);
  expect(v.message).toContain(v.rule);
  expect(v.message).toContain(`--unsafe ${name}`);
  expect(v.traceTail.length).toBeGreaterThan(10);
  // An exception means the core tripped over its own assertion, not that a rule caught it.
  expect(v.rule).not.toBe("exception");
}

test("commitPreviousTermByCount (Figure 8) is caught", () => {
  expectCaught("commitPreviousTermByCount", { commitPreviousTermByCount: true });
}, 300_000);

test("voteBeforePersist is caught", () => {
  expectCaught("voteBeforePersist", { voteBeforePersist: true });
}, 300_000);
