// Compact one-line renderings of core data for the trace. Kept terse because a
// violation report shows ~60 of these lines and they must fit on a screen.

import type { Entry, HardState, Message, Ready } from "../../src/raft/types.ts";
import { decodePayload } from "./payload.ts";

export function describeMessage(m: Message): string {
  let s = `${m.type} ${m.from}->${m.to} t${m.term}`;
  switch (m.type) {
    case "app":
      s += ` prev=${m.index}/${m.logTerm} ${describeEntries(m.entries)} c${m.commit}`;
      break;
    case "appResp":
      s += m.reject ? ` REJECT ${m.index} hint=${m.rejectHint}/${m.logTerm}` : ` match=${m.index}`;
      break;
    case "vote":
    case "preVote":
      s += ` last=${m.index}/${m.logTerm}${m.context === 1 ? " transfer" : ""}`;
      break;
    case "voteResp":
    case "preVoteResp":
      s += m.reject ? " REJECT" : " GRANT";
      break;
    case "heartbeat":
      s += ` c${m.commit} ctx=${m.context}`;
      break;
    case "heartbeatResp":
      s += ` ctx=${m.context}`;
      break;
    case "snap":
      s += m.snapshot ? ` snap=${m.snapshot.index}/${m.snapshot.term}` : " snap=?";
      break;
    case "readIndex":
    case "readIndexResp":
      s += ` ctx=${m.context} idx=${m.index}`;
      break;
    case "timeoutNow":
      break;
  }
  return s;
}

export function describeEntries(entries: readonly Entry[]): string {
  const first = entries[0];
  if (first === undefined) return "[]";
  const last = entries[entries.length - 1] as Entry;
  if (entries.length <= 3) return `[${entries.map(describeEntry).join(" ")}]`;
  return `[${describeEntry(first)} .. ${describeEntry(last)}](${entries.length})`;
}

function describeEntry(e: Entry): string {
  if (e.kind === "conf") return `${e.index}/${e.term}:conf`;
  return e.data.length === 0 ? `${e.index}/${e.term}:noop` : `${e.index}/${e.term}:${decodePayload(e.data)}`;
}

export function describeHardState(hs: HardState): string {
  return `t${hs.term}/v${hs.vote}/c${hs.commit}`;
}

export function describeReady(rd: Ready): string {
  const parts: string[] = ["ready"];
  if (rd.softState) parts.push(`${rd.softState.role}(leader ${rd.softState.leader})`);
  if (rd.hardState) parts.push(`hs=${describeHardState(rd.hardState)}`);
  if (rd.snapshot) parts.push(`snap=${rd.snapshot.index}/${rd.snapshot.term}`);
  if (rd.entries.length > 0) parts.push(`ents=${describeEntries(rd.entries)}`);
  if (rd.messages.length > 0) parts.push(`msgs=${rd.messages.length}`);
  if (rd.messagesAfterPersist.length > 0) parts.push(`after=${rd.messagesAfterPersist.length}`);
  if (rd.committedEntries.length > 0) parts.push(`apply=${describeEntries(rd.committedEntries)}`);
  if (rd.readStates.length > 0) parts.push(`reads=${rd.readStates.map((r) => `${r.context}@${r.index}`).join(",")}`);
  return parts.join(" ");
}
