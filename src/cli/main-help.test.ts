import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EXIT } from "./exit-codes.ts";

// `concord` itself, as a shell runs it: the top level, --version, and -h/--help on every
// command and subcommand. PATH points at an empty directory, so a help request that ran
// its command instead (setup installing nats-server, say) could not reach apt-get.

const MAIN = join(import.meta.dir, "../main.ts");
const empty = mkdtempSync(join(tmpdir(), "concord-help-"));
afterAll(() => rmSync(empty, { recursive: true, force: true }));

async function concord(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = Bun.spawn([process.execPath, MAIN, ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { PATH: empty, HOME: empty } });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { code, stdout, stderr };
}

/** Every command and subcommand, as typed after `concord`. */
const COMMANDS = [
  ["node"],
  ["cluster"],
  ["cluster", "up"],
  ...["status", "members", "add", "promote", "remove", "transfer"].map((sub) => ["cluster", sub]),
  ["setup"],
  ["setup", "tls"],
  ["init"],
  ["chat"],
  ["chat", "send"],
  ["chat", "watch"],
  ["demo"],
  ["harness"],
  ["harness", "run"],
  ["harness", "prompt"],
  ["bench"],
];

describe("concord (the command)", () => {
  test("--version prints package.json's version", async () => {
    const { version } = JSON.parse(readFileSync(join(import.meta.dir, "../../package.json"), "utf8")) as { version: string };
    expect(await concord("--version")).toEqual({ code: EXIT.ok, stdout: `concord ${version}\n`, stderr: "" });
  });

  test("-h, --help and help: the commands, the options and the exit-code table, exit 0", async () => {
    for (const args of [["-h"], ["--help"], ["help"]]) {
      const { code, stdout, stderr } = await concord(...args);
      expect([code, stderr]).toEqual([EXIT.ok, ""]);
      expect(stdout).toStartWith("usage: concord <command> [options]\n");
      expect(stdout).toContain("--version");
      expect(stdout).toContain("exit codes (every command):");
      expect(stdout).toContain("  7    check failed");
    }
  });

  test("no command or an unknown one is a usage error (2), the usage on stderr", async () => {
    for (const args of [[], ["frobnicate"]]) {
      const { code, stdout, stderr } = await concord(...args);
      expect([code, stdout]).toEqual([EXIT.usage, ""]);
      expect(stderr).toContain("usage: concord <command> [options]");
    }
  });

  test("every command and subcommand: -h, --help and `help …` print its own usage, do nothing else, exit 0", async () => {
    const runs = COMMANDS.flatMap((command) => [[...command, "-h"], [...command, "--help"], ["help", ...command]]);
    // Three at a time: each is a whole bun process, on a busy machine.
    const results: { args: string[]; code: number; stdout: string; stderr: string }[] = [];
    for (let i = 0; i < runs.length; i += 3) results.push(...(await Promise.all(runs.slice(i, i + 3).map(async (args) => ({ args, ...(await concord(...args)) })))));
    for (const { args, code, stdout, stderr } of results) {
      const command = args[0] === "help" ? args.slice(1) : args.slice(0, -1);
      expect({ args, code, stderr }).toEqual({ args, code: EXIT.ok, stderr: "" });
      expect({ args, first: stdout.split("\n")[0] }).toMatchObject({ args, first: expect.stringMatching(new RegExp(`^usage: concord ${command.join(" ")}\\b`)) });
    }
  }, 120_000);

  test("an operator command with nothing to talk to exits 6; a token on the command line is refused (2)", async () => {
    const down = await concord("cluster", "status", "--endpoints", "http://127.0.0.1:9");
    expect(down.code).toBe(EXIT.unavailable);
    expect(down.stdout).toContain("down");
    const token = await concord("cluster", "add", "6", "--token", "secret-token");
    expect(token.code).toBe(EXIT.usage);
    expect(token.stderr).toContain("--token-file");
  });
});
