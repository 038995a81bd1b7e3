import { describe, expect, test } from "bun:test";
import { ConcordError } from "../client/concord-error.ts";
import { StorageError } from "../storage/storage-error.ts";
import { SecretFileError } from "../transport/nats-identity.ts";
import { NatsAuthError } from "../transport/nats-transport.ts";
import { EXIT, EXIT_CODES_HELP } from "./exit-codes.ts";
import { classifyFailure } from "./failure-exit.ts";
import { NatsServerMissingError } from "./nats-server-process.ts";
import { UsageError } from "./node-options.ts";
import { TlsBundleError } from "./tls-bundle.ts";

describe("exit codes", () => {
  test("the help text lists every code once, in order", () => {
    const listed = EXIT_CODES_HELP.split("\n").flatMap((line) => /^ {2}(\d+) /.exec(line)?.[1] ?? []).map(Number);
    expect(listed).toEqual(Object.values(EXIT));
    expect(new Set(listed).size).toBe(listed.length);
  });

  test("each kind of failure has one number, whichever command hit it", () => {
    const cases: [unknown, number, string][] = [
      [new UsageError("--nodes must be …"), EXIT.usage, "usage"],
      [new SecretFileError("secret_exposed", "mode 644"), EXIT.refused, "secret_exposed"],
      [new StorageError("newer_schema", "a newer version's data"), EXIT.refused, "newer_schema"],
      [new NatsAuthError("refused"), EXIT.refused, "nats_auth_refused"],
      [new TlsBundleError("tls_bundle_mismatch", "wrong machine"), EXIT.refused, "tls_bundle_mismatch"],
      [new NatsServerMissingError("no nats-server"), EXIT.missingDependency, "nats_server_missing"],
      [new ConcordError("not_signed_in", "log in"), EXIT.auth, "not_signed_in"],
      [new ConcordError("admin_token_missing", "no token"), EXIT.auth, "admin_token_missing"],
      [new ConcordError("forbidden", "admin routes need …", 403), EXIT.auth, "forbidden"],
      [new ConcordError("bad_credentials", "wrong password", 401), EXIT.auth, "bad_credentials"],
      [new ConcordError("network", "connection refused"), EXIT.unavailable, "network"],
      [new ConcordError("timeout", "no answer"), EXIT.unavailable, "timeout"],
      [new ConcordError("unavailable", "no leader", 503), EXIT.unavailable, "unavailable"],
      [new ConcordError("invalid_argument", "bad id"), EXIT.usage, "invalid_argument"],
      [new ConcordError("invalid_request", "not a member", 400), EXIT.failed, "invalid_request"],
      [new ConcordError("interrupted", "interrupted"), EXIT.interrupted, "interrupted"],
    ];
    for (const [error, exit, code] of cases) {
      const failure = classifyFailure(error);
      expect([failure?.exit as number | undefined, failure?.code]).toEqual([exit, code]);
    }
  });

  test("an error nobody expected is not classified: the caller prints its stack and exits 1", () => {
    expect(classifyFailure(new TypeError("x is undefined"))).toBeNull();
    expect(classifyFailure("a string")).toBeNull();
  });
});
