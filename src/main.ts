#!/usr/bin/env bun
// The `concord` command. The only place that reads process.argv or calls Bun.serve.
// Everything a concord process creates (data, logs, keys, tokens) is for its user alone.
process.umask(0o077);
import { runNodeCommand } from "./cli/node-command.ts";
import { NatsServerMissingError } from "./cli/nats-server-process.ts";
import { UsageError } from "./cli/node-options.ts";
import { StorageError } from "./storage/storage-error.ts";
import { SecretFileError } from "./transport/nats-identity.ts";
import { NatsAuthError } from "./transport/nats-transport.ts";

const USAGE = `usage: concord <command> [options]

commands:
  node      run one node (concord node --help)
  cluster   cluster up: a local nats-server and 5 nodes (concord cluster up --help)
  setup     install what Concord (--for tests: its tests) needs here, or say how (concord setup --help);
            setup tls: the certificates of a two-machine cluster (concord setup tls --help)
  chat      use the chat from a terminal (concord chat --help)
  demo      the failover demo: fail nodes one by one and watch (concord demo --help)
  harness   run failure scenarios and check the history (concord harness --help)
  bench     throughput, latency, failover and growth of a 5-node cluster here (concord bench --help)
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const serve = (options: Parameters<typeof Bun.serve>[0]) => {
    const server = Bun.serve(options);
    // Close open event streams too: they never finish by themselves.
    return { stop: () => server.stop(true) };
  };
  const onSignal = (signal: "SIGINT" | "SIGTERM", handler: () => void) => process.on(signal, handler);
  switch (command) {
    case "node":
      if (rest.includes("--help")) {
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
    case undefined:
    case "--help":
    case "help":
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`unknown command '${command}'\n\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    if (error instanceof NatsServerMissingError) {
      process.stderr.write(`concord: ${error.message}\n`);
      process.exit(4);
    }
    if (error instanceof SecretFileError || error instanceof NatsAuthError) {
      // An identity or token we must not use (or that NATS refused): say which, never its contents.
      process.stderr.write(`concord: refusing to start: ${error.message} (${error.code})\n`);
      process.exit(3);
    }
    if (error instanceof StorageError) {
      // A data directory we must not touch: say why and refuse to start.
      process.stderr.write(`concord: refusing to start: ${error.message} (${error.code})\n`);
      process.exit(3);
    }
    process.stderr.write(`concord: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
