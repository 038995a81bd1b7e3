import { afterAll, expect, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { chmodSync, cpSync, existsSync, lstatSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTwoMachineBundles, loadTlsBundle, TlsBundleError } from "./tls-bundle.ts";

const dir = mkdtempSync(join(tmpdir(), "concord-tls-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("setup tls: one bundle per machine, owner-only, each certificate naming its machine and signed by the one CA; the CA key is not kept", () => {
  const out = join(dir, "tls");
  expect(createTwoMachineBundles(out, { 1: "10.1.2.1", 2: "10.1.2.2" })).toEqual([join(out, "machine-1"), join(out, "machine-2")]);
  for (const machine of [1, 2]) {
    const bundle = loadTlsBundle(out, machine);
    expect([bundle.address, bundle.peer]).toEqual(machine === 1 ? ["10.1.2.1", "10.1.2.2"] : ["10.1.2.2", "10.1.2.1"]);
    const cert = new X509Certificate(readFileSync(bundle.certFile));
    expect(cert.subjectAltName).toBe(`IP Address:${bundle.address}`);
    expect(cert.verify(new X509Certificate(readFileSync(bundle.caFile)).publicKey)).toBe(true);
    expect(readdirSync(bundle.dir).sort()).toEqual(["admin-token", "ca.pem", "cert.pem", "key.pem", "machine.json", "route-secret"]);
    expect(lstatSync(bundle.dir).mode & 0o777).toBe(0o700);
    for (const file of readdirSync(bundle.dir)) expect(lstatSync(join(bundle.dir, file)).mode & 0o777).toBe(0o600);
  }
  // Both machines share the route secret and admin token, and nothing signs for the CA any more.
  expect(readFileSync(join(out, "machine-1", "route-secret"), "utf8")).toBe(readFileSync(join(out, "machine-2", "route-secret"), "utf8"));
  expect(readdirSync(out).sort()).toEqual(["machine-1", "machine-2"]);
  expect(() => createTwoMachineBundles(out, { 1: "10.1.2.1", 2: "10.1.2.2" })).toThrow(TlsBundleError);
});

test("a bundle for another machine, an exposed key, or none at all is refused with a stable code", () => {
  const out = join(dir, "tls");
  const code = (f: () => unknown) => {
    try {
      f();
      return "loaded";
    } catch (error) {
      return (error as { code: string }).code;
    }
  };
  expect(code(() => loadTlsBundle(join(out, "machine-1"), 2))).toBe("tls_bundle_mismatch");
  expect(code(() => loadTlsBundle(join(dir, "nowhere"), 1))).toBe("tls_bundle_missing");
  const copy = join(dir, "copy");
  cpSync(join(out, "machine-2"), copy, { recursive: true });
  chmodSync(join(copy, "key.pem"), 0o644);
  expect(code(() => loadTlsBundle(copy, 2))).toBe("secret_exposed");
  expect(existsSync(join(out, "machine-2", "key.pem"))).toBe(true);
});
