import { describe, expect, test } from "bun:test";
import { HTTPException } from "hono/http-exception";
import { ApiError, errorResponse, fromApplyError, fromNodeError, toApiError } from "./errors.ts";

const nodeError = (code: string) => Object.assign(new Error(`node says ${code}`), { code });

describe("node errors", () => {
  test.each([
    ["unavailable", 503, "unavailable"],
    ["stopped", 503, "unavailable"],
    ["dropped", 503, "unavailable"],
    ["not_leader", 503, "unavailable"],
    ["overloaded", 429, "overloaded"],
    ["invalid", 400, "invalid_request"],
  ] as const)("%s → %d %s", (code, status, apiCode) => {
    const error = fromNodeError(nodeError(code));
    expect(error?.status).toBe(status);
    expect(error?.code).toBe(apiCode);
    if (status !== 400) expect(error?.headers["retry-after"]).toBe("1");
  });

  test("anything else is not a node error", () => {
    expect(fromNodeError(new Error("plain"))).toBeNull();
    expect(fromNodeError(nodeError("mystery"))).toBeNull();
    expect(fromNodeError("unavailable")).toBeNull();
    expect(toApiError(new Error("plain"))).toMatchObject({ status: 500, code: "internal", message: "internal error" });
  });
});

describe("apply refusals", () => {
  test.each([
    ["username_taken", 409, "username_taken"],
    ["no_such_recipient", 404, "no_such_recipient"],
    ["no_such_account", 404, "not_found"],
    ["no_such_session", 401, "unauthorized"],
    ["invalid_command", 400, "invalid_request"],
    ["idempotency_key_mismatch", 422, "idempotency_key_mismatch"],
  ] as const)("%s → %d %s", (code, status, apiCode) => {
    const error = fromApplyError(code, "why");
    expect([error.status, error.code, error.message]).toEqual([status, apiCode, "why"]);
  });
});

test("Hono's own refusals keep our error shape", () => {
  expect(toApiError(new HTTPException(413))).toMatchObject({ status: 413, code: "payload_too_large" });
  expect(toApiError(new HTTPException(415))).toMatchObject({ status: 415, code: "unsupported_media_type" });
  expect(toApiError(new HTTPException(400, { message: "Malformed JSON in request body" }))).toMatchObject({ status: 400, code: "invalid_request" });
});

test("errorResponse is {error: {code, message}} with the error's headers", async () => {
  const response = errorResponse(new ApiError(503, "unavailable", "no leader", { "retry-after": "1" }));
  expect(response.status).toBe(503);
  expect(response.headers.get("retry-after")).toBe("1");
  expect(await response.json()).toEqual({ error: { code: "unavailable", message: "no leader" } });
});
