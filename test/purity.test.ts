// The dependency rule for the Raft core (docs: ARCHITECTURE.md, "Layers and the
// dependency rule"): every non-test .ts file under src/raft/ imports only other files
// under src/raft/, and never touches time, randomness, timers, the process, the runtime,
// the network or the console. The core is a deterministic state machine; the seeded
// simulator can only replay a failure if nothing in the core reaches outside it.
//
// The checker below is a small TypeScript lexer, not a regex over raw text: comments and
// string contents are skipped (a comment may say "never Date.now"), while code inside
// template-literal `${…}` holes is still checked.

import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";

const RAFT_DIR = resolve(import.meta.dir, "..", "src", "raft");

/** Identifiers the core must not mention at all (as a name, a member or a type). */
const FORBIDDEN_IDENTIFIERS: ReadonlyMap<string, string> = new Map([
  ["Date", "wall-clock time; the core counts ticks"],
  ["setTimeout", "timers belong to the driver"],
  ["setInterval", "timers belong to the driver"],
  ["setImmediate", "timers belong to the driver"],
  ["queueMicrotask", "scheduling belongs to the driver"],
  ["performance", "wall-clock time; the core counts ticks"],
  ["process", "process state belongs to src/cli and src/main.ts"],
  ["Bun", "runtime API; the core is runtime-independent"],
  ["Deno", "runtime API; the core is runtime-independent"],
  ["console", "the core reports through Ready and Status, not logs"],
  ["globalThis", "a back door to every global above"],
]);

/** Identifiers forbidden only when called: `require(` and `fetch(`. */
const FORBIDDEN_CALLS: ReadonlyMap<string, string> = new Map([
  ["require", "CommonJS import; use a relative ES import inside src/raft"],
  ["fetch", "network I/O belongs to the transport"],
]);

/** After these keywords a `/` starts a regular expression, not a division. */
const REGEX_AFTER_KEYWORDS = new Set([
  "return", "typeof", "instanceof", "in", "of", "new", "delete", "void", "throw",
  "case", "do", "else", "yield", "await",
]);

type TokenKind = "ident" | "private" | "punct" | "string" | "number" | "regex";

interface Token {
  readonly kind: TokenKind;
  readonly value: string;
  readonly offset: number;
}

interface Violation {
  readonly line: number;
  readonly rule: "import" | "identifier" | "call" | "syntax";
  readonly message: string;
}

const isIdentStart = (c: string): boolean => /[A-Za-z_$\u0080-\uffff]/.test(c);
const isIdentPart = (c: string): boolean => /[A-Za-z0-9_$\u0080-\uffff]/.test(c);

/**
 * Splits TypeScript source into tokens, dropping comments, whitespace and the literal
 * parts of template strings. Triple-slash directives are reported as violations
 * (a `/// <reference …>` pulls in outside types just like an import).
 */
