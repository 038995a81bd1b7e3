import { describe, expect, test } from "bun:test";
import { createApp } from "./app.ts";
import type { FaultControl, LinkFaultsBody } from "./api-env.ts";
import { MemoryBackend } from "./testing/memory-backend.ts";
import { pbkdf2Hasher } from "./testing/test-password-hasher.ts";

class RecordedFaults implements FaultControl {
  current: LinkFaultsBody = { dropTo: [], dropFrom: [] };
  faults(): LinkFaultsBody {
    return this.current;
  }
  setFaults(faults: LinkFaultsBody): void {
    this.current = faults;
  }
}

const admin = { authorization: "Bearer admin", "content-type": "application/json" };

describe("fault routes", () => {
  test("a node without the fault hook has no such route", async () => {
    const app = createApp({ backend: new MemoryBackend(), passwords: pbkdf2Hasher(), adminToken: "admin" });
    const response = await app.request("/v1/debug/faults", { method: "PUT", headers: admin, body: JSON.stringify({ dropTo: [2], dropFrom: [] }) });
    expect(response.status).toBe(404);
  });

  test("the admin sets and reads the cut links; others are refused and change nothing", async () => {
    const faults = new RecordedFaults();
    const app = createApp({ backend: new MemoryBackend(), passwords: pbkdf2Hasher(), adminToken: "admin", faults });
    const refused = await app.request("/v1/debug/faults", { method: "PUT", headers: { ...admin, authorization: "Bearer nope" }, body: JSON.stringify({ dropTo: [2], dropFrom: [] }) });
    expect(refused.status).toBe(403);
    expect(faults.current).toEqual({ dropTo: [], dropFrom: [] });

    const set = await app.request("/v1/debug/faults", { method: "PUT", headers: admin, body: JSON.stringify({ dropTo: [2, 3], dropFrom: [3] }) });
    expect(set.status).toBe(200);
    expect(await set.json()).toEqual({ dropTo: [2, 3], dropFrom: [3] });
    const read = await app.request("/v1/debug/faults", { headers: admin });
    expect(await read.json()).toEqual({ dropTo: [2, 3], dropFrom: [3] });
  });

  test("a malformed fault set is a 400 with a stable code", async () => {
    const faults = new RecordedFaults();
    const app = createApp({ backend: new MemoryBackend(), passwords: pbkdf2Hasher(), adminToken: "admin", faults });
    const response = await app.request("/v1/debug/faults", { method: "PUT", headers: admin, body: JSON.stringify({ dropTo: ["x"], dropFrom: [] }) });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe("invalid_request");
    expect(faults.current).toEqual({ dropTo: [], dropFrom: [] });
  });
});
