import { describe, expect, test } from "bun:test";
import { checkWellFormed } from "../checkers/history.ts";
import { HistoryRecorder } from "./history-recorder.ts";

describe("HistoryRecorder", () => {
  test("records invocation and outcome in the checkers' shape; unknown has no completion", () => {
    const recorder = new HistoryRecorder();
    const send = recorder.begin("send", "c1", { from: "a", to: "b", content: "x", idempotencyKey: "k" });
    const read = recorder.begin("read", "c2", { account: "b", peer: null });
    const lost = recorder.begin("createAccount", "c3", { username: "race-a" });
    send.ok({ messageId: 5 });
    read.fail();
    lost.unknown();
    const history = recorder.history();
    expect(history.map((op) => [op.id, op.kind, op.outcome])).toEqual([[1, "send", "ok"], [2, "read", "fail"], [3, "createAccount", "unknown"]]);
    expect(history[0]!.completedAtMs).not.toBeNull();
    expect(history[2]!.completedAtMs).toBeNull();
    expect(checkWellFormed(history).ok).toBe(true);
  });

  test("settling an operation twice is a bug", () => {
    const op = new HistoryRecorder().begin("checkAccount", "c", { username: "x" });
    op.ok({ result: "exists" });
    expect(() => op.fail()).toThrow("settled twice");
  });
});