function tokenize(src: string, violations: Violation[], lineAt: (offset: number) => number): Token[] {
  const tokens: Token[] = [];
  // For each open template `${`, the brace depth at which its hole closes.
  const templateHoles: number[] = [];
  let braceDepth = 0;
  let i = 0;

  const lastSignificant = (): Token | undefined => tokens[tokens.length - 1];

  const readTemplateChunk = (): void => {
    // `i` is just past a backtick or a hole's closing brace; read until the closing
    // backtick or the next `${`.
    while (i < src.length) {
      const c = src[i]!;
      if (c === "\\") {
        i += 2;
      } else if (c === "`") {
        i++;
        tokens.push({ kind: "string", value: "`template`", offset: i });
        return;
      } else if (c === "$" && src[i + 1] === "{") {
        i += 2;
        templateHoles.push(braceDepth);
        braceDepth++;
        return;
      } else {
        i++;
      }
    }
    violations.push({ line: lineAt(i), rule: "syntax", message: "unterminated template literal" });
  };

  while (i < src.length) {
    const c = src[i]!;
    const next = src[i + 1];
    if (c === " " || c === "\t" || c === "\n" || c === "\r" || c === "\f" || c === "\v" || c === "\ufeff") {
      i++;
      continue;
    }
    if (c === "/" && next === "/") {
      const end = src.indexOf("\n", i);
      const stop = end === -1 ? src.length : end;
      if (/^\/\/\/\s*<reference\b/.test(src.slice(i, stop))) {
        violations.push({
          line: lineAt(i),
          rule: "import",
          message: `triple-slash directive pulls in outside declarations: ${src.slice(i, stop).trim()}`,
        });
      }
      i = stop;
      continue;
    }
    if (c === "/" && next === "*") {
      const end = src.indexOf("*/", i + 2);
      if (end === -1) {
        violations.push({ line: lineAt(i), rule: "syntax", message: "unterminated block comment" });
        break;
      }
      i = end + 2;
      continue;
    }
    if (c === '"' || c === "'") {
      const start = i;
      let value = "";
      i++;
      while (i < src.length && src[i] !== c) {
        if (src[i] === "\\") {
          value += src[i + 1] ?? "";
          i += 2;
        } else if (src[i] === "\n") {
          break;
        } else {
          value += src[i];
          i++;
        }
      }
      if (src[i] !== c) {
        violations.push({ line: lineAt(start), rule: "syntax", message: "unterminated string literal" });
      }
      i++;
      tokens.push({ kind: "string", value, offset: start });
      continue;
    }
    if (c === "`") {
      i++;
      readTemplateChunk();
      continue;
    }
    if (c === "#" && next !== undefined && isIdentStart(next)) {
      const start = i;
      i++;
      while (i < src.length && isIdentPart(src[i]!)) i++;
      tokens.push({ kind: "private", value: src.slice(start, i), offset: start });
      continue;
    }
    if (isIdentStart(c)) {
      const start = i;
      while (i < src.length && isIdentPart(src[i]!)) i++;
      tokens.push({ kind: "ident", value: src.slice(start, i), offset: start });
      continue;
    }
    if (/[0-9]/.test(c) || (c === "." && next !== undefined && /[0-9]/.test(next))) {
      const start = i;
      i++;
      while (i < src.length) {
        const d = src[i]!;
        if (/[0-9A-Za-z_.]/.test(d)) {
          i++;
        } else if ((d === "+" || d === "-") && /[eE]/.test(src[i - 1]!) && !/^0[xX]/.test(src.slice(start, i))) {
          i++;
        } else {
          break;
        }
      }
      tokens.push({ kind: "number", value: src.slice(start, i), offset: start });
      continue;
    }
    if (c === "/") {
      const prev = lastSignificant();
      const divides =
        prev !== undefined &&
        ((prev.kind === "ident" && !REGEX_AFTER_KEYWORDS.has(prev.value)) ||
          prev.kind === "private" ||
          prev.kind === "number" ||
          prev.kind === "string" ||
          prev.kind === "regex" ||
          (prev.kind === "punct" && (prev.value === ")" || prev.value === "]" || prev.value === "}")));
      if (!divides) {
        const start = i;
        i++;
        let inClass = false;
        while (i < src.length) {
          const d = src[i]!;
          if (d === "\\") {
            i += 2;
            continue;
          }
          if (d === "\n") break;
          if (d === "[") inClass = true;
          else if (d === "]") inClass = false;
          else if (d === "/" && !inClass) break;
          i++;
        }
        if (src[i] !== "/") {
          violations.push({ line: lineAt(start), rule: "syntax", message: "unterminated regular expression" });
        }
        i++;
        while (i < src.length && isIdentPart(src[i]!)) i++;
        tokens.push({ kind: "regex", value: src.slice(start, i), offset: start });
        continue;
      }
    }
    if (c === "{") {
      braceDepth++;
    } else if (c === "}") {
      braceDepth--;
      if (templateHoles.length > 0 && templateHoles[templateHoles.length - 1] === braceDepth) {
        templateHoles.pop();
        i++;
        readTemplateChunk();
        continue;
      }
    }
    if (c === "?" && next === ".") {
      tokens.push({ kind: "punct", value: "?.", offset: i });
      i += 2;
      continue;
    }
    tokens.push({ kind: "punct", value: c, offset: i });
    i++;
  }
  return tokens;
}

