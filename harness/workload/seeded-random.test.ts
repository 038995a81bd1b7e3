import { describe, expect, test } from "bun:test";
import { SeededRandom } from "./seeded-random.ts";

describe("SeededRandom", () => {
  test("the same seed gives the same choices; another seed, others", () => {
    const draw = (seed: number) => Array.from({ length: 20 }, ((r) => () => r.below(1000))(new SeededRandom(seed)));
    expect(draw(42)).toEqual(draw(42));
    expect(draw(42)).not.toEqual(draw(43));
  });

  test("forked streams are reproducible and differ from each other", () => {
    const a = new SeededRandom(7).fork(1);
    const b = new SeededRandom(7).fork(1);
    const c = new SeededRandom(7).fork(2);
    const take = (r: SeededRandom) => Array.from({ length: 10 }, () => r.nextUint32());
    const first = take(a);
    expect(take(b)).toEqual(first);
    expect(take(c)).not.toEqual(first);
  });

  test("below(n) stays in range and reaches every value", () => {
    const r = new SeededRandom(1);
    const seen = new Set<number>();
    for (let i = 0; i < 1000; i++) seen.add(r.below(5));
    expect([...seen].sort()).toEqual([0, 1, 2, 3, 4]);
    expect(() => r.below(0)).toThrow(RangeError);
  });
});
