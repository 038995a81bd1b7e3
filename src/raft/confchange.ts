import { RaftInvariantError } from "./errors.ts";
import type { ConfChange, ConfChangeType, ConfState, NodeId } from "./types.ts";

// Wire form of a "conf" entry's data. Version byte first so the format can grow.
//   [1, op, nodeId u32]                          a single change
//   [1, OP_SET, nVoters u16, ids…, nLearners u16, ids…]  the whole configuration (bootstrap)
const VERSION = 1;
const OP_CODES: Record<ConfChangeType, number> = { addVoter: 1, addLearner: 2, removeNode: 3 };
const OP_SET = 9;

export type DecodedConfEntry = { kind: "change"; change: ConfChange } | { kind: "set"; conf: ConfState };

export function encodeConfChange(change: ConfChange): Uint8Array {
  const bytes = new Uint8Array(6);
  const view = new DataView(bytes.buffer);
  bytes[0] = VERSION;
  bytes[1] = OP_CODES[change.type];
  view.setUint32(2, change.nodeId);
  return bytes;
}

export function encodeConfSet(conf: ConfState): Uint8Array {
  const bytes = new Uint8Array(2 + 2 + 4 * conf.voters.length + 2 + 4 * conf.learners.length);
  const view = new DataView(bytes.buffer);
  bytes[0] = VERSION;
  bytes[1] = OP_SET;
  let at = 2;
  for (const ids of [conf.voters, conf.learners]) {
    view.setUint16(at, ids.length);
    at += 2;
    for (const id of ids) {
      view.setUint32(at, id);
      at += 4;
    }
  }
  return bytes;
}

export function decodeConfEntry(data: Uint8Array): DecodedConfEntry {
  if (data.length < 2 || data[0] !== VERSION) {
    throw new RaftInvariantError(`conf entry has unknown format (version ${data[0]})`);
  }
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const op = data[1];
  if (op === OP_SET) {
    let at = 2;
    const lists: NodeId[][] = [];
    for (let list = 0; list < 2; list++) {
      const count = view.getUint16(at);
      at += 2;
      const ids: NodeId[] = [];
      for (let i = 0; i < count; i++, at += 4) ids.push(view.getUint32(at));
      lists.push(ids);
    }
    return { kind: "set", conf: { voters: lists[0] ?? [], learners: lists[1] ?? [] } };
  }
  const type = (Object.keys(OP_CODES) as ConfChangeType[]).find((t) => OP_CODES[t] === op);
  if (type === undefined || data.length !== 6) {
    throw new RaftInvariantError(`conf entry has unknown op ${op}`);
  }
  return { kind: "change", change: { type, nodeId: view.getUint32(2) } };
}

/** The configuration after a conf entry: a set replaces it, a change adds or removes one node. */
export function confAfter(conf: ConfState, data: Uint8Array): ConfState {
  const decoded = decodeConfEntry(data);
  if (decoded.kind === "set") return decoded.conf;
  const voters = new Set(conf.voters);
  const learners = new Set(conf.learners);
  const { type, nodeId } = decoded.change;
  if (type === "addVoter") {
    learners.delete(nodeId);
    voters.add(nodeId);
  } else if (type === "addLearner") {
    if (!voters.has(nodeId)) learners.add(nodeId);
  } else {
    voters.delete(nodeId);
    learners.delete(nodeId);
  }
  return { voters: [...voters], learners: [...learners] };
}
