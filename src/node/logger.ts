export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, unknown>;

/** Structured logging: an event name and fields, never prose to parse. */
export interface Logger {
  log(level: LogLevel, event: string, fields?: LogFields): void;
}

const LEVEL_RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** JSON lines on a writer, at or above a level (quiet by default: "warn"). */
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

export const silentLogger: Logger = { log() {} };
