/**
 * Expected conditions (not leader, limits reached) come back as a RaftError value;
 * the caller decides. Broken invariants throw RaftInvariantError at once.
 */
export type RaftErrorCode =
  | "not_leader" // this node cannot serve the request; status().leader says who may
  | "no_leader" // no leader is known to forward to
  | "transfer_in_progress" // the leader is handing over; retry on the new leader
  | "uncommitted_limit" // the leader holds too many uncommitted bytes; back off
  | "conf_change_pending" // a membership change is not yet applied
  | "invalid_conf_change" // the change makes no sense for the current configuration
  | "learner_not_caught_up"; // promote a learner only once it holds the committed log

export class RaftError extends Error {
  override readonly name = "RaftError";
  constructor(
    readonly code: RaftErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export class RaftInvariantError extends Error {
  override readonly name = "RaftInvariantError";
}

/** Production assertion: a false condition means the core itself is broken. */
export function invariant(condition: boolean, message: string | (() => string)): asserts condition {
  if (!condition) {
    throw new RaftInvariantError(typeof message === "string" ? message : message());
  }
}
