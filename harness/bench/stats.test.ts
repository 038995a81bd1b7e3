import { describe, expect, test } from "bun:test";
import { longestGap, median, percentile, round } from "./stats.ts";

describe("percentile (nearest rank)", () => {
  const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
  test("p50, p99 and p100 of 1..100", () => {
    expect(percentile(hundred, 50)).toBe(50);
    expect(percentile(hundred, 99)).toBe(99);
    expect(percentile(hundred, 100)).toBe(100);
    expect(percentile(hundred, 0)).toBe(1);
  });
  test("one value is every percentile; none is NaN", () => {
    expect(percentile([7], 50)).toBe(7);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
  });
  test("small sets round up to the next rank", () => {
    expect(percentile([1, 2, 3], 50)).toBe(2);
    expect(percentile([1, 2, 3, 4], 50)).toBe(2);
    expect(percentile([1, 2, 3, 4], 99)).toBe(4);
  });
});

test("median of odd, even and unsorted arrays", () => {
  expect(median([3, 1, 2])).toBe(2);
  expect(median([4, 1, 3, 2])).toBe(2.5);
  expect(median([])).toBeNaN();
});

describe("longestGap", () => {
  test("finds the widest interval, in any order", () => {
    expect(longestGap([10, 0, 1, 2, 3])).toEqual({ gap: 7, start: 3, end: 10 });
  });
  test("counts the interval spanning `from`, ignores earlier ones", () => {
    expect(longestGap([0, 50, 51, 60], 55).gap).toBe(9);
    expect(longestGap([0, 50, 51, 60], 50.5).gap).toBe(9);
    expect(longestGap([0, 50, 51, 60], 40).gap).toBe(50);
  });
  test("fewer than two times: no gap", () => {
    expect(longestGap([]).gap).toBe(0);
    expect(longestGap([5]).gap).toBe(0);
  });
});

test("round", () => {
  expect(round(1.23456, 2)).toBe(1.23);
  expect(round(1234.5, 0)).toBe(1235);
});
