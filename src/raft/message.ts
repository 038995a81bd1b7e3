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
