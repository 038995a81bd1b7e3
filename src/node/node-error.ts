export type NodeErrorCode =
  | "unavailable" // no leader or no quorum within the deadline: retry later, perhaps elsewhere
  | "dropped" // the entry was overwritten by a new leader: it did not and will not commit
  | "overloaded" // too many requests in flight; back off
  | "not_leader" // (forwarded requests) the target is not the leader any more
  | "stopped" // this node is shutting down
  | "invalid"; // the request makes no sense here (e.g. a bad membership change)

/** Why a node could not do what was asked; `code` is stable. */
export class NodeError extends Error {
  override readonly name = "NodeError";
  constructor(
    readonly code: NodeErrorCode,
    message: string,
  ) {
    super(message);
  }
}
