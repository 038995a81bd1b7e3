import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { DEPLOY_DEFAULTS, MACHINE_FILES, SERVICE_DIRS, natsCommand, nodeCommand } from "../../src/cli/init-deploy.ts";

// Docker is not available where the tests run, so compose.yaml and the Dockerfile are
// checked against what `concord init` writes: each of a machine's two services mounts
// its own directory of the one init wrote for their address (and nothing of the other's)
// at its unit's working directory, runs its systemd unit's command (which must exist
// there), stops with the unit's signal, and keeps data where node.json says; the
// containers run as a user, not root, with no capability; the Dockerfile puts nats-server
// and bun where those commands look.

const ROOT = resolve(import.meta.dir, "../..");
const MAIN = join(ROOT, "src/main.ts");
const work = mkdtempSync(join(tmpdir(), "concord-compose-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Service {
  command?: string[];
  user?: string;
  cap_add?: string[];
  cap_drop?: string[];
  working_dir?: string;
  volumes?: string[];
  network_mode?: string;
  networks?: Record<string, { ipv4_address?: string }>;
  ports?: string[];
  depends_on?: string[];
  stop_signal?: string;
  image?: string;
  build?: { context: string; args?: Record<string, string> };
  read_only?: boolean;
}

const compose = Bun.YAML.parse(readFileSync(join(ROOT, "compose.yaml"), "utf8")) as { services: Record<string, Service>; volumes: Record<string, unknown>; networks: Record<string, unknown> };
const MACHINES = [1, 2, 3, 4, 5];

function unitLine(machineDir: string, unit: string, key: string): string | undefined {
  const text = readFileSync(join(machineDir, unit), "utf8");
  return new RegExp(`^${key}=(.*)$`, "m").exec(text)?.[1];
}

describe("compose.yaml and the Dockerfile run what concord init writes", () => {
  const addresses = MACHINES.map((n) => compose.services[`nats-${n}`]?.networks?.["concord"]?.ipv4_address ?? "");
  const deploy = join(work, "concord-deploy");

  test("the addresses in compose.yaml are the ones its header tells init to use, and init makes a directory for each", () => {
    expect(Object.keys(compose.services).sort()).toEqual(MACHINES.flatMap((n) => [`nats-${n}`, `node-${n}`]).sort());
    expect(addresses.every((a) => /^\d+\.\d+\.\d+\.\d+$/.test(a))).toBe(true);
    const header = readFileSync(join(ROOT, "compose.yaml"), "utf8");
    expect(header).toContain(`init --hosts ${addresses.join(",")} --out concord-deploy`);
    const init = spawnSync(process.execPath, [MAIN, "init", "--hosts", addresses.join(","), "--out", deploy], { encoding: "utf8" });
    expect(`${init.status} ${init.stderr}`).toBe("0 ");
  });

  for (const n of MACHINES) {
    test(`machine ${n}: nats-${n} and node-${n} each mount only their own directory of machine-${n} where they run, as a user, with the units' commands`, () => {
      const dir = join(deploy, `machine-${n}`);
      const nats = compose.services[`nats-${n}`]!;
      const node = compose.services[`node-${n}`]!;
      const mounted: Record<string, string> = {};
      for (const [name, service, unit] of [["nats", nats, MACHINE_FILES.natsUnit], ["node", node, MACHINE_FILES.nodeUnit]] as const) {
        // Its own service directory, read-only, at the unit's working directory (paths in it are relative).
        const [source, target, mode] = service.volumes![0]!.split(":");
        mounted[name] = resolve(work, source!);
        expect(mounted[name]).toBe(join(dir, SERVICE_DIRS[name]));
        expect(target).toBe(unitLine(dir, unit, "WorkingDirectory"));
        expect(target).toBe(`${DEPLOY_DEFAULTS.configDir}/${SERVICE_DIRS[name]}`);
        expect(mode).toBe("ro");
        expect(service.working_dir).toBe(target);
        expect(service.image).toBe("concord:local");
        expect(service.build?.context).toBe(".");
        expect(service.read_only).toBe(true);
        // Not root, and no capability: the files' owner reads its 0600 files as any process does.
        expect(service.user).toBe("${CONCORD_UID:-1000}:${CONCORD_GID:-1000}");
        expect(service.cap_add).toBeUndefined();
        expect(service.cap_drop).toEqual(["ALL"]);
        expect(service.build?.args).toEqual({ CONCORD_UID: "${CONCORD_UID:-1000}", CONCORD_GID: "${CONCORD_GID:-1000}" });
      }
      // nats-server gets nothing of the node's secrets (its identity, the admin token, its
      // HTTPS key), the node nothing of nats-server's (nats.conf's route secret, its key).
      const natsMounts = nats.volumes!.map((v) => resolve(work, v.split(":")[0]!));
      expect(natsMounts).toEqual([mounted["nats"]!]);
      for (const file of [MACHINE_FILES.identity, MACHINE_FILES.adminToken, MACHINE_FILES.nodeConfig, MACHINE_FILES.httpsKey]) {
        expect(existsSync(join(dir, file))).toBe(true);
        expect(natsMounts.some((m) => join(dir, file).startsWith(`${m}/`))).toBe(false);
      }
      expect(join(dir, MACHINE_FILES.natsConfig).startsWith(`${mounted["node"]!}/`)).toBe(false);
      expect(join(dir, MACHINE_FILES.natsKey).startsWith(`${mounted["node"]!}/`)).toBe(false);
      // The same command lines as the systemd units, naming files that exist in each service's directory.
      expect(nats.command).toEqual(natsCommand(DEPLOY_DEFAULTS));
      expect(unitLine(dir, MACHINE_FILES.natsUnit, "ExecStart")).toBe(nats.command!.join(" "));
      expect(node.command).toEqual(nodeCommand(DEPLOY_DEFAULTS));
      expect(unitLine(dir, MACHINE_FILES.nodeUnit, "ExecStart")).toBe(node.command!.join(" "));
      expect(existsSync(join(mounted["nats"]!, nats.command![2]!))).toBe(true);
      expect(existsSync(join(mounted["node"]!, node.command![4]!))).toBe(true);
      expect(nats.stop_signal).toBe(unitLine(dir, MACHINE_FILES.natsUnit, "KillSignal")!);
      expect(node.stop_signal).toBe(unitLine(dir, MACHINE_FILES.nodeUnit, "KillSignal")!);
      // The node shares nats-N's network: the address nats.conf and node.json listen on.
      expect(node.network_mode).toBe(`service:nats-${n}`);
      expect(node.depends_on).toEqual([`nats-${n}`]);
      const config = JSON.parse(readFileSync(join(dir, MACHINE_FILES.nodeConfig), "utf8")) as Record<string, string | number>;
      expect(config["http"]).toBe(`${addresses[n - 1]}:8080`);
      expect(config["webPeers"]).toBe(addresses.map((a) => `https://${a}:8080`).join(","));
      expect(config["nats"]).toBe(`tls://${addresses[n - 1]}:4222`);
      expect(readFileSync(join(dir, MACHINE_FILES.natsConfig), "utf8")).toContain(`listen: "${addresses[n - 1]}:4222"`);
      expect(nats.ports).toEqual([`127.0.0.1:808${n}:8080`]);
      // Data in a volume of its own, where node.json puts it.
      expect(node.volumes![1]).toBe(`node-${n}:${config["data"]}`);
      expect(Object.keys(compose.volumes)).toContain(`node-${n}`);
      for (const file of [config["natsIdentity"], config["natsCa"], config["adminTokenFile"], config["httpsCert"], config["httpsKey"]]) expect(existsSync(join(mounted["node"]!, String(file)))).toBe(true);
    });
  }

  test("the Dockerfile installs nats-server and bun where the commands look, and keeps secrets out of the image", () => {
    const dockerfile = readFileSync(join(ROOT, "Dockerfile"), "utf8");
    expect(dockerfile).toMatch(/^FROM node:\d+-bookworm-slim$/m);
    expect(dockerfile).toMatch(/apt-get install[^\n]*nats-server/);
    expect(dockerfile).toContain(`test -x ${DEPLOY_DEFAULTS.natsServerBin}`);
    expect(dockerfile).toContain(`WORKDIR ${DEPLOY_DEFAULTS.appDir}\n`);
    expect(dockerfile).toContain("RUN npm ci");
    // The data directory belongs to the containers' user (a new volume takes its owner), who is not root.
    expect(dockerfile).toContain(`install -d -m 0700 -o "$CONCORD_UID" -g "$CONCORD_GID" ${DEPLOY_DEFAULTS.dataDir}`);
    expect(dockerfile).toContain(`install -d -m 0711 ${DEPLOY_DEFAULTS.configDir}`);
    expect(dockerfile).toMatch(/^USER \$\{CONCORD_UID\}:\$\{CONCORD_GID\}$/m);
    // The node command's bun and main.ts, relative to the app directory, exist in this checkout.
    const [bun, main] = nodeCommand(DEPLOY_DEFAULTS);
    for (const path of [bun!, main!]) expect(existsSync(join(ROOT, path.slice(DEPLOY_DEFAULTS.appDir.length + 1)))).toBe(true);
    // The bun it would install is the one the project pins.
    const pinned = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { devDependencies: Record<string, string> }).devDependencies["bun"];
    expect(pinned).toBeDefined();
    const ignored = readFileSync(join(ROOT, ".dockerignore"), "utf8").split("\n").map((l) => l.trim());
    for (const entry of ["concord-deploy", "concord-tls", "data", "node_modules", ".git"]) expect(ignored).toContain(entry);
  });
});
