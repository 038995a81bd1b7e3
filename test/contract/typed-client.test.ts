// A typed client generated from GET /v1/openapi.json (openapi-typescript, the types;
// openapi-fetch, the client they drive) must type-check against real use AND agree with
// what the server answers: the usage below is compiled by the project's tsc, then run
// against the app, and the field lists it compiled against are compared with real answers.
// Wrong usage must fail to compile, or the type-check would prove nothing.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { contractApp, ROOT, run, scratchDir, servedDocument } from "./served-document.ts";

/** openapi-typescript runs on the TypeScript 5 in its own package (see generator/package.json). */
const GENERATOR = join(ROOT, "test", "contract", "generator", "node_modules", "openapi-typescript", "bin", "cli.js");
const TSC = join(ROOT, "node_modules", ".bin", "tsc");

/** As strict as the project's own tsconfig, and no lib checks skipped that matter: the generated file is .ts. */
const COMPILER_OPTIONS = {
  target: "ES2022",
  module: "ESNext",
  moduleResolution: "bundler",
  lib: ["ES2023", "DOM"],
  types: [],
  strict: true,
  noUncheckedIndexedAccess: true,
  exactOptionalPropertyTypes: true,
  verbatimModuleSyntax: true,
  allowImportingTsExtensions: true,
  noEmit: true,
  skipLibCheck: true,
};

// What every usage file starts with: the generated types, and the kinds of a response's
// fields spelled out as a type, so a literal listing them compiles only if it names exactly
// the fields (and kinds) the generated type has. The test compares the same literal with
// real answers, which ties the generated types to the server.
const PRELUDE = `
import createClient from "openapi-fetch";
import type { components, operations, paths } from "./concord-api.ts";

export type Schemas = components["schemas"];
type Kind<T> = [T] extends [null] ? "null"
  : [T] extends [string] ? "string"
  : [T] extends [number] ? "number"
  : [T] extends [boolean] ? "boolean"
  : [T] extends [readonly unknown[]] ? "array"
  : [T] extends [string | null] ? "string|null"
  : [T] extends [number | null] ? "number|null"
  : [T] extends [object] ? "object"
  : "unknown";
export type Shape<T> = { [K in keyof T]-?: Kind<T[K]> };
export type Json<Op extends keyof operations, Status extends keyof operations[Op]["responses"]> =
  operations[Op]["responses"][Status] extends { content: { "application/json": infer Body } } ? Body : never;

export const client = createClient<paths>({ baseUrl: "http://concord.test" });
`;

