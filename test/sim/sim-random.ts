// The simulator's own source of choices (delays, faults, client actions). It is a
// separate stream from the nodes' rngs so that a core change in how often a node
// draws random numbers does not reshuffle the whole fault schedule of a seed.

import { SeededRng } from "../../src/raft/random.ts";
import type { Rng } from "../../src/raft/types.ts";

/**
 * Spreads (seed, stream) over 32 bits so that neighbouring seeds and neighbouring
 * streams start uncorrelated (a plain `seed + stream` would make seed 1/stream 2
 * collide with seed 2/stream 1).
 */
export function deriveSeed(seed: number, stream: number): number {
  let h = Math.imul(seed ^ 0x5bd1e995, 0x9e3779b1) ^ Math.imul(stream + 0x27d4eb2f, 0x85ebca77);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  h = Math.imul(h, 0x297a2d39);
  h ^= h >>> 15;
  // Some generators have a degenerate all-zero state; never hand one a zero seed.
  return h >>> 0 || 0x1234567;
}

export class SimRandom {
  private readonly rng: Rng;

  constructor(seed: number) {
    this.rng = new SeededRng(seed);
  }

  /** An integer in [0, bound). */
  int(bound: number): number {
    return this.rng.nextInt(bound);
  }

  /** An integer in [low, high], both ends included. */
  between(low: number, high: number): number {
    return low + this.rng.nextInt(high - low + 1);
  }

  /** True with probability `p` (resolution 1e-6, plenty for fault rates). */
  chance(p: number): boolean {
    if (p <= 0) return false;
    if (p >= 1) return true;
    return this.rng.nextInt(1_000_000) < p * 1_000_000;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error("SimRandom.pick from an empty list");
    return items[this.rng.nextInt(items.length)] as T;
  }

  /** A random subset of `items` of exactly `count` elements, in random order. */
  sample<T>(items: readonly T[], count: number): T[] {
    const pool = items.slice();
    for (let i = pool.length - 1; i > 0; i--) {
      const j = this.rng.nextInt(i + 1);
      const t = pool[i] as T;
      pool[i] = pool[j] as T;
      pool[j] = t;
    }
    return pool.slice(0, count);
  }

  /** Picks a key with probability proportional to its weight (zero weights never win). */
  weighted<K>(table: ReadonlyArray<readonly [K, number]>): K {
    // Integer slots (weights scaled by 1000) keep the draw exact and platform-independent.
    const slots = table.map(([, w]) => Math.round(Math.max(0, w) * 1000));
    const total = slots.reduce((a, b) => a + b, 0);
    if (total <= 0) throw new Error("SimRandom.weighted with no positive weight");
    let roll = this.rng.nextInt(total);
    for (let i = 0; i < table.length; i++) {
      const slot = slots[i] as number;
      if (roll < slot) return table[i]![0];
      roll -= slot;
    }
    throw new Error("SimRandom.weighted: unreachable");
  }
}
