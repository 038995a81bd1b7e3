/**
 * Parser and printer for the scenario language described in ./steps.ts.
 * Pure: no I/O. Columns and lines are 1-based.
 */
import {
  MAX_CLIENTS,
  MAX_DURATION_MS,
  MAX_NODE_ID,
  MAX_WORKLOAD_COUNT,
  MIN_NODE_ID,
  ScenarioSyntaxError,
  type LocatedStep,
  type NodeId,
  type Outcome,
  type Step,
  type SyntaxErrorCode,
  type Target,
  type WorkloadStep,
} from "./steps.ts";

type TokenType = "word" | "string" | "pipe" | "comma" | "arrow";
type Token = {
  readonly type: TokenType;
  /** Source text (for strings: the decoded value). */
  readonly text: string;
  readonly column: number;
};

type Where = { readonly file: string; readonly line: number };

function fail(where: Where, column: number, code: SyntaxErrorCode, detail: string): never {
  throw new ScenarioSyntaxError(code, where.file, where.line, column, detail);
}

function describe(tok: Token | undefined): string {
  if (tok === undefined) return "end of line";
  if (tok.type === "string") return `string ${JSON.stringify(tok.text)}`;
  return `'${tok.text}'`;
}

const ESCAPES: Readonly<Record<string, string>> = { '"': '"', "\\": "\\", n: "\n", t: "\t" };

/** Splits one line into tokens; returns the tokens and the column just past the last one. */
function tokenize(line: string, where: Where): { tokens: Token[]; endColumn: number } {
  const tokens: Token[] = [];
  let i = 0;
  let end = 0;
  const n = line.length;
  while (i < n) {
    const c = line[i]!;
    if (c === " " || c === "\t" || c === "\r") {
      i++;
      continue;
    }
    if (c === "#") break;
    const column = i + 1;
    if (c === "|") {
      tokens.push({ type: "pipe", text: "|", column });
      i++;
    } else if (c === ",") {
      tokens.push({ type: "comma", text: ",", column });
      i++;
    } else if (c === "-" && line[i + 1] === ">") {
      tokens.push({ type: "arrow", text: "->", column });
      i += 2;
    } else if (c === '"') {
      let value = "";
      i++;
      for (;;) {
        if (i >= n) fail(where, column, "unterminated-string", "expected closing '\"' before end of line");
        const d = line[i]!;
        if (d === '"') {
          i++;
          break;
        }
        if (d === "\\") {
          const e = line[i + 1];
          const decoded = e === undefined ? undefined : ESCAPES[e];
          if (decoded === undefined) {
            fail(where, i + 1, "bad-escape", "expected one of the escapes \\\" \\\\ \\n \\t");
          }
          value += decoded;
          i += 2;
        } else {
          value += d;
          i++;
        }
      }
      tokens.push({ type: "string", text: value, column });
    } else {
      const start = i;
      while (i < n) {
        const d = line[i]!;
        if (d === " " || d === "\t" || d === "\r" || d === "#" || d === "|" || d === "," || d === '"') break;
        if (d === "-" && line[i + 1] === ">") break;
        i++;
      }
      tokens.push({ type: "word", text: line.slice(start, i), column });
    }
    end = i;
  }
  return { tokens, endColumn: end + 1 };
}

class Cursor {
  private pos = 0;
  constructor(
    private readonly tokens: readonly Token[],
    private readonly endColumn: number,
    readonly where: Where,
  ) {}

  peek(): Token | undefined {
    return this.tokens[this.pos];
  }
  next(): Token | undefined {
    const t = this.tokens[this.pos];
    if (t !== undefined) this.pos++;
    return t;
  }
  /** Column of the next token, or of the end of the line. */
  column(): number {
    return this.peek()?.column ?? this.endColumn;
  }
  atEnd(): boolean {
    return this.pos >= this.tokens.length;
  }
  error(code: SyntaxErrorCode, expected: string, tok: Token | undefined = this.peek()): never {
    fail(this.where, tok?.column ?? this.endColumn, code, `expected ${expected}, found ${describe(tok)}`);
  }
  end(): void {
    if (!this.atEnd()) this.error("trailing-input", "end of line");
  }
}

// ---------------------------------------------------------------------------------------
// Pieces

const INTEGER = /^[0-9]+$/;

