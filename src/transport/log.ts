/**
 * Optional structured logging for transports. They log nothing unless given one:
 * a library that prints on its own cannot be silenced by the process that embeds it.
 */
export type TransportLog = (event: string, fields: Record<string, unknown>) => void;

export const silent: TransportLog = () => {};

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