/**
 * Checks one source file of the Raft core. `filePath` is where the file lives (it may
 * be virtual) and `raftDir` the directory relative imports must stay inside.
 */
function checkRaftSource(source: string, filePath: string, raftDir: string): Violation[] {
  const violations: Violation[] = [];
  const lineStarts: number[] = [0];
  for (let k = 0; k < source.length; k++) if (source[k] === "\n") lineStarts.push(k + 1);
  const lineAt = (offset: number): number => {
    let lo = 0;
    let hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (lineStarts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };

  const tokens = tokenize(source, violations, lineAt);
  const root = resolve(raftDir);

  const checkSpecifier = (spec: string, offset: number): void => {
    const line = lineAt(offset);
    if (spec.startsWith("./") || spec.startsWith("../")) {
      const target = resolve(dirname(resolve(filePath)), spec);
      if (!target.startsWith(root + sep)) {
        violations.push({ line, rule: "import", message: `relative import "${spec}" resolves outside src/raft (${target})` });
      }
    } else {
      violations.push({ line, rule: "import", message: `import of "${spec}": src/raft may import only files inside src/raft` });
    }
  };

  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k]!;
    const prev = tokens[k - 1];
    const next = tokens[k + 1];
    const line = lineAt(t.offset);

    if (t.kind === "string") {
      // `import "x"`, `… from "x"` (import and export forms alike).
      if (prev !== undefined && prev.kind === "ident" && (prev.value === "from" || prev.value === "import")) {
        const beforePrev = tokens[k - 2];
        const isMember = beforePrev !== undefined && beforePrev.kind === "punct" && (beforePrev.value === "." || beforePrev.value === "?.");
        if (!isMember) checkSpecifier(t.value, t.offset);
      }
      continue;
    }
    if (t.kind !== "ident") continue;
    const isMemberName = prev !== undefined && prev.kind === "punct" && (prev.value === "." || prev.value === "?.");

    if (t.value === "import" && !isMemberName && next !== undefined && next.kind === "punct") {
      if (next.value === "(") {
        // Dynamic import or a type-level `import("x")`: the specifier must be a literal.
        const arg = tokens[k + 2];
        const close = tokens[k + 3];
        if (arg === undefined || arg.kind !== "string" || close === undefined || close.value !== ")") {
          violations.push({ line, rule: "import", message: "dynamic import with a computed specifier" });
        } else {
          checkSpecifier(arg.value, arg.offset);
        }
      } else if (next.value === ".") {
        violations.push({ line, rule: "identifier", message: "import.meta: the core must not depend on where or how it is loaded" });
      }
      continue;
    }

    const forbidden = FORBIDDEN_IDENTIFIERS.get(t.value);
    if (forbidden !== undefined) {
      violations.push({ line, rule: "identifier", message: `mentions ${t.value}: ${forbidden}` });
      continue;
    }
    const forbiddenCall = FORBIDDEN_CALLS.get(t.value);
    if (forbiddenCall !== undefined && next !== undefined && next.kind === "punct" && next.value === "(") {
      violations.push({ line, rule: "call", message: `calls ${t.value}(: ${forbiddenCall}` });
      continue;
    }
    if (t.value === "Math" && !isMemberName && next !== undefined && next.kind === "punct") {
      const member = tokens[k + 2];
      const viaDot = (next.value === "." || next.value === "?.") && member?.kind === "ident" && member.value === "random";
      const viaIndex = next.value === "[" && member?.kind === "string" && member.value === "random";
      if (viaDot || viaIndex) {
        violations.push({ line, rule: "identifier", message: "mentions Math.random: randomness comes from the injected seeded Rng" });
      }
    }
  }
  return violations;
}

function listCoreFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      out.push(...listCoreFiles(path));
    } else if (/\.(ts|mts|cts)$/.test(name) && !/\.test\.(ts|mts|cts)$/.test(name)) {
      out.push(path);
    }
  }
  return out;
}

describe("src/raft purity (the core imports nothing outside itself and does no I/O)", () => {
  const files = listCoreFiles(RAFT_DIR);

  test("the scan finds the core's files", () => {
    expect(files.map((f) => relative(RAFT_DIR, f))).toContain("types.ts");
  });

  for (const file of files) {
    test(`src/raft/${relative(RAFT_DIR, file)}`, () => {
      const found = checkRaftSource(readFileSync(file, "utf8"), file, RAFT_DIR).map(
        (v) => `src/raft/${relative(RAFT_DIR, file)}:${v.line}: ${v.message}`,
      );
      expect(found).toEqual([]);
    });
  }
});

describe("the purity checker itself", () => {
  const dir = "/virtual/repo/src/raft";
  const file = `${dir}/sub/core.ts`;
  const check = (src: string) => checkRaftSource(src, file, dir);

  test("flags a bad snippet", () => {
    const bad = [
      'import { readFileSync } from "node:fs";',
      'import { Database } from "bun:sqlite";',
      'import { connect } from "nats";',
      'import type { Row } from "../../storage/schema.ts";',
      'export * from "../../transport/index.ts";',
      'import "/etc/passwd";',
      "/// <reference types=\"bun\" />",
      "const now = Date.now();",
      "const jitter = Math.random();",
      "setTimeout(() => tick(), 100);",
      "const h = setInterval(tick, 100);",
      "queueMicrotask(step);",
      "const t = performance.now();",
      "const argv = process.argv;",
      "Bun.write('x', 'y');",
      "const fs = require('fs');",
      "await fetch('http://example.com');",
      "console.log('elected');",
      "const m = await import(name);",
    ].join("\n");
    const found = check(bad);
    const lines = new Set(found.map((v) => v.line));
    // Every one of the 19 lines above is caught.
    expect([...lines].sort((a, b) => a - b)).toEqual(Array.from({ length: 19 }, (_, n) => n + 1));
    expect(found.some((v) => v.message.includes("resolves outside src/raft"))).toBe(true);
    expect(found.some((v) => v.message.includes('"node:fs"'))).toBe(true);
  });

  test("catches forbidden names inside template holes and member forms", () => {
    expect(check("const s = `at ${Date.now()} ms`;").length).toBe(1);
    expect(check("const s = `a ${`b ${performance.now()}`}`;").length).toBe(1);
    expect(check('const r = Math["random"]();').length).toBe(1);
    expect(check("const r = Math?.random();").length).toBe(1);
    expect(check("type T = ReturnType<typeof Date.now>;").length).toBe(1);
    expect(check('type S = import("../../storage/db.ts").Store;').length).toBe(1);
  });

  test("accepts clean code: comments, strings, regexes and imports inside src/raft", () => {
    const clean = [
      'import { invariant } from "./../sub/errors.ts";',
      'import type { Entry } from "../types.ts";',
      'export { SeededRng } from "../random.ts";',
      "// Never call Date.now() or Math.random() here; console.log is for the driver.",
      "/* process, Bun, setTimeout, fetch(url), require('x') are all fine in comments */",
      'const message = "cannot process: no Date, no console";',
      "const tpl = `term ${term} from ${msg.from} says \"Date.now()\" is banned`;",
      "const re = /['\"`]Date/g;",
      "const half = total / 2 / count;",
      "const lo = Math.floor(Math.max(a, b) / 2);",
      "class P { #process = 1; get processed() { return this.#process; } }",
      "const o = { fetched: true, requires: 2 };",
      "const later = () => { const x = { a: `${1}` }; return x; };",
    ].join("\n");
    expect(check(clean)).toEqual([]);
  });
});
