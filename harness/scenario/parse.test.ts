import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { formatStep, parseLine, parseScenario, parseScenarioLocated, parseStep } from "./parse.ts";
import { ScenarioSyntaxError, type NodeId, type Step, type StepKind, type SyntaxErrorCode } from "./steps.ts";

describe("every step parses", () => {
  const cases: [string, Step][] = [
    ["cluster 5", { kind: "cluster", nodes: 5 }],
    ["cluster 5 --machines 1,2 | 3,4,5", { kind: "cluster", nodes: 5, machines: [[1, 2], [3, 4, 5]] }],
    ["fail 2", { kind: "fail", target: [2] }],
    ["fail leader", { kind: "fail", target: "leader" }],
    ["kill 3", { kind: "kill", target: [3] }],
    ["kill 1,2", { kind: "kill", target: [1, 2] }],
    ["stop 4", { kind: "stop", target: [4] }],
    ["pause 1", { kind: "pause", target: [1] }],
    ["pause leader", { kind: "pause", target: "leader" }],
    ["resume 1", { kind: "resume", nodes: [1] }],
    ["restart 2,3,4", { kind: "restart", nodes: [2, 3, 4] }],
    ["restart 2 , 3", { kind: "restart", nodes: [2, 3] }],
    ["partition 1,2 | 3,4,5", { kind: "partition", groups: [[1, 2], [3, 4, 5]] }],
    ["partition 1|2|3", { kind: "partition", groups: [[1], [2], [3]] }],
    ["cut 1 -> 2", { kind: "cut", from: [1], to: [2] }],
    ["cut 1,2->3,4", { kind: "cut", from: [1, 2], to: [3, 4] }],
    ["isolate 3", { kind: "isolate", target: [3] }],
    ["isolate leader", { kind: "isolate", target: "leader" }],
    ["heal", { kind: "heal" }],
    ["add 6", { kind: "add", node: 6 }],
    ["remove 1", { kind: "remove", node: 1 }],
    ["transfer 64", { kind: "transfer", node: 64 }],
    ["wait leader", { kind: "wait-leader" }],
    ["wait 2s", { kind: "wait", ms: 2000 }],
    ["wait 500ms", { kind: "wait", ms: 500 }],
    ["wait 1.5s", { kind: "wait", ms: 1500 }],
    ["wait 1m", { kind: "wait", ms: 60000 }],
    ["workload 200", { kind: "workload", count: 200 }],
    ["workload 200 --clients 8", { kind: "workload", count: 200, clients: 8 }],
    ["workload 20 --deadline 3s", { kind: "workload", count: 20, deadlineMs: 3000 }],
    ["workload 20 --deadline 3s --clients 2", { kind: "workload", count: 20, clients: 2, deadlineMs: 3000 }],
    ["workload 300 --clients 8 --background", { kind: "workload", count: 300, clients: 8, background: true }],
    ["expect ok", { kind: "expect", outcome: "ok" }],
    ["expect unavailable", { kind: "expect", outcome: "unavailable" }],
    ["check", { kind: "check" }],
    ["status", { kind: "status" }],
    ['say "hello # not a comment"', { kind: "say", text: "hello # not a comment" }],
    ['say "a \\"quoted\\" \\\\ word\\n"', { kind: "say", text: 'a "quoted" \\ word\n' }],
    ["  fail 2   # kill -9 node 2", { kind: "fail", target: [2] }],
  ];
  for (const [line, step] of cases) {
    test(line, () => {
      expect(parseStep(line)).toEqual(step);
      expect(parseStep(formatStep(step))).toEqual(step);
    });
  }

  test("every kind is covered", () => {
    const kinds = new Set(cases.map(([, s]) => s.kind));
    const all: StepKind[] = [
      "cluster", "fail", "kill", "stop", "pause", "resume", "restart", "partition", "cut", "isolate",
      "heal", "add", "remove", "transfer", "wait-leader", "wait", "workload", "expect", "check", "status", "say",
    ];
    for (const k of all) expect(kinds.has(k)).toBe(true);
  });

  test("blank and comment lines", () => {
    expect(parseLine("")).toBeNull();
    expect(parseLine("   # just a comment")).toBeNull();
    expect(() => parseStep("  # nothing")).toThrow(ScenarioSyntaxError);
  });
});