const USAGE = `${PRELUDE}
/** The fields of a few answers, checked against the generated types here and against real answers by the test. */
export const shapes = {
  createAccount: { username: "string", createdAt: "string" } satisfies Shape<Json<"createAccount", 201>>,
  createSession: { token: "string", username: "string", unread: "number" } satisfies Shape<Json<"createSession", 201>>,
  sendMessage: {
    id: "number", from: "string", fromDeleted: "boolean", to: "string", content: "string", sentAt: "string", readAt: "string|null",
  } satisfies Shape<Json<"sendMessage", 201>>,
  listMessages: { messages: "array", unread: "number", nextBefore: "number|null" } satisfies Shape<Json<"listMessages", 200>>,
  listConversations: { conversations: "array" } satisfies Shape<Json<"listConversations", 200>>,
  getClusterStatus: {
    cluster: "string", nodeId: "number", role: "string", term: "number", leader: "number|null", commitIndex: "number", appliedIndex: "number",
    lastIndex: "number", snapshotIndex: "number", stateDigest: "object", members: "array", io: "object",
  } satisfies Shape<Json<"getClusterStatus", 200>>,
  error: { error: "object" } satisfies Shape<Schemas["Error"]>,
};

/** A short conversation through the generated client, as an application would write it. */
export async function converse(fetch: (request: Request) => Promise<Response>) {
  const api = createClient<paths>({ baseUrl: "http://concord.test", fetch });
  const password = "correct horse battery";
  const created = await api.POST("/v1/accounts", { body: { username: "alice", password } });
  if (created.data === undefined) throw new Error(\`sign-up: \${created.error?.error.code}\`);
  await api.POST("/v1/accounts", { body: { username: "bob", password } });

  const login = await api.POST("/v1/sessions", { body: { username: "alice", password } });
  if (login.data === undefined) throw new Error(\`login: \${login.error?.error.code}\`);
  const token: string = login.data.token;
  const headers = { Authorization: \`Bearer \${token}\` };

  const sent = await api.POST("/v1/messages", { headers, params: { header: { "Idempotency-Key": "hello-1" } }, body: { to: "bob", content: "  hello bob  " } });
  if (sent.data === undefined) throw new Error(\`send: \${sent.error?.error.code}\`);
  const message: Schemas["Message"] = sent.data;
  const readAt: string | null = message.readAt;

  const page = await api.GET("/v1/messages", { headers, params: { query: { with: "bob", limit: 10 } } });
  if (page.data === undefined) throw new Error(\`page: \${page.error?.error.code}\`);
  const first: Schemas["Message"] | undefined = page.data.messages[0];

  const conversations = await api.GET("/v1/conversations", { headers });
  if (conversations.data === undefined) throw new Error(\`conversations: \${conversations.error?.error.code}\`);

  const cluster = await api.GET("/v1/cluster");
  if (cluster.data === undefined) throw new Error("cluster status");
  const role: "follower" | "preCandidate" | "candidate" | "leader" = cluster.data.role;

  // A refusal comes back typed as the Error shape.
  const refused = await api.POST("/v1/messages", { headers, body: { to: "nobody", content: "anyone there?" } });
  const code: string | undefined = refused.error?.error.code;

  return {
    answers: {
      createAccount: created.data,
      createSession: login.data,
      sendMessage: message,
      listMessages: page.data,
      listConversations: conversations.data,
      getClusterStatus: cluster.data,
      error: refused.error,
    },
    first,
    readAt,
    role,
    refusal: { status: refused.response.status, code },
  };
}
`;

/** Misuses that must not compile: each names what the compiler's complaint has to mention. */
const WRONG: Record<string, { code: string; mentions: RegExp }> = {
  // A field the server does not send.
  "wrong-field.ts": { code: `const sent = await client.POST("/v1/messages", { body: { to: "bob", content: "hi" } });\nexport const subject: string | undefined = sent.data?.subject;`, mentions: /subject/ },
  // A required body field left out.
  "wrong-body.ts": { code: `await client.POST("/v1/messages", { body: { to: "bob" } });`, mentions: /content/ },
  // A field read as the wrong type.
  "wrong-type.ts": { code: `declare const message: Schemas["Message"];\nexport const id: string = message.id;`, mentions: /number.*string|string.*number/ },
  // A path the server does not serve.
  "wrong-path.ts": { code: `await client.GET("/v1/message", {});`, mentions: /\/v1\/message/ },
  // An operationId that does not exist (operation ids are method names in generated clients).
  "wrong-operation.ts": { code: `export type Sent = Json<"sendMesage", 201>;`, mentions: /sendMesage/ },
  // A field list with one field more than the generated type: what a server field missing from the document would be.
  "wrong-shape.ts": {
    code: `export const shape = { username: "string", createdAt: "string", email: "string" } satisfies Shape<Json<"createAccount", 201>>;`,
    mentions: /email/,
  },
};

/** A JSON value's kind, named as the Kind type names it. */
function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

function compile(dir: string, tsconfig: string, files: string[]): { exitCode: number; output: string } {
  writeFileSync(join(dir, tsconfig), JSON.stringify({ compilerOptions: COMPILER_OPTIONS, files }, null, 2));
  return run([TSC, "--noEmit", "--pretty", "false", "-p", join(dir, tsconfig)], dir);
}

