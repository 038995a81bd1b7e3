import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SecretFileError } from "../transport/nats-identity.ts";
import { NatsServer, freePort } from "./nats-server-process.ts";
import { UsageError, parseNodeOptions } from "./node-options.ts";
import { NodeProcess } from "./node-process.ts";
import { issueClusterCertificates } from "./tls-bundle.ts";

// A node given --https-cert/--https-key serves HTTPS only: a real `concord node` process
// (and its nats-server) on loopback, with a certificate for 127.0.0.1 from the code that
// makes concord init's. Its answers carry HSTS, its session cookie is Secure, and plain
// HTTP on the same port gets no answer.

const work = mkdtempSync(join(tmpdir(), "concord-node-https-"));
const tls = join(work, "tls");
mkdirSync(tls, { mode: 0o700 });
let nats: NatsServer | null = null;
let node: NodeProcess | null = null;
let url = "";
let port = 0;
let ca = "";

beforeAll(async () => {
  issueClusterCertificates([{ name: "loopback", address: "127.0.0.1", dir: tls }]);
  ca = readFileSync(join(tls, "ca.pem"), "utf8");
  nats = await NatsServer.start({ cluster: "concord", nodeIds: [1] });
  port = await freePort();
  node = new NodeProcess({
    id: 1,
    args: ["--id", "1", "--peers", "1", "--data", join(work, "data"), ...nats.nodeArgs(1), "--http", `127.0.0.1:${port}`, "--https-cert", join(tls, "cert.pem"), "--https-key", join(tls, "key.pem")],
    logPath: join(work, "node.log"),
  });
  url = (await node.start()).http;
}, 30_000);

afterAll(async () => {
  await node?.stop();
  node?.dispose();
  await nats?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe("concord node --https-cert --https-key", () => {
  test("answers HTTPS, trusted with the cluster's CA, with Strict-Transport-Security", async () => {
    expect(url).toBe(`https://127.0.0.1:${port}`);
    const reply = await fetch(`${url}/healthz`, { tls: { ca } });
    expect(reply.status).toBe(200);
    expect(reply.headers.get("strict-transport-security")).toBe("max-age=31536000");
    // The other security headers are the same as over HTTP.
    expect(reply.headers.get("content-security-policy")).toContain("default-src 'none'");
  });

  test("the session cookie is Secure over HTTPS", async () => {
    const body = JSON.stringify({ username: "carol", password: "a password long enough" });
    const headers = { "content-type": "application/json" };
    // A single-node cluster elects itself; sign-up waits for that.
    let signup: Response | null = null;
    for (let i = 0; i < 50 && signup?.status !== 201; i++) {
      signup = await fetch(`${url}/v1/accounts`, { method: "POST", headers, body, tls: { ca } });
      if (signup.status !== 201) await Bun.sleep(100);
    }
    expect(signup?.status).toBe(201);
    const login = await fetch(`${url}/v1/sessions`, { method: "POST", headers, body, tls: { ca } });
    expect(login.status).toBe(201);
    const cookie = login.headers.get("set-cookie") ?? "";
    expect(cookie).toContain("HttpOnly");
    expect(cookie).toMatch(/;\s*Secure/);
  });

  test("refuses a client that does not trust the CA, and plain HTTP gets no answer", async () => {
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
    await expect(fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(3000) })).rejects.toThrow();
  });

  test("the certificate and key go together, and the key must be the owner's alone", () => {
    const base = ["--id", "1", "--data", join(work, "unused")];
    expect(() => parseNodeOptions([...base, "--https-cert", join(tls, "cert.pem")], {})).toThrow(UsageError);
    expect(() => parseNodeOptions([...base, "--https-key", join(tls, "key.pem")], {})).toThrow(UsageError);
    expect(() => parseNodeOptions([...base, "--https-cert", join(tls, "key.pem"), "--https-key", join(tls, "key.pem")], {})).toThrow("no PEM certificate");
    const exposed = join(work, "exposed-key.pem");
    writeFileSync(exposed, readFileSync(join(tls, "key.pem")));
    chmodSync(exposed, 0o644);
    expect(() => parseNodeOptions([...base, "--https-cert", join(tls, "cert.pem"), "--https-key", exposed], {})).toThrow(SecretFileError);
    const parsed = parseNodeOptions([...base], { CONCORD_HTTPS_CERT: join(tls, "cert.pem"), CONCORD_HTTPS_KEY: join(tls, "key.pem") });
    expect(parsed.https?.cert).toContain("-----BEGIN CERTIFICATE-----");
    expect(parsed.https?.key).toContain("PRIVATE KEY-----");
    expect(parseNodeOptions(base, {}).https).toBeNull();
  });
});