function parseNodeId(c: Cursor): NodeId {
  const tok = c.peek();
  if (tok?.type !== "word" || !INTEGER.test(tok.text)) c.error("expected-node", "a node id (1..64)");
  const id = Number(tok.text);
  if (id < MIN_NODE_ID || id > MAX_NODE_ID) {
    fail(c.where, tok.column, "node-out-of-range", `expected a node id in ${MIN_NODE_ID}..${MAX_NODE_ID}, found ${tok.text}`);
  }
  c.next();
  return id;
}

/** `id (, id)*` without repeats. */
function parseNodeList(c: Cursor, seen: Set<NodeId> = new Set()): NodeId[] {
  const ids: NodeId[] = [];
  for (;;) {
    const column = c.column();
    const id = parseNodeId(c);
    if (seen.has(id)) fail(c.where, column, "duplicate-node", `expected each node once, node ${id} appears again`);
    seen.add(id);
    ids.push(id);
    if (c.peek()?.type !== "comma") return ids;
    c.next();
  }
}

function parseTarget(c: Cursor): Target {
  const tok = c.peek();
  if (tok?.type === "word" && tok.text === "leader") {
    c.next();
    return "leader";
  }
  if (tok?.type !== "word" || !INTEGER.test(tok.text)) c.error("expected-node", "'leader' or a node id (1..64)");
  return parseNodeList(c);
}

/** Groups separated by `|`; every group non-empty, groups disjoint. */
function parseGroups(c: Cursor, overlapCode: SyntaxErrorCode): NodeId[][] {
  const groups: NodeId[][] = [];
  const seen = new Set<NodeId>();
  for (;;) {
    const tok = c.peek();
    if (tok === undefined || tok.type === "pipe") {
      c.error("partition-empty-group", "a node id (groups must not be empty)");
    }
    const group: NodeId[] = [];
    for (;;) {
      const column = c.column();
      const id = parseNodeId(c);
      if (group.includes(id)) fail(c.where, column, "duplicate-node", `expected each node once, node ${id} appears again`);
      if (seen.has(id)) fail(c.where, column, overlapCode, `expected disjoint groups, node ${id} is already in another group`);
      seen.add(id);
      group.push(id);
      if (c.peek()?.type !== "comma") break;
      c.next();
    }
    groups.push(group);
    if (c.peek()?.type !== "pipe") return groups;
    c.next();
  }
}

function parseCount(c: Cursor, what: string, max: number): number {
  const tok = c.peek();
  if (tok?.type !== "word" || !INTEGER.test(tok.text)) c.error("expected-count", `${what} (a positive integer)`);
  const v = Number(tok.text);
  if (v < 1 || v > max) fail(c.where, tok.column, "count-out-of-range", `expected ${what} in 1..${max}, found ${tok.text}`);
  c.next();
  return v;
}

const DURATION = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m)$/;
const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000 };

/** Parses `500ms`, `2s`, `1.5s`, `1m` to whole milliseconds. */
export function parseDurationText(text: string): number | undefined {
  const m = DURATION.exec(text);
  if (m === null) return undefined;
  const ms = Number(m[1]) * UNIT_MS[m[2]!]!;
  const rounded = Math.round(ms);
  return Math.abs(ms - rounded) < 1e-9 ? rounded : undefined;
}

function parseDuration(c: Cursor): number {
  const tok = c.peek();
  if (tok?.type !== "word") c.error("expected-duration", "a duration such as 500ms, 2s or 1m");
  const ms = parseDurationText(tok.text);
  if (ms === undefined) c.error("expected-duration", "a duration such as 500ms, 2s or 1m (whole milliseconds)");
  if (ms < 1 || ms > MAX_DURATION_MS) {
    fail(c.where, tok.column, "duration-out-of-range", `expected a duration between 1ms and 60m, found ${tok.text}`);
  }
  c.next();
  return ms;
}

/** Reads `--name` options until the end of the line, rejecting unknown and repeated ones. */
function parseOptions(c: Cursor, known: readonly string[], each: (name: string) => void): void {
  const seen = new Set<string>();
  while (!c.atEnd()) {
    const tok = c.peek()!;
    const name = tok.type === "word" && tok.text.startsWith("--") ? tok.text.slice(2) : undefined;
    if (name === undefined || !known.includes(name)) {
      c.error("unknown-option", `end of line or one of ${known.map((k) => `--${k}`).join(", ")}`);
    }
    if (seen.has(name)) fail(c.where, tok.column, "duplicate-option", `expected --${name} at most once`);
    seen.add(name);
    c.next();
    each(name);
  }
}

