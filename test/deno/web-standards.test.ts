import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";

// src/api must run unchanged on Deno (deno.test.ts proves it for the paths it exercises);
// this catches runtime-specific code on every path, including the untested ones.

const API_DIR = join(import.meta.dir, "..", "..", "src", "api");
const ALLOWED_PACKAGES = /^(hono(\/[\w/-]+)?|@hono\/zod-openapi|zod)$/;
const RUNTIME_GLOBALS = /\b(Bun|process|Deno|require|__dirname|Buffer)\b\s*[.(]/;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts") && !entry.name.endsWith(".conformance.ts") ? [path] : [];
  });
}

/** Comments may name runtimes ("injected by Bun.serve"); only code counts. */
function withoutComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`\\])\/\/.*$/gm, "$1");
}

describe("src/api uses web standards only", () => {
  const files = sources(API_DIR);
  test("the scan finds the API's files", () => {
    expect(files.length).toBeGreaterThan(10);
  });
  for (const file of files) {
    test(relative(API_DIR, file), () => {
      const code = withoutComments(readFileSync(file, "utf8"));
      for (const [, specifier] of code.matchAll(/\bfrom\s+["']([^"']+)["']/g)) {
        if (specifier!.startsWith(".")) continue;
        expect(specifier).toMatch(ALLOWED_PACKAGES);
      }
      expect(code).not.toMatch(RUNTIME_GLOBALS);
    });
  }
});
