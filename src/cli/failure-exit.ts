// What a failure means for the exit code (exit-codes.ts), by the error's class: every
// command reports the same kind of failure with the same number. Errors not known here
// are bugs; the caller prints their stack and exits 1.
import { ConcordError } from "../client/concord-error.ts";
import { StorageError } from "../storage/storage-error.ts";
import { SecretFileError } from "../transport/nats-identity.ts";
import { NatsAuthError } from "../transport/nats-transport.ts";
import { EXIT, type ExitCode } from "./exit-codes.ts";
import { NatsServerMissingError } from "./nats-server-process.ts";
import { UsageError } from "./node-options.ts";
import { TlsBundleError } from "./tls-bundle.ts";

export interface Failure {
  readonly exit: ExitCode;
  /** Stable: an API or client error code, or one of this CLI's (usage, nats_server_missing, …). */
  readonly code: string;
  readonly message: string;
}

/** Codes the CLI gives client-side failures that mean "no credentials". */
const AUTH_CODES: ReadonlySet<string> = new Set(["not_signed_in", "admin_token_missing"]);

/** The exit code of a client error: the server's code decides, the HTTP status only as a class. */
export function exitCodeOfClientError(error: ConcordError): ExitCode {
  if (error.code === "invalid_argument") return EXIT.usage;
  if (error.code === "interrupted") return EXIT.interrupted;
  if (error.authentication || AUTH_CODES.has(error.code)) return EXIT.auth;
  if (error.transient) return EXIT.unavailable;
  return EXIT.failed;
}

/** A failure to report (exit code, code, message), or null for an error nobody expected. */
export function classifyFailure(error: unknown): Failure | null {
  if (error instanceof UsageError) return { exit: EXIT.usage, code: "usage", message: error.message };
  if (error instanceof NatsServerMissingError) return { exit: EXIT.missingDependency, code: "nats_server_missing", message: error.message };
  if (error instanceof SecretFileError || error instanceof NatsAuthError || error instanceof StorageError || error instanceof TlsBundleError) {
    return { exit: EXIT.refused, code: error.code, message: error.message };
  }
  if (error instanceof ConcordError) return { exit: exitCodeOfClientError(error), code: error.code, message: error.message };
  return null;
}
