import { describe, expect, test } from "bun:test";
import type { ClusterView } from "../cluster/local-cluster.ts";
import { formatTable, StatusBoard, type NodeRow } from "./status-board.ts";

function view(nodeId: number, role: string, term: number, leader: number): ClusterView {
  return {
    nodeId, role, term, leader, commitIndex: 10, appliedIndex: 9, snapshotIndex: 0,
    stateDigest: { index: 9, digest: "d" }, members: [], io: { raftWrites: 0, fsyncs: 0, applyBatches: 0, entriesApplied: 0 },
  };
}

describe("status board", () => {
  test("the table has one aligned row per node, with down nodes and cut links", () => {
    const rows: NodeRow[] = [
      { id: 1, state: "up", view: view(1, "leader", 3, 1), cuts: "" },
      { id: 2, state: "down", view: null, cuts: "cut 1" },
    ];
    const lines = formatTable(rows);
    expect(lines[0]).toMatch(/^node\s+state\s+role\s+term\s+leader\s+commit\s+applied\s+snapshot\s+links$/);
    expect(lines[1]).toMatch(/^1\s+up\s+leader\s+3\s+1\s+10\s+9\s+0\s+ok$/);
    expect(lines[2]).toMatch(/^2\s+down\s+-\s+-\s+-\s+-\s+-\s+-\s+cut 1$/);
    expect(lines[1]!.indexOf("leader")).toBe(lines[0]!.indexOf("role"));
  });

  test("off a terminal it prints a plain line only when a node's role, term or leader changes", async () => {
    const written: string[] = [];
    let rows: NodeRow[] = [{ id: 1, state: "up", view: view(1, "follower", 1, 2), cuts: "" }];
    const board = new StatusBoard({ isTTY: false, write: (t) => void written.push(t) }, { rows: async () => rows });
    await board.refresh();
    await board.refresh();
    rows = [{ id: 1, state: "up", view: view(1, "leader", 2, 1), cuts: "" }];
    await board.refresh();
    expect(written).toEqual(["  · node 1: up follower, term 1, leader 2, commit 10, applied 9\n", "  · node 1: up leader, term 2, leader 1, commit 10, applied 9\n"]);
    expect(written.join("")).not.toContain("\x1b[");
  });

  test("on a terminal, narration erases the table and draws it again below", async () => {
    const written: string[] = [];
    const board = new StatusBoard({ isTTY: true, write: (t) => void written.push(t) }, { rows: async () => [{ id: 1, state: "up", view: view(1, "leader", 2, 1), cuts: "" }] });
    await board.refresh();
    board.print("hello");
    expect(written[written.length - 3]).toBe("\x1b[2F\x1b[0J"); // up over header + one row, clear
    expect(written[written.length - 2]).toBe("hello\n");
    expect(written[written.length - 1]).toContain("leader");
  });
});
