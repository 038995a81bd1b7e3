import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { DEPLOY_DEFAULTS, MACHINE_FILES, natsCommand, nodeCommand } from "../../src/cli/init-deploy.ts";

// Docker is not available where the tests run, so compose.yaml and the Dockerfile are
// checked against what `concord init` writes: every machine's two services mount the
// directory init wrote for their address at the working directory, run the commands of
// its systemd units (which must exist there), stop with the units' signals, and keep data
// where node.json says; the Dockerfile puts nats-server and bun where those commands look.

const ROOT = resolve(import.meta.dir, "../..");
const MAIN = join(ROOT, "src/main.ts");
const work = mkdtempSync(join(tmpdir(), "concord-compose-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Service {
  command?: string[];
  working_dir?: string;
  volumes?: string[];
  network_mode?: string;
  networks?: Record<string, { ipv4_address?: string }>;
  ports?: string[];
  depends_on?: string[];
  stop_signal?: string;
  image?: string;
  build?: string;
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
    test(`machine ${n}: nats-${n} and node-${n} mount machine-${n} where they run, with the units' commands`, () => {
      const dir = join(deploy, `machine-${n}`);
      const nats = compose.services[`nats-${n}`]!;
      const node = compose.services[`node-${n}`]!;
      for (const service of [nats, node]) {
        // The machine directory, read-only, is the working directory (paths in it are relative).
        const [source, target, mode] = service.volumes![0]!.split(":");
        expect(resolve(work, source!)).toBe(dir);
        expect(existsSync(join(dir, MACHINE_FILES.natsConfig))).toBe(true);
        expect(target).toBe(DEPLOY_DEFAULTS.configDir);
        expect(mode).toBe("ro");
        expect(service.working_dir).toBe(unitLine(dir, MACHINE_FILES.nodeUnit, "WorkingDirectory"));
        expect(service.image).toBe("concord:local");
        expect(service.build).toBe(".");
        expect(service.read_only).toBe(true);
      }
      // The same command lines as the systemd units, naming files that exist in the directory.
      expect(nats.command).toEqual(natsCommand(DEPLOY_DEFAULTS));
      expect(unitLine(dir, MACHINE_FILES.natsUnit, "ExecStart")).toBe(nats.command!.join(" "));
      expect(node.command).toEqual(nodeCommand(DEPLOY_DEFAULTS));
      expect(unitLine(dir, MACHINE_FILES.nodeUnit, "ExecStart")).toBe(node.command!.join(" "));
      expect(existsSync(join(dir, nats.command![2]!))).toBe(true);
      expect(existsSync(join(dir, node.command![4]!))).toBe(true);
      expect(nats.stop_signal).toBe(unitLine(dir, MACHINE_FILES.natsUnit, "KillSignal")!);
      expect(node.stop_signal).toBe(unitLine(dir, MACHINE_FILES.nodeUnit, "KillSignal")!);
      // The node shares nats-N's network: the address nats.conf and node.json listen on.
      expect(node.network_mode).toBe(`service:nats-${n}`);
      expect(node.depends_on).toEqual([`nats-${n}`]);
      const config = JSON.parse(readFileSync(join(dir, MACHINE_FILES.nodeConfig), "utf8")) as Record<string, string | number>;
      expect(config["http"]).toBe(`${addresses[n - 1]}:8080`);
      expect(config["nats"]).toBe(`tls://${addresses[n - 1]}:4222`);
      expect(readFileSync(join(dir, MACHINE_FILES.natsConfig), "utf8")).toContain(`listen: "${addresses[n - 1]}:4222"`);
      expect(nats.ports).toEqual([`127.0.0.1:808${n}:8080`]);
      // Data in a volume of its own, where node.json puts it.
      expect(node.volumes![1]).toBe(`node-${n}:${config["data"]}`);
      expect(Object.keys(compose.volumes)).toContain(`node-${n}`);
      for (const file of [config["natsIdentity"], config["natsCa"], config["adminTokenFile"]]) expect(existsSync(join(dir, String(file)))).toBe(true);
    });
  }

  test("the Dockerfile installs nats-server and bun where the commands look, and keeps secrets out of the image", () => {
    const dockerfile = readFileSync(join(ROOT, "Dockerfile"), "utf8");
    expect(dockerfile).toMatch(/^FROM node:\d+-bookworm-slim$/m);
    expect(dockerfile).toMatch(/apt-get install[^\n]*nats-server/);
    expect(dockerfile).toContain(`test -x ${DEPLOY_DEFAULTS.natsServerBin}`);
    expect(dockerfile).toContain(`WORKDIR ${DEPLOY_DEFAULTS.appDir}\n`);
    expect(dockerfile).toContain("RUN npm ci");
    expect(dockerfile).toContain(`install -d -m 0700 ${DEPLOY_DEFAULTS.dataDir} ${DEPLOY_DEFAULTS.configDir}`);
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
