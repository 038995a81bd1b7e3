// GET /v1/openapi.json must pass Redocly's recommended lint (redocly.yaml) with no errors
// AND no warnings: generators and doc tools rely on what the warnings are about
// (operationIds become method names, security tells a client which token to send).

import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, run, scratchDir, servedDocument, type OpenApiDocument } from "./served-document.ts";

const REDOCLY = join(ROOT, "node_modules", ".bin", "redocly");

interface Problem {
  severity: "error" | "warning";
  rule: string;
  line: string;
}

/**
 * Redocly exits 0 when there are only warnings, so the exit code alone would let them
 * through: the stylish report's problem lines ("12:7  warning  rule-name  message") are
 * what the tests judge.
 */
function lint(document: unknown): { exitCode: number; output: string; problems: Problem[] } {
  const scratch = scratchDir("openapi-lint");
  try {
    const file = join(scratch.dir, "openapi.json");
    writeFileSync(file, JSON.stringify(document, null, 2));
    const result = run([REDOCLY, "lint", "--config", join(ROOT, "redocly.yaml"), "--format=stylish", file]);
    const problems = [...result.output.matchAll(/^\s*\d+:\d+\s+(error|warning)\s+(\S+)\s.*$/gm)].map((m) => ({
      severity: m[1] as Problem["severity"],
      rule: m[2] ?? "",
      line: m[0].trim(),
    }));
    return { ...result, problems };
  } finally {
    scratch.remove();
  }
}

describe("the OpenAPI document under Redocly's recommended lint", () => {
  test("the served document (fault routes included) has no errors and no warnings", async () => {
    const result = lint(await servedDocument());
    expect(result.problems.map((p) => p.line)).toEqual([]);
    expect(result.exitCode).toBe(0);
    expect(result.output).toContain("Your API description is valid");
    // The ruleset is the recommended one, read from redocly.yaml, not some laxer default.
    expect(result.output).not.toContain("No configurations were provided");
  });

  test("the check fails on what it guards against, warnings included (Redocly itself exits 0 on those)", async () => {
    const document = structuredClone(await servedDocument()) as OpenApiDocument;
    const send = document.paths["/v1/messages"]?.["post"];
    const signup = document.paths["/v1/accounts"]?.["post"];
    if (send === undefined || signup === undefined) throw new Error("POST /v1/messages and POST /v1/accounts must be in the document");
    delete send.operationId;
    for (const status of Object.keys(send.responses)) if (status.startsWith("4")) delete send.responses[status];

    const warningsOnly = lint(document);
    expect(warningsOnly.exitCode).toBe(0);
    expect(warningsOnly.problems.map((p) => `${p.severity} ${p.rule}`).sort()).toEqual(["warning operation-4xx-response", "warning operation-operationId"]);

    delete signup.security;
    delete document["servers"];
    const withErrors = lint(document);
    expect(withErrors.exitCode).not.toBe(0);
    expect(withErrors.problems.map((p) => `${p.severity} ${p.rule}`)).toEqual(expect.arrayContaining(["error security-defined", "error no-empty-servers"]));
  });
});
