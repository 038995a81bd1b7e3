import type { Message, MessageType, NodeId } from "./types.ts";

/**
 * Every message type, in a fixed order. The wire codec uses positions in this list as
 * type codes, so it is append-only: never reorder or remove.
 */
export const MESSAGE_TYPES: readonly MessageType[] = [
  "app",
  "appResp",
  "heartbeat",
  "heartbeatResp",
  "vote",
  "voteResp",
  "preVote",
  "preVoteResp",
  "snap",
  "timeoutNow",
  "readIndex",
  "readIndexResp",
];

/** A message with every optional field at its neutral value (one shape for every message). */
export function blankMessage(type: MessageType, from: NodeId, to: NodeId, term: number): Message {
  return {
    type,
    from,
    to,
    term,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    context: 0,
    snapshot: null,
  };
}

/**
 * The largest term and index any message, entry or snapshot may carry. Far beyond what
 * a cluster reaches (2^48 is a million elections or entries a second for 8.9 years),
 * and low enough that every term + 1 and index + count the core computes stays a safe
 * integer, which the wire's u53 carries exactly. The codec refuses frames that exceed
 * them and the core drops such messages, so no node ever adopts (and persists) a term it
 * could not send on: a forged heartbeat at term 2^53 − 1 once made every node that
 * stepped it fail in the encoder on term + 1, again after every restart.
 */
export const MAX_TERM = 2 ** 48 - 1;
export const MAX_INDEX = 2 ** 48 - 1;
