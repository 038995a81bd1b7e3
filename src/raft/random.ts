import type { Rng } from "./types.ts";

/**
 * A small seeded PRNG (SplitMix32-style mixing over a Weyl sequence). Not for
 * cryptography: it only spreads election timeouts, and it makes every run a pure
 * function of its seed so a simulator failure replays exactly.
 */
export class SeededRng implements Rng {
  private state: number;

  constructor(seed: number) {
    // Mix the seed so that nearby seeds (1, 2, 3 …) start far apart.
    this.state = mix32((seed | 0) ^ 0x9e3779b9);
  }

  /** The next 32-bit unsigned value. */
  nextUint32(): number {
    this.state = (this.state + 0x9e3779b9) | 0;
    return mix32(this.state);
  }

  nextInt(bound: number): number {
    if (!Number.isInteger(bound) || bound <= 0 || bound > 0x1_0000_0000) {
      throw new RangeError(`nextInt bound must be an integer in [1, 2^32], got ${bound}`);
    }
    // Multiply-shift keeps the bias below 2^-32 per value, far beneath what matters here.
    return Math.floor((this.nextUint32() / 0x1_0000_0000) * bound);
  }

}

function mix32(input: number): number {
  let z = input | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}
