import { describe, expect, test } from "bun:test";
import { type SetupSystem, ensureDebianPackages, findProgram, installCommandLine, packagesFor, planSetup } from "./ensure-debian-packages.ts";
import { SETUP_USAGE, runSetupCommand } from "./setup-command.ts";
import { UsageError } from "./node-options.ts";

// The decisions of `concord setup` (what is missing → what it installs, or what it tells a
// user who is not root) against a fake machine: files that exist, and a command runner
// that records what it was asked to run. No apt runs here.

interface FakeMachine extends SetupSystem {
  readonly files: Set<string>;
  readonly ran: string[];
}

const NATS = "/usr/sbin/nats-server";
const CHROMIUM = "/usr/lib/chromium/chromium";
const IP = "/usr/bin/ip";
const ETCD = "/usr/bin/etcd";
const OPENSSL = "/usr/bin/openssl";
const APT = "/usr/bin/apt-get";
const SYSTEMCTL = "/usr/bin/systemctl";

/** A machine with `files`; apt-get install "installs" each package's program unless `aptFails`. */
function machine(options: { root: boolean; files: string[]; env?: Record<string, string>; aptFails?: "update" | "install" }): FakeMachine {
  const files = new Set(options.files);
  const ran: string[] = [];
  const programs: Record<string, string> = { "nats-server": NATS, chromium: CHROMIUM, "etcd-server": ETCD, openssl: OPENSSL, iproute2: IP };
  return {
    isRoot: options.root,
    files,
    ran,
    env: (name) => ({ PATH: "/usr/local/bin:/usr/bin:/bin", ...options.env })[name],
    exists: (path) => files.has(path),
    run: async (command) => {
      ran.push(command.join(" "));
      if (command[0] === "apt-get" && command[1] === options.aptFails) return 100;
      if (command[0] === "apt-get" && command[1] === "install") {
        for (const name of command.slice(2).filter((arg) => !arg.startsWith("-"))) files.add(programs[name]!);
      }
      return 0;
    },
  };
}

const names = (packages: readonly { name: string }[]) => packages.map((p) => p.name);

describe("what setup needs", () => {
  test("running Concord needs nats-server; the tests add chromium, etcd and openssl, and iproute2 for root only (the namespace tests are root's)", () => {
    expect(names(packagesFor("run", true))).toEqual(["nats-server"]);
    expect(names(packagesFor("run", false))).toEqual(["nats-server"]);
    expect(names(packagesFor("tests", true))).toEqual(["nats-server", "chromium", "etcd-server", "openssl", "iproute2"]);
    expect(names(packagesFor("tests", false))).toEqual(["nats-server", "chromium", "etcd-server", "openssl"]);
  });

  test("programs are found through their variable, PATH, the sbin directories, or fixed paths", () => {
    const m = machine({ root: false, files: ["/opt/nats", "/usr/sbin/ip", "/usr/bin/chromium"], env: { NATS_SERVER_BIN: "/opt/nats" } });
    expect(findProgram(m, "NATS_SERVER_BIN", ["nats-server"])).toBe("/opt/nats");
    expect(findProgram(m, null, ["ip"])).toBe("/usr/sbin/ip"); // not on this PATH: a non-login root shell
    expect(findProgram(m, "CHROMIUM_PATH", ["/usr/lib/chromium/chromium", "/usr/bin/chromium"])).toBe("/usr/bin/chromium");
    // A variable naming a file that is not there does not count.
    expect(findProgram(machine({ root: false, files: [NATS], env: { NATS_SERVER_BIN: "/nope" } }), "NATS_SERVER_BIN", ["nats-server"])).toBe(NATS);
    expect(findProgram(m, null, ["nats-server"])).toBeNull();
  });
});