describe("parseScenario", () => {
  test("HARNESS.md example", () => {
    const text = [
      "cluster 5                   # start nats-server + nodes 1..5 on this machine",
      "workload 200 --clients 8    # chat traffic; must succeed",
      "expect ok",
      "",
      "fail 2                      # kill -9 node 2",
      "workload 20 --deadline 3s",
      "expect unavailable          # writes get 503 quickly, nothing hangs",
      "check                       # history checker: see below",
    ].join("\n");
    const located = parseScenarioLocated(text, "x.scn");
    expect(located.map((l) => l.line)).toEqual([1, 2, 3, 5, 6, 7, 8]);
    expect(parseScenario(text, "x.scn")[4]).toEqual({ kind: "workload", count: 20, deadlineMs: 3000 });
  });

  test("CRLF line endings", () => {
    expect(parseScenario("heal\r\ncheck\r\n", "x.scn")).toEqual([{ kind: "heal" }, { kind: "check" }]);
  });
});

describe("syntax errors give file:line:column and code", () => {
  const cases: [string, number, SyntaxErrorCode][] = [
    // [line, column, code]
    ["explode 3", 1, "unknown-step"],
    ["fail", 5, "expected-node"],
    ["fail two", 6, "expected-node"],
    ["fail 0", 6, "node-out-of-range"],
    ["kill 65", 6, "node-out-of-range"],
    ["restart 2,3,2", 13, "duplicate-node"],
    ["restart leader", 9, "expected-node"],
    ["restart 2,", 11, "expected-node"],
    ["cluster", 8, "expected-count"],
    ["cluster 0", 9, "count-out-of-range"],
    ["cluster 5 --machines 1,2 | 3,4", 22, "machines-mismatch"],
    ["cluster 5 --machines 1,2 | 2,3,4,5", 28, "machines-mismatch"],
    ["cluster 5 --nodes 3", 11, "unknown-option"],
    ["workload 10 --clients 2 --clients 3", 25, "duplicate-option"],
    ["workload 10 --clients 0", 23, "count-out-of-range"],
    ["workload 10 --clients", 22, "expected-count"],
    ["workload 10 --deadline soon", 24, "expected-duration"],
    ["workload 10 --deadline 0s", 24, "duration-out-of-range"],
    ["workload ten", 10, "expected-count"],
    ["wait", 5, "expected-duration"],
    ["wait 2", 6, "expected-duration"],
    ["wait 0.5ms", 6, "expected-duration"],
    ["wait 2h", 6, "expected-duration"],
    ["wait 61m", 6, "duration-out-of-range"],
    ["wait leader now", 13, "trailing-input"],
    ["partition 1,2", 11, "partition-too-few-groups"],
    ["partition 1,2 | 2,3", 17, "partition-overlap"],
    ["partition 1,2 | | 3", 17, "partition-empty-group"],
    ["partition | 1", 11, "partition-empty-group"],
    ["partition 1,2 |", 16, "partition-empty-group"],
    ["partition 1,1 | 2", 13, "duplicate-node"],
    ["cut 1 2", 7, "expected-arrow"],
    ["cut 1 -> 1", 10, "cut-overlap"],
    ["cut 1 ->", 9, "expected-node"],
    ["expect maybe", 8, "expected-outcome"],
    ["expect", 7, "expected-outcome"],
    ["say hello", 5, "expected-string"],
    ['say "hello', 5, "unterminated-string"],
    ['say "a\\qb"', 7, "bad-escape"],
    ['say "a" "b"', 9, "trailing-input"],
    ["heal 1", 6, "trailing-input"],
    ["add 3,4", 6, "trailing-input"],
    ["transfer leader", 10, "expected-node"],
  ];
  for (const [line, column, code] of cases) {
    test(`${line} → ${code} at column ${column}`, () => {
      let err: unknown;
      try {
        parseScenario(`# header\n\n${line}\n`, "demo.scn");
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ScenarioSyntaxError);
      const e = err as ScenarioSyntaxError;
      expect({ code: e.code, line: e.line, column: e.column, file: e.file }).toEqual({
        code,
        line: 3,
        column,
        file: "demo.scn",
      });
      expect(e.message.startsWith(`demo.scn:3:${column}: expected`)).toBe(true);
    });
  }

  test("parseStep reports empty-step", () => {
    try {
      parseStep("   ", "prompt", 7);
      throw new Error("no error");
    } catch (e) {
      expect(e).toBeInstanceOf(ScenarioSyntaxError);
      expect((e as ScenarioSyntaxError).code).toBe("empty-step");
      expect((e as ScenarioSyntaxError).line).toBe(7);
    }
  });
});

