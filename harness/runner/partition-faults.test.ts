import { describe, expect, test } from "bun:test";
import { partitionFaults } from "./scenario-runner.ts";

describe("partitionFaults", () => {
  test("nothing crosses between groups, both ways; links inside a group stay", () => {
    const faults = partitionFaults([1, 2, 3, 4, 5], [[1, 2], [3, 4, 5]]);
    expect(faults.get(1)).toEqual({ dropTo: [3, 4, 5], dropFrom: [3, 4, 5] });
    expect(faults.get(4)).toEqual({ dropTo: [1, 2], dropFrom: [1, 2] });
  });

  test("a node named in no group keeps every link (it bridges the groups)", () => {
    const faults = partitionFaults([1, 2, 3, 4, 5], [[1], [2, 3]]);
    expect(faults.get(4)).toEqual({ dropTo: [], dropFrom: [] });
    expect(faults.get(1)).toEqual({ dropTo: [2, 3], dropFrom: [2, 3] });
    expect(faults.get(2)).toEqual({ dropTo: [1], dropFrom: [1] });
  });
});