describe("planSetup", () => {
  test("everything installed: nothing to do, and the paths", () => {
    const plan = planSetup(packagesFor("tests", true), machine({ root: true, files: [NATS, CHROMIUM, ETCD, OPENSSL, IP, APT] }));
    expect(plan.kind).toBe("ready");
    if (plan.kind === "ready") expect([...plan.found]).toEqual([["nats-server", NATS], ["chromium", CHROMIUM], ["etcd-server", ETCD], ["openssl", OPENSSL], ["iproute2", IP]]);
  });

  test("root with apt-get: install exactly what is missing", () => {
    const plan = planSetup(packagesFor("tests", true), machine({ root: true, files: [NATS, ETCD, OPENSSL, APT] }));
    expect(plan.kind).toBe("install");
    if (plan.kind === "install") expect(names(plan.missing)).toEqual(["chromium", "iproute2"]);
  });

  test("not root: one command that installs what is missing (and stops the service nats-server's package starts)", () => {
    const plan = planSetup(packagesFor("tests", false), machine({ root: false, files: [APT, IP, ETCD, OPENSSL] }));
    expect(plan.kind).toBe("tell");
    if (plan.kind !== "tell") return;
    expect(names(plan.missing)).toEqual(["nats-server", "chromium"]);
    const line = "sudo apt-get install -y --no-install-recommends nats-server chromium && sudo systemctl disable --now nats-server";
    expect(plan.message).toContain(line);
    expect(plan.message.split("\n").filter((l) => l.includes("sudo"))).toHaveLength(1);
  });

  test("not root, only chromium missing: the command names chromium alone", () => {
    const plan = planSetup(packagesFor("tests", false), machine({ root: false, files: [APT, NATS, ETCD, OPENSSL] }));
    expect(plan.kind === "tell" && plan.message).toEndWith("\n  sudo apt-get install -y --no-install-recommends chromium");
    expect(installCommandLine(packagesFor("tests", false).slice(1))).toBe("sudo apt-get install -y --no-install-recommends chromium etcd-server openssl && sudo systemctl disable --now etcd");
  });

  test("no apt-get, even as root: say what is missing, install nothing", () => {
    const plan = planSetup(packagesFor("run", true), machine({ root: true, files: [] }));
    expect(plan.kind).toBe("tell");
    expect(plan.kind === "tell" && plan.message).toContain("missing: nats-server. This machine has no apt-get");
  });
});

describe("ensureDebianPackages", () => {
  test("installed already: runs nothing", async () => {
    const m = machine({ root: true, files: [NATS, CHROMIUM, ETCD, OPENSSL, IP, APT, SYSTEMCTL] });
    const result = await ensureDebianPackages(packagesFor("tests", true), m, () => {});
    expect(result.installed).toEqual([]);
    expect(m.ran).toEqual([]);
  });

  test("root: apt-get update once, one install of everything missing, then the services their packages start are disabled", async () => {
    const m = machine({ root: true, files: [APT, SYSTEMCTL] });
    const progress: string[] = [];
    const result = await ensureDebianPackages(packagesFor("tests", true), m, (line) => progress.push(line));
    expect(m.ran).toEqual([
      "apt-get update",
      "apt-get install -y --no-install-recommends nats-server chromium etcd-server openssl iproute2",
      "systemctl disable --now nats-server",
      "systemctl disable --now etcd",
    ]);
    expect(result.installed).toEqual(["nats-server", "chromium", "etcd-server", "openssl", "iproute2"]);
    expect([...result.found.values()]).toEqual([NATS, CHROMIUM, ETCD, OPENSSL, IP]);
    expect(progress.length).toBeGreaterThan(0);
  });

  test("root without systemd (a container): no systemctl call; nothing to disable without nats-server missing", async () => {
    const m = machine({ root: true, files: [APT] });
    await ensureDebianPackages(packagesFor("run", true), m, () => {});
    expect(m.ran).toEqual(["apt-get update", "apt-get install -y --no-install-recommends nats-server"]);
    const n = machine({ root: true, files: [APT, SYSTEMCTL, NATS, ETCD, OPENSSL] });
    await ensureDebianPackages(packagesFor("tests", true), n, () => {});
    expect(n.ran).toEqual(["apt-get update", "apt-get install -y --no-install-recommends chromium iproute2"]);
  });

  test("not root: stops at once, runs nothing, and the error names the command", async () => {
    const m = machine({ root: false, files: [APT, NATS, ETCD, OPENSSL] });
    const error = await ensureDebianPackages(packagesFor("tests", false), m, () => {}).catch((e: unknown) => e);
    expect(m.ran).toEqual([]);
    expect(error).toMatchObject({ name: "MissingPackagesError", missing: ["chromium"] });
    expect((error as Error).message).toContain("sudo apt-get install -y --no-install-recommends chromium");
  });

  test("apt failing stops setup with the command to try by hand", async () => {
    for (const aptFails of ["update", "install"] as const) {
      const m = machine({ root: true, files: [APT], aptFails });
      const error = await ensureDebianPackages(packagesFor("run", true), m, () => {}).catch((e: unknown) => e);
      expect((error as Error).message).toContain(`apt-get ${aptFails} failed`);
      expect((error as Error).message).toContain("apt-get install -y --no-install-recommends nats-server");
      expect(m.ran.at(-1)).toStartWith(`apt-get ${aptFails}`);
    }
  });
});