describe("round trip formatStep → parseStep (seeded)", () => {
  function rng(seed: number): () => number {
    let a = seed >>> 0;
    return () => {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }
  const r = rng(20240611);
  const int = (lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[int(0, xs.length - 1)]!;
  const shuffled = (n: number): NodeId[] => {
    const ids = Array.from({ length: 64 }, (_, i) => i + 1);
    for (let i = ids.length - 1; i > 0; i--) {
      const j = int(0, i);
      [ids[i], ids[j]] = [ids[j]!, ids[i]!];
    }
    return ids.slice(0, n);
  };
  const split = (ids: NodeId[], parts: number): NodeId[][] => {
    const out: NodeId[][] = Array.from({ length: parts }, () => []);
    ids.forEach((id, i) => out[i < parts ? i : int(0, parts - 1)]!.push(id));
    return out;
  };
  const duration = (): number => pick([int(1, 999), int(1, 3600) * 1000, int(1, 60) * 60000, int(1, 3_600_000)]);
  const target = () => (r() < 0.3 ? ("leader" as const) : shuffled(int(1, 4)));
  const text = (): string => {
    const chars = ['a', 'b', ' ', '"', '\\', '#', '\n', '\t', '|', ',', 'é', '-', '>'];
    return Array.from({ length: int(0, 12) }, () => pick(chars)).join("");
  };
  const gen = (): Step => {
    switch (int(0, 20)) {
      case 0: {
        const nodes = int(1, 64);
        if (r() < 0.5) return { kind: "cluster", nodes };
        const ids = Array.from({ length: nodes }, (_, i) => i + 1);
        return { kind: "cluster", nodes, machines: split(ids, int(1, Math.min(nodes, 4))) };
      }
      case 1: return { kind: "fail", target: target() };
      case 2: return { kind: "kill", target: target() };
      case 3: return { kind: "stop", target: target() };
      case 4: return { kind: "pause", target: target() };
      case 5: return { kind: "resume", nodes: shuffled(int(1, 5)) };
      case 6: return { kind: "restart", nodes: shuffled(int(1, 5)) };
      case 7: {
        const ids = shuffled(int(2, 10));
        return { kind: "partition", groups: split(ids, int(2, ids.length)) };
      }
      case 8: {
        const ids = shuffled(int(2, 8));
        const k = int(1, ids.length - 1);
        return { kind: "cut", from: ids.slice(0, k), to: ids.slice(k) };
      }
      case 9: return { kind: "isolate", target: target() };
      case 10: return { kind: "heal" };
      case 11: return { kind: "add", node: int(1, 64) };
      case 12: return { kind: "remove", node: int(1, 64) };
      case 13: return { kind: "transfer", node: int(1, 64) };
      case 14: return { kind: "wait-leader" };
      case 15: return { kind: "wait", ms: duration() };
      case 16: {
        const w: { kind: "workload"; count: number; clients?: number; deadlineMs?: number } = { kind: "workload", count: int(1, 100000) };
        if (r() < 0.5) w.clients = int(1, 64);
        if (r() < 0.5) w.deadlineMs = duration();
        return w;
      }
      case 17: return { kind: "expect", outcome: pick(["ok", "unavailable"] as const) };
      case 18: return { kind: "check" };
      case 19: return { kind: "status" };
      default: return { kind: "say", text: text() };
    }
  };

  test("2000 generated steps", () => {
    for (let i = 0; i < 2000; i++) {
      const step = gen();
      const line = formatStep(step);
      expect({ line, step: parseStep(line) }).toEqual({ line, step });
      // the comment-stripping path as well
      expect(parseStep(`${line}   # trailing comment`)).toEqual(step);
    }
  });
});

describe("scenario files", () => {
  const dir = join(import.meta.dir, "..", "scenarios");
  const files = readdirSync(dir).filter((f) => f.endsWith(".scn")).sort();
  test("the expected scenarios exist", () => {
    for (const name of [
      "original-demo.scn", "leader-crash-loop.scn", "rolling-restart.scn", "minority-partition.scn",
      "majority-partition.scn", "paused-leader.scn", "membership-churn.scn", "missed-snapshot.scn",
    ]) {
      expect(files).toContain(name);
    }
  });
  for (const f of files) {
    test(f, () => {
      const steps = parseScenario(readFileSync(join(dir, f), "utf8"), f);
      expect(steps.length).toBeGreaterThan(0);
      expect(steps[0]!.kind === "say" || steps[0]!.kind === "cluster").toBe(true);
      expect(steps.some((s) => s.kind === "cluster")).toBe(true);
      expect(steps.at(-1)!.kind).toBe("check");
    });
  }
  test("original demo follows the design's sequence", () => {
    const steps = parseScenario(readFileSync(join(dir, "original-demo.scn"), "utf8"), "original-demo.scn")
      .filter((s) => s.kind !== "say" && s.kind !== "wait-leader")
      .map(formatStep);
    expect(steps).toEqual([
      "cluster 5",
      "workload 200 --clients 8", "expect ok",
      "fail 2", "fail 3",
      "workload 200 --clients 8", "expect ok",
      "fail 4",
      "workload 20 --deadline 3s", "expect unavailable",
      "restart 2,3,4",
      "workload 200 --clients 8", "expect ok",
      "check",
    ]);
  });
});