describe("a client generated from the OpenAPI document", () => {
  const scratch = scratchDir("typed-client");
  const dir = scratch.dir;
  afterAll(() => scratch.remove());

  // Everything the tests read is written first, so any one of them can run alone.
  let generated: { exitCode: number; output: string } = { exitCode: -1, output: "not run" };
  beforeAll(async () => {
    writeFileSync(join(dir, "openapi.json"), JSON.stringify(await servedDocument(contractApp())));
    generated = run([process.execPath, GENERATOR, join(dir, "openapi.json"), "--output", join(dir, "concord-api.ts")]);
    // The usage imports openapi-fetch as an application would; resolve it from the project.
    symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"), "dir");
    writeFileSync(join(dir, "client-usage.ts"), USAGE);
    for (const [file, wrong] of Object.entries(WRONG)) writeFileSync(join(dir, file), `${PRELUDE}\n${wrong.code}\n`);
  });

  test("openapi-typescript generates types from the served document", () => {
    expect(generated.exitCode, generated.output).toBe(0);
    const text = readFileSync(join(dir, "concord-api.ts"), "utf8");
    // Operations are keyed by operationId, which is what makes them method names.
    expect(text).toContain("export interface operations");
    expect(text).toMatch(/\n {4}sendMessage: \{/);
  });

  test("real usage type-checks with the project's tsc", () => {
    const result = compile(dir, "tsconfig.json", ["concord-api.ts", "client-usage.ts"]);
    expect(result.output.trim()).toBe("");
    expect(result.exitCode).toBe(0);
  });

  test("each wrong usage fails to type-check, with a complaint about what is wrong", () => {
    const result = compile(dir, "tsconfig.wrong.json", ["concord-api.ts", ...Object.keys(WRONG)]);
    expect(result.exitCode).not.toBe(0);
    const errors = result.output.split("\n").filter((line) => /error TS\d+/.test(line));
    for (const [file, wrong] of Object.entries(WRONG)) {
      const own = errors.filter((line) => line.startsWith(`${file}(`)).join("\n");
      expect(own, `${file} should not compile`).not.toBe("");
      expect(own, file).toMatch(wrong.mentions);
    }
    // Only the wrong files fail: the prelude they share compiles.
    expect(errors.filter((line) => !Object.keys(WRONG).some((file) => line.startsWith(`${file}(`)))).toEqual([]);
  });

  test("the answers the usage compiled against are what the server sends, field for field", async () => {
    const usage = (await import(join(dir, "client-usage.ts"))) as {
      shapes: Record<string, Record<string, string>>;
      converse: (fetch: (request: Request) => Promise<Response>) => Promise<{
        answers: Record<string, Record<string, unknown>>;
        first: { content: string } | undefined;
        role: string;
        refusal: { status: number; code: string | undefined };
      }>;
    };
    const app = contractApp();
    const result = await usage.converse(async (request) => app.request(request));

    for (const [name, shape] of Object.entries(usage.shapes)) {
      const answer = result.answers[name];
      expect(answer, name).toBeDefined();
      // Exactly the generated type's fields: none missing, none the document does not name.
      expect(Object.keys(answer ?? {}).sort(), name).toEqual(Object.keys(shape).sort());
      for (const [field, kind] of Object.entries(shape)) {
        const actual = kindOf(answer?.[field]);
        expect(kind === actual || kind.split("|").includes(actual), `${name}.${field}: ${actual}, typed ${kind}`).toBe(true);
      }
    }
    expect(result.answers["sendMessage"]).toMatchObject({ from: "alice", to: "bob", content: "hello bob", readAt: null });
    expect(result.first?.content).toBe("hello bob");
    expect(result.role).toBe("leader");
    expect(result.refusal).toEqual({ status: 404, code: "no_such_recipient" });
  });
});