describe("concord setup", () => {
  const io = () => {
    const out: string[] = [];
    const err: string[] = [];
    return { out, err, io: { stdout: (t: string) => void out.push(t), stderr: (t: string) => void err.push(t) } };
  };

  test("--help prints setup's own help and looks at nothing", async () => {
    const { out, io: streams } = io();
    const untouchable: SetupSystem = {
      isRoot: true,
      env: () => { throw new Error("looked at the environment"); },
      exists: () => { throw new Error("looked at the disk"); },
      run: () => { throw new Error("ran a command"); },
    };
    expect(await runSetupCommand(["--help"], streams, untouchable)).toBe(0);
    expect(await runSetupCommand(["--for", "tests", "--help"], streams, untouchable)).toBe(0);
    expect(await runSetupCommand(["-h", "--bogus"], streams, untouchable)).toBe(0);
    expect(out.join("")).toBe(SETUP_USAGE + SETUP_USAGE + SETUP_USAGE);
  });

  test("everything installed: says so per package; --quiet prints nothing", async () => {
    const m = machine({ root: true, files: [NATS, CHROMIUM, ETCD, OPENSSL, IP, APT] });
    const a = io();
    expect(await runSetupCommand(["--for", "tests"], a.io, m)).toBe(0);
    expect(a.out.join("")).toBe(`nats-server: ${NATS} (already installed)\nchromium: ${CHROMIUM} (already installed)\netcd-server: ${ETCD} (already installed)\nopenssl: ${OPENSSL} (already installed)\niproute2: ${IP} (already installed)\n`);
    const b = io();
    expect(await runSetupCommand(["--for", "tests", "--quiet"], b.io, m)).toBe(0);
    expect(b.out).toEqual([]);
    expect(b.err).toEqual([]);
  });

  test("plain setup is for running Concord: nats-server only", async () => {
    const m = machine({ root: true, files: [APT] });
    const a = io();
    expect(await runSetupCommand([], a.io, m)).toBe(0);
    expect(m.ran).toContain("apt-get install -y --no-install-recommends nats-server");
    expect(a.out.join("")).toBe(`nats-server: ${NATS} (installed now)\n`);
  });

  test("not root with chromium missing: exit 4, the command on stderr, nothing run", async () => {
    const m = machine({ root: false, files: [APT, NATS, ETCD, OPENSSL] });
    const a = io();
    expect(await runSetupCommand(["--for", "tests", "--quiet"], a.io, m)).toBe(4);
    expect(a.err.join("")).toContain("concord setup: missing: chromium.");
    expect(a.err.join("")).toContain("sudo apt-get install -y --no-install-recommends chromium");
    expect(m.ran).toEqual([]);
  });

  test("usage mistakes", async () => {
    const m = machine({ root: false, files: [] });
    await expect(runSetupCommand(["--for", "everything"], io().io, m)).rejects.toBeInstanceOf(UsageError);
    await expect(runSetupCommand(["--bogus"], io().io, m)).rejects.toBeInstanceOf(UsageError);
  });
});
