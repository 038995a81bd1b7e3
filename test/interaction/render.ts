// Deterministic one-line renderings of the core's data for the interaction scripts.

import { decodeConfEntry } from "../../src/raft/confchange.ts";
import type {
  ConfChange,
  ConfState,
  Entry,
  HardState,
  Message,
  MessageType,
  ProgressStatus,
  ReadState,
  Ready,
  SnapshotMeta,
  SoftState,
  Status,
} from "../../src/raft/types.ts";

const decoder = new TextDecoder();

export function renderIds(ids: readonly number[]): string {
  return [...ids].sort((a, b) => a - b).join(",");
}

export function renderConfState(conf: ConfState): string {
  const parts = [`voters=${renderIds(conf.voters)}`];
  if (conf.learners.length > 0) parts.push(`learners=${renderIds(conf.learners)}`);
  return parts.join(" ");
}

export function renderConfChange(cc: ConfChange): string {
  switch (cc.type) {
    case "addVoter":
      return `add-voter ${cc.nodeId}`;
    case "addLearner":
      return `add-learner ${cc.nodeId}`;
    case "removeNode":
      return `remove ${cc.nodeId}`;
  }
}

export function renderData(data: Uint8Array): string {
  return JSON.stringify(decoder.decode(data));
}

/** `term/index kind data`, e.g. `2/4 normal "x"` or `3/7 conf add-learner 4`. */
export function renderEntry(e: Entry): string {
  if (e.kind === "conf") {
    let body: string;
    try {
      const decoded = decodeConfEntry(e.data);
      body = decoded.kind === "set" ? `set ${renderConfState(decoded.conf)}` : renderConfChange(decoded.change);
    } catch (err) {
      body = `undecodable ${Buffer.from(e.data).toString("hex")} (${String(err)})`;
    }
    return `${e.term}/${e.index} conf ${body}`;
  }
  return `${e.term}/${e.index} normal ${renderData(e.data)}`;
}

export function renderEntries(entries: readonly Entry[]): string {
  return `[${entries.map(renderEntry).join(", ")}]`;
}

export function renderSnapshotMeta(s: SnapshotMeta): string {
  return `index=${s.index} term=${s.term} ${renderConfState(s.conf)}`;
}

export function renderHardState(h: HardState): string {
  return `term=${h.term} vote=${h.vote} commit=${h.commit}`;
}

export function renderSoftState(s: SoftState): string {
  return `role=${s.role} leader=${s.leader}`;
}

export function renderReadState(r: ReadState): string {
  return `index=${r.index} ctx=${r.context}`;
}

type Field = "term" | "logTerm" | "index" | "commit" | "reject" | "rejectHint" | "context" | "entries" | "snapshot";
const FIELD_ORDER: readonly Field[] = [
  "term",
  "logTerm",
  "index",
  "commit",
  "reject",
  "rejectHint",
  "context",
  "entries",
  "snapshot",
];

/** Fields always shown for a type; every other field is shown only when not at its default. */
const ALWAYS: Record<MessageType, readonly Field[]> = {
  app: ["term", "logTerm", "index", "commit", "entries"],
  appResp: ["term", "index"],
  heartbeat: ["term", "commit"],
  heartbeatResp: ["term"],
  vote: ["term", "logTerm", "index"],
  voteResp: ["term", "reject"],
  preVote: ["term", "logTerm", "index"],
  preVoteResp: ["term", "reject"],
  snap: ["term", "snapshot"],
  timeoutNow: ["term"],
  readIndex: ["term", "context"],
  readIndexResp: ["term", "index", "context"],
};

function isDefault(m: Message, f: Field): boolean {
  switch (f) {
    case "reject":
      return !m.reject;
    case "entries":
      return m.entries.length === 0;
    case "snapshot":
      return m.snapshot === null;
    default:
      return m[f] === 0;
  }
}

function renderField(m: Message, f: Field): string {
  switch (f) {
    case "reject":
      if (m.type === "voteResp" || m.type === "preVoteResp") return m.reject ? "rejected" : "granted";
      return m.reject ? "reject" : "accept";
    case "rejectHint":
      return `hint=${m.rejectHint}`;
    case "context":
      return `ctx=${m.context}`;
    case "entries":
      return `entries=${renderEntries(m.entries)}`;
    case "snapshot":
      return m.snapshot === null ? "snapshot=none" : `snapshot={${renderSnapshotMeta(m.snapshot)}}`;
    default:
      return `${f}=${m[f]}`;
  }
}

/** e.g. `1->2 app term=2 logTerm=1 index=3 commit=3 entries=[2/4 normal "x"]` */
export function renderMessage(m: Message): string {
  const always = ALWAYS[m.type] ?? [];
  const parts = [`${m.from}->${m.to} ${m.type}`];
  for (const f of FIELD_ORDER) {
    if (always.includes(f) || !isDefault(m, f)) parts.push(renderField(m, f));
  }
  return parts.join(" ");
}

/** The Ready as indented lines (empty sections left out). */
export function renderReady(rd: Ready, indent: string): string[] {
  const out: string[] = [];
  const section = (title: string, items: readonly string[]): void => {
    if (items.length === 0) return;
    out.push(`${indent}${title}:`);
    for (const item of items) out.push(`${indent}  ${item}`);
  };
  if (rd.softState !== null) out.push(`${indent}soft: ${renderSoftState(rd.softState)}`);
  if (rd.hardState !== null) out.push(`${indent}hard: ${renderHardState(rd.hardState)}`);
  if (rd.snapshot !== null) out.push(`${indent}snapshot: ${renderSnapshotMeta(rd.snapshot)}`);
  section("entries", rd.entries.map(renderEntry));
  section("messages", rd.messages.map(renderMessage));
  section("after-persist", rd.messagesAfterPersist.map(renderMessage));
  section("committed", rd.committedEntries.map(renderEntry));
  section("read-states", rd.readStates.map(renderReadState));
  if (out.length === 0) out.push(`${indent}(empty)`);
  return out;
}

export function renderStatusLine(s: Status): string {
  const parts = [
    `${s.id}: ${s.role}`,
    `term=${s.term}`,
    `vote=${s.vote}`,
    `leader=${s.leader}`,
    `commit=${s.commit}`,
    `applied=${s.applied}`,
    `last=${s.lastIndex}`,
  ];
  if (s.snapshotIndex !== 0) parts.push(`snap=${s.snapshotIndex}`);
  parts.push(renderConfState(s.conf));
  if (s.transferee !== 0) parts.push(`transferee=${s.transferee}`);
  return parts.join(" ");
}

export function renderProgress(p: ProgressStatus): string {
  return `${p.id}: ${p.voter ? "voter" : "learner"} ${p.state} match=${p.match} next=${p.next} contact=${p.lastContactTicks}`;
}

/** The status line and, on a leader, one indented line per member's progress. */
export function renderStatus(s: Status): string[] {
  const out = [renderStatusLine(s)];
  const progress = [...s.progress].sort((a, b) => a.id - b.id);
  for (const p of progress) out.push(`  ${renderProgress(p)}`);
  return out;
}
