import { describe, expect, test } from "bun:test";
import { Deadline } from "./deadline.ts";
import { ApiError } from "./errors.ts";

describe("Deadline", () => {
  test("hands the work the time left and returns its result", async () => {
    let now = 1000;
    const deadline = new Deadline(1500, () => now);
    now = 1100;
    expect(await deadline.run(async (timeoutMs) => timeoutMs)).toBe(400);
  });

  test("a promise that never settles becomes 503 unavailable at the deadline", async () => {
    const deadline = new Deadline(Date.now() + 50, Date.now);
    const started = Date.now();
    const error = await deadline.run(() => new Promise(() => {})).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(503);
    expect((error as ApiError).headers["retry-after"]).toBe("1");
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
  });

  test("a passed deadline refuses at once without starting the work", async () => {
    let started = false;
    const deadline = new Deadline(0, () => 10);
    const error = await deadline
      .run(async () => {
        started = true;
      })
      .catch((e: unknown) => e);
    expect((error as ApiError).code).toBe("unavailable");
    expect(started).toBe(false);
  });

  test("the work's own failure, thrown or rejected, passes through", async () => {
    const deadline = new Deadline(Date.now() + 1000, Date.now);
    const boom = new Error("boom");
    expect(
      await deadline
        .run(() => {
          throw boom;
        })
        .catch((e: unknown) => e),
    ).toBe(boom);
    expect(await deadline.run(() => Promise.reject(boom)).catch((e: unknown) => e)).toBe(boom);
  });
});
