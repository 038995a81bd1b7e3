import type { LogFields, LogLevel, Logger } from "../transport/log.ts";

// The Logger interface is the transport's (the lowest layer that logs); the layers above
// the node (the API, the entry points) take it from here, as the layer table allows.
export { silentLogger, withFields, type LogFields, type LogLevel, type Logger } from "../transport/log.ts";

const LEVEL_RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** JSON lines on a writer, at or above a level (quiet by default: "warn"). What entry points construct. */
export class JsonLogger implements Logger {
  constructor(
    private readonly write: (line: string) => void,
    private readonly minLevel: LogLevel = "warn",
    private readonly base: LogFields = {},
  ) {}

  log(level: LogLevel, event: string, fields: LogFields = {}): void {
    if (LEVEL_RANK[level] < LEVEL_RANK[this.minLevel]) return;
    this.write(`${JSON.stringify({ time: new Date().toISOString(), level, event, ...this.base, ...fields })}\n`);
  }
}