// ---------------------------------------------------------------------------------------
// Steps

const STEP_WORDS = [
  "cluster", "fail", "kill", "stop", "pause", "resume", "restart", "partition", "cut",
  "isolate", "heal", "add", "remove", "transfer", "wait", "workload", "expect", "check",
  "status", "say",
] as const;

function parseTokens(c: Cursor): Step {
  const head = c.next();
  if (head === undefined) c.error("empty-step", "a step");
  if (head.type !== "word" || !(STEP_WORDS as readonly string[]).includes(head.text)) {
    c.error("unknown-step", `a step (${STEP_WORDS.join(", ")})`, head);
  }
  const word = head.text as (typeof STEP_WORDS)[number];
  let step: Step;
  switch (word) {
    case "cluster": {
      const nodes = parseCount(c, "a node count", MAX_NODE_ID);
      let machines: NodeId[][] | undefined;
      let machinesColumn = 0;
      parseOptions(c, ["machines"], () => {
        machinesColumn = c.column();
        machines = parseGroups(c, "machines-mismatch");
      });
      if (machines !== undefined) {
        const all = machines.flat();
        const bad = all.find((id) => id > nodes);
        if (bad !== undefined || all.length !== nodes) {
          fail(c.where, machinesColumn, "machines-mismatch", `expected the machine groups to hold nodes 1..${nodes} exactly once`);
        }
        step = { kind: "cluster", nodes, machines };
      } else {
        step = { kind: "cluster", nodes };
      }
      break;
    }
    case "fail":
    case "kill":
    case "stop":
    case "pause":
    case "isolate":
      step = { kind: word, target: parseTarget(c) };
      break;
    case "resume":
    case "restart":
      step = { kind: word, nodes: parseNodeList(c) };
      break;
    case "add":
    case "remove":
    case "transfer":
      step = { kind: word, node: parseNodeId(c) };
      break;
    case "partition": {
      const column = c.column();
      const groups = parseGroups(c, "partition-overlap");
      if (groups.length < 2) {
        fail(c.where, column, "partition-too-few-groups", "expected at least two groups separated by '|', e.g. partition 1,2 | 3,4,5");
      }
      step = { kind: "partition", groups };
      break;
    }
    case "cut": {
      const seen = new Set<NodeId>();
      const from = parseNodeList(c, seen);
      if (c.peek()?.type !== "arrow") c.error("expected-arrow", "'->' (one-way cut: cut FROM -> TO)");
      c.next();
      const to: NodeId[] = [];
      for (;;) {
        const column = c.column();
        const id = parseNodeId(c);
        if (to.includes(id)) fail(c.where, column, "duplicate-node", `expected each node once, node ${id} appears again`);
        if (seen.has(id)) fail(c.where, column, "cut-overlap", `expected the two sides of a cut to be disjoint, node ${id} is on both`);
        to.push(id);
        if (c.peek()?.type !== "comma") break;
        c.next();
      }
      step = { kind: "cut", from, to };
      break;
    }
    case "heal":
    case "check":
    case "status":
      step = { kind: word };
      break;
    case "wait": {
      const tok = c.peek();
      if (tok?.type === "word" && tok.text === "leader") {
        c.next();
        step = { kind: "wait-leader" };
      } else {
        if (tok?.type !== "word" || !/^[0-9]/.test(tok.text)) {
          c.error("expected-duration", "'leader' or a duration such as 500ms or 2s");
        }
        step = { kind: "wait", ms: parseDuration(c) };
      }
      break;
    }
    case "workload": {
      const count = parseCount(c, "an operation count", MAX_WORKLOAD_COUNT);
      let clients: number | undefined;
      let deadlineMs: number | undefined;
      let background = false;
      parseOptions(c, ["clients", "deadline", "background"], (name) => {
        if (name === "clients") clients = parseCount(c, "a client count", MAX_CLIENTS);
        else if (name === "deadline") deadlineMs = parseDuration(c);
        else background = true;
      });
      const w: { -readonly [K in keyof WorkloadStep]: WorkloadStep[K] } = { kind: "workload", count };
      if (clients !== undefined) w.clients = clients;
      if (deadlineMs !== undefined) w.deadlineMs = deadlineMs;
      if (background) w.background = true;
      step = w;
      break;
    }
    case "expect": {
      const tok = c.peek();
      if (tok?.type !== "word" || (tok.text !== "ok" && tok.text !== "unavailable")) {
        c.error("expected-outcome", "'ok' or 'unavailable'");
      }
      c.next();
      step = { kind: "expect", outcome: tok.text as Outcome };
      break;
    }
    case "say": {
      const tok = c.peek();
      if (tok?.type !== "string") c.error("expected-string", 'quoted text, e.g. say "node 2 is down"');
      c.next();
      step = { kind: "say", text: tok.text };
      break;
    }
  }
  c.end();
  return step;
}

