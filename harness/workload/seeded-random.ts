/**
 * A small seeded generator (sfc32) for workloads and randomised faults: the same seed
 * gives the same sequence of choices, so `--seed` reproduces a run's requests.
 */
export class SeededRandom {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(readonly seed: number) {
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = 0xb7e15162;
    this.d = seed >>> 0;
    for (let i = 0; i < 16; i++) this.nextUint32();
  }

  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** An integer in [0, n). */
  below(n: number): number {
    if (!Number.isInteger(n) || n <= 0) throw new RangeError(`below(${n})`);
    return this.nextUint32() % n;
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.nextUint32() / 2 ** 32 < p;
  }

  pick<T>(items: readonly T[]): T {
    const item = items[this.below(items.length)];
    if (item === undefined) throw new RangeError("pick from an empty list");
    return item;
  }

  /** An independent generator for one client, derived from this one's seed. */
  fork(stream: number): SeededRandom {
    return new SeededRandom((Math.imul(this.seed ^ 0x5bd1e995, 0x27d4eb2d) + stream * 0x9e3779b1) >>> 0);
  }
}
