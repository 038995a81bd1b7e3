// The replicated application: an append-only list of client payloads plus a running
// digest. The digest after index i must be identical on every node that reaches i,
// whether it got there by applying entries or by restoring a snapshot — that is the
// state-machine-safety check in its strongest form.

import type { Entry } from "../../src/raft/types.ts";
import { decodePayload, isClientWrite } from "./payload.ts";

interface SnapshotContent {
  appliedIndex: number;
  appliedTerm: number;
  payloads: string[];
}

export class ListStateMachine {
  appliedIndex = 0;
  /** Term of the entry at appliedIndex, needed for the snapshot meta. */
  appliedTerm = 0;
  digest = 0;
  private readonly payloads: string[] = [];
  private readonly present = new Set<string>();

  /** The caller guarantees entry.index === appliedIndex + 1. */
  apply(entry: Entry): void {
    this.appliedIndex = entry.index;
    this.appliedTerm = entry.term;
    if (!isClientWrite(entry)) return;
    const payload = decodePayload(entry.data);
    this.payloads.push(payload);
    this.present.add(payload);
    this.digest = mixDigest(this.digest, payload);
  }

  has(payload: string): boolean {
    return this.present.has(payload);
  }

  toBytes(): Uint8Array {
    const content: SnapshotContent = {
      appliedIndex: this.appliedIndex,
      appliedTerm: this.appliedTerm,
      payloads: this.payloads,
    };
    return new TextEncoder().encode(JSON.stringify(content));
  }

  static fromBytes(bytes: Uint8Array): ListStateMachine {
    const content = JSON.parse(new TextDecoder().decode(bytes)) as SnapshotContent;
    const sm = new ListStateMachine();
    sm.appliedIndex = content.appliedIndex;
    sm.appliedTerm = content.appliedTerm;
    for (const p of content.payloads) {
      sm.payloads.push(p);
      sm.present.add(p);
      sm.digest = mixDigest(sm.digest, p);
    }
    // The digest is recomputed rather than stored, so a snapshot with a wrong list
    // shows up as a digest mismatch against the nodes that applied entries one by one.
    return sm;
  }
}

/** FNV-1a over the payload, chained onto the previous digest. Order-sensitive on purpose. */
function mixDigest(digest: number, payload: string): number {
  let h = (digest ^ 0x811c9dc5) >>> 0;
  for (let i = 0; i < payload.length; i++) {
    h ^= payload.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  h ^= 0xff; // terminator, so ["ab","c"] and ["a","bc"] differ
  return Math.imul(h, 0x01000193) >>> 0;
}
