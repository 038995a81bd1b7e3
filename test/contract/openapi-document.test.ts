// What generated clients depend on, pinned: operationIds are their method names (renaming
// one breaks every client built from the document), and each operation's security must be
// what the server enforces, or a generated client sends no token where one is needed.

import { describe, expect, test } from "bun:test";
import { contractApp, servedDocument, type Operation } from "./served-document.ts";

/** `METHOD path` → operationId. Add new operations here; never rename an existing one. */
const OPERATION_IDS: Record<string, string> = {
  "POST /v1/accounts": "createAccount",
  "GET /v1/accounts": "listAccounts",
  "GET /v1/accounts/{username}": "getAccount",
  "DELETE /v1/accounts/me": "deleteMyAccount",
  "PUT /v1/accounts/me/password": "changeMyPassword",
  "POST /v1/sessions": "createSession",
  "DELETE /v1/sessions/current": "deleteCurrentSession",
  "DELETE /v1/sessions": "deleteMySessions",
  "POST /v1/messages": "sendMessage",
  "GET /v1/messages": "listMessages",
  "DELETE /v1/messages": "deleteMessages",
  "POST /v1/messages/read": "markMessagesRead",
  "GET /v1/conversations": "listConversations",
  "GET /v1/events": "streamEvents",
  "GET /v1/cluster": "getClusterStatus",
  "GET /v1/cluster/events": "streamClusterStatus",
  "POST /v1/cluster/members": "addClusterMember",
  "DELETE /v1/cluster/members/{id}": "removeClusterMember",
  "POST /v1/cluster/leader": "transferLeadership",
  "GET /v1/debug/faults": "getLinkFaults",
  "PUT /v1/debug/faults": "setLinkFaults",
  "GET /healthz": "getHealth",
  "GET /readyz": "getReadiness",
  "GET /metrics": "getMetrics",
  "GET /v1/openapi.json": "getOpenApiDocument",
};

const METHODS = ["get", "put", "post", "delete", "patch", "head", "options"];

async function operations(): Promise<Array<{ key: string; method: string; path: string; operation: Operation }>> {
  const document = await servedDocument();
  return Object.entries(document.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => METHODS.includes(method))
      .map(([method, operation]) => ({ key: `${method.toUpperCase()} ${path}`, method, path, operation })),
  );
}

/** Who the document says may call an operation: anyone, a signed-in account, or the admin. */
function declaredAccess(operation: Operation): "public" | "session" | "admin" | "undeclared" {
  const schemes = (operation.security ?? null)?.flatMap((requirement) => Object.keys(requirement));
  if (schemes === undefined) return "undeclared";
  if (schemes.length === 0) return "public";
  if (schemes.every((s) => s === "adminToken")) return "admin";
  if (schemes.every((s) => s === "sessionToken" || s === "sessionCookie")) return "session";
  return "undeclared";
}

describe("the OpenAPI document's promises to generated clients", () => {
  test("every operation has its pinned operationId, and there is none the pin list lacks", async () => {
    const served = Object.fromEntries((await operations()).map(({ key, operation }) => [key, operation.operationId]));
    expect(served).toEqual(OPERATION_IDS);
  });

  test("every operation has a tag the document declares with a description", async () => {
    const document = await servedDocument();
    const declared = new Map((document["tags"] as Array<{ name: string; description?: string }>).map((t) => [t.name, t.description ?? ""]));
    for (const { key, operation } of await operations()) {
      expect(operation.tags?.length ?? 0, key).toBe(1);
      for (const tag of operation.tags ?? []) expect(declared.get(tag) ?? "", `${key}: tag ${tag}`).not.toBe("");
    }
  });

  test("servers is the relative '/': the same document on every node, resolved against whichever served it", async () => {
    const document = await servedDocument();
    expect(document["servers"]).toEqual([expect.objectContaining({ url: "/" })]);
  });

  test("the declared security is what the server enforces on a request without credentials", async () => {
    // Without a token: public operations answer (even if only with a validation error),
    // signed-in ones 401, admin ones 403 (the admin check's refusal). Sent with a JSON body
    // `{}` where the method takes one, and the path's parameters filled in.
    const app = contractApp({ withFaultRoutes: true });
    const seen: Record<string, string> = {};
    const expected: Record<string, string> = {};
    for (const { key, method, path, operation } of await operations()) {
      const access = declaredAccess(operation);
      expected[key] = access === "public" ? "answered" : access === "session" ? "401" : access === "admin" ? "403" : "declared";
      const url = path.replace("{username}", "nobody").replace("{id}", "2");
      const hasBody = method === "post" || method === "put" || method === "delete";
      const response = await app.request(url, { method: method.toUpperCase(), ...(hasBody ? { headers: { "content-type": "application/json" }, body: "{}" } : {}) });
      await response.body?.cancel(); // event streams stay open otherwise
      seen[key] = response.status === 401 || response.status === 403 ? String(response.status) : "answered";
    }
    expect(seen).toEqual(expected);
  });

  test("refusals a client can always meet are documented where they happen, and happen where documented", async () => {
    // 401 wherever a session is needed, 403 wherever the admin token is, and 413 on every
    // operation that takes a body (the body limit runs before anything else): a generated
    // client types those answers only if the document lists them. /readyz's 503 is its own
    // "not ready" answer, not a refusal, and has no Retry-After.
    const app = contractApp({ withFaultRoutes: true });
    const overLimit = JSON.stringify({ padding: "x".repeat(70 * 1024) });
    for (const { key, method, path, operation } of await operations()) {
      const documented = Object.keys(operation.responses);
      const access = declaredAccess(operation);
      if (access === "session") expect(documented, key).toContain("401");
      if (access === "admin") expect(documented, key).toContain("403");
      // The server sends Retry-After with every 429 and 503 (api.test.ts shows it); the document says so.
      for (const status of ["429", "503"].filter((s) => documented.includes(s) && key !== "GET /readyz")) {
        expect(Object.keys((operation.responses[status] as { headers?: object }).headers ?? {}), `${key} ${status}`).toEqual(["Retry-After"]);
      }
      const takesBody = (operation as Operation & { requestBody?: unknown }).requestBody !== undefined;
      expect(documented.includes("413"), `${key}: 413 documented iff it takes a body`).toBe(takesBody);
      if (!takesBody) continue;
      const url = path.replace("{username}", "nobody").replace("{id}", "2");
      const response = await app.request(url, { method: method.toUpperCase(), headers: { "content-type": "application/json" }, body: overLimit });
      expect(response.status, key).toBe(413);
      expect(((await response.json()) as { error: { code: string } }).error.code, key).toBe("payload_too_large");
    }
  });
});