function parseLineAt(line: string, where: Where): Step | null {
  const { tokens, endColumn } = tokenize(line, where);
  if (tokens.length === 0) return null;
  return parseTokens(new Cursor(tokens, endColumn, where));
}

/**
 * Parses one line (as typed at the interactive prompt). Throws ScenarioSyntaxError,
 * including code "empty-step" for a blank or comment-only line.
 */
export function parseStep(line: string, file = "<input>", lineNumber = 1): Step {
  const where = { file, line: lineNumber };
  const step = parseLineAt(line, where);
  if (step === null) fail(where, 1, "empty-step", "expected a step, found an empty line");
  return step;
}

/** Like parseStep but returns null for blank and comment-only lines. */
export function parseLine(line: string, file = "<input>", lineNumber = 1): Step | null {
  return parseLineAt(line, { file, line: lineNumber });
}

/** Parses a whole scenario file, keeping the line each step came from. */
export function parseScenarioLocated(text: string, fileName: string): LocatedStep[] {
  const out: LocatedStep[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!;
    if (i === 0 && line.startsWith("\uFEFF")) line = line.slice(1);
    const step = parseLineAt(line, { file: fileName, line: i + 1 });
    if (step !== null) out.push({ step, file: fileName, line: i + 1 });
  }
  return out;
}

export function parseScenario(text: string, fileName: string): Step[] {
  return parseScenarioLocated(text, fileName).map((l) => l.step);
}

// ---------------------------------------------------------------------------------------
// Printing

export function formatDuration(ms: number): string {
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

function formatTarget(t: Target): string {
  return t === "leader" ? "leader" : t.join(",");
}

function formatGroups(groups: readonly (readonly NodeId[])[]): string {
  return groups.map((g) => g.join(",")).join(" | ");
}

function formatString(s: string): string {
  return `"${s.replace(/[\\"\n\t]/g, (ch) => (ch === "\n" ? "\\n" : ch === "\t" ? "\\t" : `\\${ch}`))}"`;
}

/** Canonical text of a step; parseStep(formatStep(s)) deep-equals s. */
export function formatStep(step: Step): string {
  switch (step.kind) {
    case "cluster":
      return step.machines === undefined
        ? `cluster ${step.nodes}`
        : `cluster ${step.nodes} --machines ${formatGroups(step.machines)}`;
    case "fail":
    case "kill":
    case "stop":
    case "pause":
    case "isolate":
      return `${step.kind} ${formatTarget(step.target)}`;
    case "resume":
    case "restart":
      return `${step.kind} ${step.nodes.join(",")}`;
    case "add":
    case "remove":
    case "transfer":
      return `${step.kind} ${step.node}`;
    case "partition":
      return `partition ${formatGroups(step.groups)}`;
    case "cut":
      return `cut ${step.from.join(",")} -> ${step.to.join(",")}`;
    case "heal":
    case "check":
    case "status":
      return step.kind;
    case "wait-leader":
      return "wait leader";
    case "wait":
      return `wait ${formatDuration(step.ms)}`;
    case "workload": {
      let s = `workload ${step.count}`;
      if (step.clients !== undefined) s += ` --clients ${step.clients}`;
      if (step.deadlineMs !== undefined) s += ` --deadline ${formatDuration(step.deadlineMs)}`;
      if (step.background === true) s += " --background";
      return s;
    }
    case "expect":
      return `expect ${step.outcome}`;
    case "say":
      return `say ${formatString(step.text)}`;
  }
}
