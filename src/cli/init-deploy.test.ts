import { afterAll, describe, expect, test } from "bun:test";
import { X509Certificate, createPrivateKey } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readNatsIdentity } from "../transport/nats-identity.ts";
import { DEPLOY_DEFAULTS, DeployExistsError, MACHINE_FILES, SERVICE_DIRS, type DeployOptions, deployOptionsProblem, writeDeployment } from "./init-deploy.ts";
import { runInitCommand } from "./init-command.ts";
import { UsageError, parseNodeOptions } from "./node-options.ts";

const work = mkdtempSync(join(tmpdir(), "concord-init-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const HOSTS = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "db5.example.net"];
const options = (extra: Partial<DeployOptions> = {}): DeployOptions => ({ ...DEPLOY_DEFAULTS, hosts: HOSTS, ...extra });

describe("concord init", () => {
  const out = join(work, "deploy");
  let dirs: string[] = [];

  test("writes one directory per machine, secrets 0600 and directories 0700", async () => {
    dirs = await writeDeployment(out, options());
    expect(dirs).toEqual(HOSTS.map((_, i) => join(out, `machine-${i + 1}`)));
    expect(readdirSync(work)).toEqual(["deploy"]); // no partial directory left behind
    for (const dir of dirs) {
      for (const file of Object.values(MACHINE_FILES)) expect((statSync(join(dir, file)).mode & 0o077).toString(8)).toBe("0");
      for (const sub of [".", "nats", "nats/tls", "node", "node/tls", "systemd"]) expect((statSync(join(dir, sub)).mode & 0o777).toString(8)).toBe("700");
    }
  });

  test("each service's directory holds what it needs and nothing of the other's secrets", () => {
    const files = (sub: string): string[] => (readdirSync(join(dirs[0]!, sub), { recursive: true }) as string[]).sort();
    expect(files(SERVICE_DIRS.nats)).toEqual(["nats.conf", "tls", "tls/ca.pem", "tls/cert.pem", "tls/key.pem"]);
    expect(files(SERVICE_DIRS.node)).toEqual(["admin-token", "node.json", "node.nk", "tls", "tls/ca.pem", "tls/cert.pem", "tls/key.pem"]);
    for (const dir of dirs) {
      const conf = readFileSync(join(dir, MACHINE_FILES.natsConfig), "utf8");
      // nats-server knows the nodes' public keys, never a seed or the admin token.
      expect(conf).not.toContain(readFileSync(join(dir, MACHINE_FILES.identity), "utf8").trim());
      expect(conf).not.toContain(readFileSync(join(dir, MACHINE_FILES.adminToken), "utf8").trim());
      // The route secret (in nats.conf for dialing) appears nowhere in node/.
      const secret = /nats-route:\/\/route:([^@]+)@/.exec(conf)![1]!;
      for (const file of files(SERVICE_DIRS.node).filter((f) => f.includes("."))) expect(readFileSync(join(dir, SERVICE_DIRS.node, file), "utf8")).not.toContain(secret);
    }
  });

  test("each machine has its own node's seed; every server knows every node, with its own subjects", () => {
    const publicKeys = dirs.map((dir) => readNatsIdentity(join(dir, MACHINE_FILES.identity)).publicKey);
    expect(new Set(publicKeys).size).toBe(5);
    for (const [i, dir] of dirs.entries()) {
      const conf = readFileSync(join(dir, MACHINE_FILES.natsConfig), "utf8");
      for (const [j, key] of publicKeys.entries()) expect(conf).toMatch(new RegExp(`nkey: "${key}", permissions: \\{ publish: \\{ allow: \\["concord\\.concord\\.raft\\.\\*\\.${j + 1}"`));
      // Listens on its own address only; routes to the four others, with TLS verified both ways.
      expect(conf).toContain(`listen: "${HOSTS[i]}:4222"`);
      expect(conf).toContain(`listen: "${HOSTS[i]}:6222"`);
      const routes = [...conf.matchAll(/nats-route:\/\/route:[^@]+@([^"]+)"/g)].map((m) => m[1]);
      expect(routes).toEqual(HOSTS.filter((_, j) => j !== i).map((h) => `${h}:6222`));
      expect(conf).toMatch(/cluster \{[^}]*tls \{[^}]*verify: true/);
      expect(conf).toMatch(/authorization \{ user: "route", password: "\$2[aby]\$10\$/);
      expect(conf).not.toContain("0.0.0.0");
      expect(conf).not.toContain("no_auth_user");
    }
  });

  test("one CA signs every machine's two certificates (nats-server's, the node's HTTPS), which name the machine's address and serve TLS", () => {
    const caFile = join(dirs[0]!, MACHINE_FILES.nodeCa);
    const ca = new X509Certificate(readFileSync(caFile));
    for (const [i, dir] of dirs.entries()) {
      expect(readFileSync(join(dir, MACHINE_FILES.natsCa), "utf8")).toBe(ca.toString());
      expect(readFileSync(join(dir, MACHINE_FILES.nodeCa), "utf8")).toBe(ca.toString());
      const pairs = [[MACHINE_FILES.natsCert, MACHINE_FILES.natsKey], [MACHINE_FILES.httpsCert, MACHINE_FILES.httpsKey]] as const;
      for (const [certFile, keyFile] of pairs) {
        const cert = new X509Certificate(readFileSync(join(dir, certFile)));
        expect(cert.verify(ca.publicKey)).toBe(true);
        expect(cert.subjectAltName).toBe(i === 4 ? `DNS:${HOSTS[i]}` : `IP Address:${HOSTS[i]}`);
        expect(cert.checkPrivateKey(createPrivateKey(readFileSync(join(dir, keyFile))))).toBe(true);
        // Valid for a TLS server (extended key usage serverAuth), as browsers require.
        const verify = Bun.spawnSync(["openssl", "verify", "-purpose", "sslserver", "-CAfile", caFile, join(dir, certFile)], { stdout: "pipe", stderr: "pipe" });
        expect(`${verify.exitCode} ${verify.stderr.toString()}`).toBe("0 ");
      }
      // Two keys: the node's HTTPS key does not unlock nats-server's certificate.
      const natsCert = new X509Certificate(readFileSync(join(dir, MACHINE_FILES.natsCert)));
      expect(natsCert.checkPrivateKey(createPrivateKey(readFileSync(join(dir, MACHINE_FILES.httpsKey))))).toBe(false);
    }
  });

  test("node.json is what concord node --config reads, with paths and no secret", () => {
    const adminToken = readFileSync(join(dirs[0]!, MACHINE_FILES.adminToken), "utf8").trim();
    for (const [i, dir] of dirs.entries()) {
      expect(readFileSync(join(dir, MACHINE_FILES.adminToken), "utf8").trim()).toBe(adminToken);
      const text = readFileSync(join(dir, MACHINE_FILES.nodeConfig), "utf8");
      expect(text).not.toContain(adminToken);
      expect(text).not.toContain(readFileSync(join(dir, MACHINE_FILES.identity), "utf8").trim());
      // Paths are relative to node/ (the node's working directory), and all lie in it; here, made absolute.
      const config = JSON.parse(text) as Record<string, unknown>;
      const paths = ["natsIdentity", "natsCa", "adminTokenFile", "httpsCert", "httpsKey"];
      for (const key of paths) expect(readFileSync(join(dir, SERVICE_DIRS.node, String(config[key])), "utf8")).not.toBe("");
      const absolute = join(work, `node-${i + 1}.json`);
      writeFileSync(absolute, JSON.stringify({ ...config, ...Object.fromEntries(paths.map((key) => [key, join(dir, SERVICE_DIRS.node, String(config[key]))])) }));
      const parsed = parseNodeOptions(["--config", absolute], {});
      expect(parsed).toMatchObject({ id: i + 1, cluster: "concord", dataDir: "/var/lib/concord", httpHost: HOSTS[i], httpPort: 8080, bootstrapVoters: [1, 2, 3, 4, 5], adminToken });
      expect(parsed.natsServers).toEqual([`tls://${HOSTS[i]}:4222`]);
      // HTTPS with the node's own certificate, and the page fails over to the others over HTTPS.
      expect(parsed.https?.cert).toBe(readFileSync(join(dir, MACHINE_FILES.httpsCert), "utf8"));
      expect(parsed.webPeers).toEqual(HOSTS.map((h) => `https://${h}:8080`));
    }
  });

  test("the systemd units run from their own directories as users of their own, hardened", () => {
    const nats = readFileSync(join(dirs[2]!, MACHINE_FILES.natsUnit), "utf8");
    const node = readFileSync(join(dirs[2]!, MACHINE_FILES.nodeUnit), "utf8");
    for (const unit of [nats, node]) {
      for (const line of ["NoNewPrivileges=yes", "ProtectSystem=strict", "CapabilityBoundingSet=", "UMask=0077", "WantedBy=multi-user.target"]) {
        expect(unit.split("\n")).toContain(line);
      }
    }
    // nats-server cannot read the node's identity or the admin token, nor the node the route secret.
    for (const line of ["User=concord-nats", "WorkingDirectory=/etc/concord/nats", "InaccessiblePaths=-/etc/concord/node"]) expect(nats.split("\n")).toContain(line);
    for (const line of ["User=concord", "WorkingDirectory=/etc/concord/node", "InaccessiblePaths=-/etc/concord/nats"]) expect(node.split("\n")).toContain(line);
    expect(nats).toContain("ExecStart=/usr/sbin/nats-server -c nats.conf\n");
    expect(node).toContain("ExecStart=/opt/concord/node_modules/.bin/bun /opt/concord/src/main.ts node --config node.json\n");
    expect(node).toContain("StateDirectory=concord\n");
    expect(node).toContain("After=network-online.target concord-nats.service\n");
    expect(node).not.toContain("MemoryDenyWriteExecute"); // Bun's JIT
  });

  test.skipIf(Bun.which("systemd-analyze") === null)("systemd-analyze finds the units well-formed and their exposure low (skipped without systemd-analyze)", async () => {
    // Commands that exist here, so that verify can check them: this checkout, an executable for nats-server.
    const here = await writeDeployment(join(work, "verify"), options({ hosts: HOSTS.slice(0, 3), appDir: join(import.meta.dir, "../.."), natsServerBin: Bun.which("nats-server") ?? "/bin/true" }));
    const units = [MACHINE_FILES.natsUnit, MACHINE_FILES.nodeUnit].map((unit) => join(here[0]!, unit));
    const verify = Bun.spawnSync(["systemd-analyze", "verify", ...units], { stderr: "pipe" });
    expect(`${verify.exitCode} ${verify.stderr.toString()}`).toBe("0 ");
    for (const unit of units) {
      // 0 is the most locked down, 10 none at all; a plain service with no options scores 9.6.
      const security = Bun.spawnSync(["systemd-analyze", "security", "--offline=yes", "--threshold=35", unit], { stdout: "pipe", stderr: "pipe" });
      expect(`${security.exitCode} ${security.stdout.toString().split("\n").find((l) => l.includes("Overall exposure"))}`).toMatch(/^0 .*Overall exposure level for concord-\w+\.service: [0-3]\.\d/);
    }
  });

  test("refuses to overwrite, and names what is wrong with the options", async () => {
    await expect(writeDeployment(out, options())).rejects.toBeInstanceOf(DeployExistsError);
    const io = { stdout: (_: string) => {}, stderr: (text: string) => void (err += text) };
    let err = "";
    expect(await runInitCommand(["--hosts", HOSTS.join(","), "--out", out], io)).toBe(3);
    expect(err).toContain("(deploy_exists)");
    writeFileSync(join(work, "a-file"), "");
    await expect(writeDeployment(join(work, "a-file"), options())).rejects.toBeInstanceOf(DeployExistsError);
    expect(deployOptionsProblem(options({ hosts: ["10.0.0.1", "10.0.0.2"] }))).toContain("at least 3");
    expect(deployOptionsProblem(options({ hosts: ["10.0.0.1", "10.0.0.1", "10.0.0.3"] }))).toContain("duplicates");
    expect(deployOptionsProblem(options({ hosts: ["0.0.0.0", "10.0.0.2", "10.0.0.3"] }))).toContain("not one machine's address");
    expect(deployOptionsProblem(options({ hosts: ["fd00::1", "10.0.0.2", "10.0.0.3"] }))).toContain("IPv6");
    expect(deployOptionsProblem(options({ dataDir: "/srv/concord" }))).toContain("/var/lib");
    expect(deployOptionsProblem(options({ httpPort: 4222 }))).toContain("differ");
    expect(deployOptionsProblem(options({ natsUser: "concord" }))).toContain("--nats-user must differ");
    expect(deployOptionsProblem(options({ cluster: "a.b" }))).not.toBeNull();
    await expect(runInitCommand(["--hosts", "10.0.0.1"], io)).rejects.toBeInstanceOf(UsageError);
    await expect(runInitCommand(["--bogus"], io)).rejects.toBeInstanceOf(UsageError);
    let help = "";
    expect(await runInitCommand(["--hosts", "x", "--help"], { stdout: (t) => void (help += t), stderr: () => {} })).toBe(0);
    expect(help).toContain("usage: concord init --hosts");
  });
});
