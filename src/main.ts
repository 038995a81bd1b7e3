#!/usr/bin/env bun
// The `concord` command. The only place that reads process.argv or calls Bun.serve.
// Everything a concord process creates (data, logs, keys, tokens) is for its user alone.
process.umask(0o077);
import { EXIT, EXIT_CODES_HELP } from "./cli/exit-codes.ts";
import { classifyFailure } from "./cli/failure-exit.ts";
import { helpAsLongFlag, wantsHelp } from "./cli/help-flag.ts";
import { runNodeCommand } from "./cli/node-command.ts";

const USAGE = `usage: concord <command> [options]

commands:
  node      run one node (concord node --help)
  cluster   cluster up: a local nats-server and 5 nodes; status, members, add, promote,
            remove, transfer: operate a running cluster (concord cluster --help)
  setup     install what Concord (--for tests: its tests) needs here, or say how (concord setup --help);
            setup tls: the certificates of a two-machine cluster (concord setup tls --help)
  init      one directory per machine for a cluster of 5 machines, one node each:
            configs, identities, certificates, systemd units (concord init --help)
  chat      use the chat from a terminal (concord chat --help)
  demo      the failover demo: fail nodes one by one and watch (concord demo --help)
  harness   run failure scenarios and check the history (concord harness --help)
  bench     throughput, latency, failover and growth of a 5-node cluster here (concord bench --help)

options:
  -h, --help  this help; after a command, that command's own (concord help <command> too)
  --version   print the version

${EXIT_CODES_HELP}`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = normalizeArgv(argv);
  const serve = (options: Parameters<typeof Bun.serve>[0]) => {
    const server = Bun.serve(options);
    // Close open event streams too: they never finish by themselves.
    return { stop: () => server.stop(true) };
  };
  const onSignal = (signal: "SIGINT" | "SIGTERM", handler: () => void) => process.on(signal, handler);
  switch (command) {
    case "node":
      if (wantsHelp(rest)) {
        const { NODE_USAGE } = await import("./cli/node-options.ts");
        process.stdout.write(NODE_USAGE);
        return 0;
      }
      await runNodeCommand(rest, process.env, serve, onSignal);
      return 0;
    case "setup": {
      // Install what Concord (or its tests: --for tests) needs on this machine, or say how; setup tls.
      const [{ runSetupCommand }, { hostSystem }] = await Promise.all([import("./cli/setup-command.ts"), import("./cli/ensure-debian-packages.ts")]);
      return runSetupCommand(rest, { stdout: (text) => void process.stdout.write(text), stderr: (text) => void process.stderr.write(text) }, hostSystem());
    }
    case "init": {
      const { runInitCommand } = await import("./cli/init-command.ts");
      return runInitCommand(rest, { stdout: (text) => void process.stdout.write(text), stderr: (text) => void process.stderr.write(text) });
    }
    case "cluster": {
      const { runClusterCommand } = await import("./cli/cluster-command.ts");
      return runClusterCommand(rest, onSignal);
    }
    case "chat": {
      const [{ runChatCommand }, { processChatIo }] = await Promise.all([import("./cli/chat-command.ts"), import("./cli/chat-terminal.ts")]);
      return runChatCommand(rest, processChatIo(onSignal));
    }
    case "harness": {
      const [{ runHarnessCommand }, { processHarnessIo }] = await Promise.all([import("../harness/cli/harness-command.ts"), import("../harness/cli/harness-terminal.ts")]);
      return runHarnessCommand(rest, processHarnessIo());
    }
    case "demo": {
      const [{ runDemoCommand }, { processHarnessIo }] = await Promise.all([import("../harness/cli/demo-command.ts"), import("../harness/cli/harness-terminal.ts")]);
      return runDemoCommand(rest, processHarnessIo());
    }
    case "bench": {
      const { runBenchCommand } = await import("../harness/bench/bench-command.ts");
      return runBenchCommand(rest, {
        stdout: (text) => void process.stdout.write(text),
        stderr: (text) => void process.stderr.write(text),
        onSignal,
        exit: (code) => process.exit(code),
      });
    }
    case "--version": {
      const { concordVersion } = await import("./cli/version.ts");
      process.stdout.write(`concord ${concordVersion()}\n`);
      return EXIT.ok;
    }
    case undefined:
      process.stderr.write(USAGE);
      return EXIT.usage;
    case "--help":
      process.stdout.write(USAGE);
      return EXIT.ok;
    default:
      process.stderr.write(`unknown command '${command}'\n\n${USAGE}`);
      return EXIT.usage;
  }
}

/**
 * `help <command> [sub]` is `<command> [sub] --help`, and `-h` is `--help` before any `--`,
 * for every command: those whose own parsers know only --help (setup, init, bench) too.
 */
function normalizeArgv(argv: readonly string[]): string[] {
  const [first, ...rest] = argv;
  if (first === "help") return rest.length === 0 ? ["--help"] : [...rest, "--help"];
  return helpAsLongFlag(argv);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    // Every command's failures map to exit-codes.ts here; anything unknown is a bug (exit 1, with its stack).
    const failure = classifyFailure(error);
    if (failure === null) {
      process.stderr.write(`concord: ${(error as Error).stack ?? String(error)}\n`);
      process.exit(EXIT.failed);
    }
    if (failure.exit === EXIT.usage) process.stderr.write(`${failure.message}\n`);
    // A data directory, identity or token we must not use: say which and why, never its contents.
    else if (failure.exit === EXIT.refused) process.stderr.write(`concord: refusing to start: ${failure.message} (${failure.code})\n`);
    else process.stderr.write(`concord: ${failure.message} (${failure.code})\n`);
    process.exit(failure.exit);
  },
);
