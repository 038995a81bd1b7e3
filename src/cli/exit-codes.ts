// One table of exit codes for every `concord` command, so a script or a supervisor can act
// on the number alone (restart? page someone? fix the command line?) whichever command it
// ran. The message on stderr adds the stable error code (`(secret_exposed)`, `(forbidden)`).
// Pure data: the harness and the benchmark import it as well as src/cli.

export const EXIT = {
  /** Done. */
  ok: 0,
  /** Failed: the cluster refused the request (not_found, invalid_request, …) or something unexpected broke. */
  failed: 1,
  /** A wrong command, option or argument; nothing was done. */
  usage: 2,
  /** Refused to start or to use a secret: a data directory, secret file, identity or certificate that must not be used. */
  refused: 3,
  /** Something this machine lacks (nats-server). */
  missingDependency: 4,
  /** Not logged in, wrong password, a missing or wrong admin token. */
  auth: 5,
  /** No node answered, or none could serve the request (no leader, no quorum) before the deadline. */
  unavailable: 6,
  /** The harness or the demo ran, and a checker found a violation or an expectation did not hold. */
  checkFailed: 7,
  /** Ctrl+C (128 + SIGINT, as shells report it). */
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** The table as `concord --help` and the README show it. */
export const EXIT_CODES_HELP = `exit codes (every command):
  0    ok
  1    failed: the cluster refused the request, or something unexpected broke
       (the message ends with the error's code)
  2    usage: a wrong command, option or argument; nothing was done
  3    refused: a data directory, secret file, identity or certificate that must
       not be used (secret_exposed, wrong_node, newer_schema, tls_bundle_*, …)
  4    missing dependency: nats-server is not installed (concord setup)
  5    not authorized: not logged in, wrong password, no or wrong admin token
  6    unavailable: no node answered, or none could serve it (no leader, no quorum)
  7    check failed: the harness or demo found a violation or an unmet expectation
  130  interrupted (Ctrl+C)
`;
