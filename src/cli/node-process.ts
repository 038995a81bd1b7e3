import { closeSync, fchmodSync, openSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Subprocess } from "bun";

const MAIN = fileURLToPath(new URL("../main.ts", import.meta.url));
const LISTEN_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 10_000;

export interface NodeProcessSpec {
  id: number;
  /** Arguments after `concord node`. */
  args: string[];
  /** Where the node's stderr (its JSON log) goes. */
  logPath: string;
  env?: Record<string, string>;
}

/**
 * One `concord node` child process, controlled by the PID we got: start, wait until it
 * listens, kill -9, SIGSTOP/SIGCONT, graceful stop, restart on the same data.
 */
export class NodeProcess {
  private child: Subprocess<"ignore", "pipe", number> | null = null;
  private stopped = false;
  private exitHooked = false;
  private readonly killOnExit = (): void => {
    if (this.child !== null && this.child.exitCode === null) this.child.kill("SIGKILL");
  };

  constructor(readonly spec: NodeProcessSpec) {}

  get id(): number {
    return this.spec.id;
  }

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  /** SIGSTOPped and not yet continued. */
  get paused(): boolean {
    return this.running && this.stopped;
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Start and resolve once it prints its "listening" line (or reject if it exits first). */
  async start(): Promise<{ http: string }> {
    if (this.running) throw new Error(`node ${this.id} is already running`);
    if (!this.exitHooked) {
      process.on("exit", this.killOnExit);
      this.exitHooked = true;
    }
    // Append: a restarted node's log continues the same file.
    // For our user alone, like everything of a node's (whatever this process's umask).
    const logFd = openSync(this.spec.logPath, "a", 0o600);
    fchmodSync(logFd, 0o600);
    // Extra runtime flags for every node, e.g. CONCORD_NODE_BUN_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof" (benchmarks).
    const flags = (process.env["CONCORD_NODE_BUN_FLAGS"] ?? "").split(" ").filter((flag) => flag !== "");
    const child = Bun.spawn([process.execPath, ...flags, MAIN, "node", ...this.spec.args], {
      stdin: "ignore",
      stdout: "pipe",
      stderr: logFd,
      env: { ...process.env, ...this.spec.env },
    });
    closeSync(logFd);
    this.child = child;
    this.stopped = false;
    const reader = child.stdout.getReader();
    const decoder = new TextDecoder();
    let buffered = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), LISTEN_TIMEOUT_MS);
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) {
          await child.exited;
          // The log's end says why; tests delete the file with their directory, so quote it.
          const why = logTail(this.spec.logPath, START_FAILURE_LOG_BYTES);
          throw new Error(`node ${this.id} exited during start (code ${child.exitCode ?? child.signalCode}); ${this.spec.logPath} ends:\n${why}`);
        }
        buffered += decoder.decode(value, { stream: true });
        const line = buffered.split("\n").find((l) => l.includes('"event":"listening"'));
        if (line !== undefined) {
          // Keep draining stdout so the child never blocks on a full pipe.
          void (async () => {
            while (!(await reader.read()).done);
          })().catch(() => {});
          return { http: (JSON.parse(line) as { http: string }).http };
        }
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGKILL: the crash we promise to survive. */
  async kill(): Promise<void> {
    await this.signalAndWait("SIGKILL");
  }

  /** SIGTERM: a leader hands over first; falls back to SIGKILL after a while. */
  async stop(): Promise<void> {
    await this.signalAndWait("SIGTERM");
  }

  pause(): void {
    if (!this.running) return;
    this.child?.kill("SIGSTOP");
    this.stopped = true;
  }

  resume(): void {
    this.child?.kill("SIGCONT");
    this.stopped = false;
  }

  /** Forget the exit hook once the process is gone for good. */
  dispose(): void {
    if (this.exitHooked) process.off("exit", this.killOnExit);
    this.exitHooked = false;
  }

  private async signalAndWait(signal: "SIGKILL" | "SIGTERM"): Promise<void> {
    const child = this.child;
    if (child === null || !this.running) return;
    child.kill("SIGCONT"); // a paused process cannot act on SIGTERM
    this.stopped = false;
    child.kill(signal);
    const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
    await child.exited;
    clearTimeout(timer);
  }
}

/** How much of a node's log a start failure quotes. */
const START_FAILURE_LOG_BYTES = 2048;

/** The last `bytes` of a file as text ("" when unreadable). */
function logTail(path: string, bytes: number): string {
  try {
    const text = readFileSync(path);
    return text.subarray(Math.max(0, text.length - bytes)).toString("utf8").trimEnd();
  } catch {
    return "";
  }
}
