/**
 * The one logger of every layer: structured (an event name and fields, never prose to
 * parse), with levels. Nothing logs on its own: each part takes a Logger from whoever
 * builds it and defaults to silence, because a library that prints on its own cannot be
 * silenced by the process that embeds it. The entry points make the real one (JsonLogger,
 * src/node/logger.ts).
 *
 * It lives here because the transport is the lowest layer that logs: the layer table lets
 * node import transport, and the API reaches it through src/node/logger.ts.
 */
export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, unknown>;

export interface Logger {
  log(level: LogLevel, event: string, fields?: LogFields): void;
}

export const silentLogger: Logger = { log() {} };

/** `logger` with `extra` added to every event's fields (after the event's own, as before the loggers were one). */
export function withFields(logger: Logger, extra: LogFields): Logger {
  return { log: (level, event, fields = {}) => logger.log(level, event, { ...fields, ...extra }) };
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
