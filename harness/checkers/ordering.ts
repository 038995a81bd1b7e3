/**
 * Messages of one conversation appear in the same order in every read: no two reads show
 * a pair of messages of one conversation in opposite orders.
 */
import { conversationKey, excerptOf, failure, isOkRead, passed, type CheckResult, type OkRead, type Operation } from "./history.ts";

interface Sequence {
  readonly read: OkRead;
  readonly ids: readonly number[];
  readonly position: ReadonlyMap<number, number>;
}

export function checkOrdering(history: readonly Operation[]): CheckResult {
  const reads = history.filter(isOkRead).sort((a, b) => a.id - b.id);
  const byConversation = new Map<string, Sequence[]>();
  for (const read of reads) {
    const ids = new Map<string, number[]>();
    for (const m of read.output.messages) {
      const key = conversationKey(m.from, m.to);
      const list = ids.get(key);
      if (list === undefined) ids.set(key, [m.id]);
      else list.push(m.id);
    }
    for (const [key, list] of ids) {
      const position = new Map<number, number>();
      list.forEach((id, i) => {
        if (!position.has(id)) position.set(id, i);
      });
      const seqs = byConversation.get(key);
      const seq = { read, ids: list, position };
      if (seqs === undefined) byConversation.set(key, [seq]);
      else seqs.push(seq);
    }
  }
  for (const seqs of byConversation.values()) {
    for (let i = 0; i < seqs.length; i++) {
      for (let j = i + 1; j < seqs.length; j++) {
        const a = seqs[i];
        const b = seqs[j];
        if (a === undefined || b === undefined) continue;
        const inversion = findInversion(a, b);
        if (inversion !== null) {
          const [x, y] = inversion;
          return failure(
            "ordering.inconsistent",
            excerptOf(a.read, b.read),
            `read ${a.read.id} shows message ${x} before ${y}, read ${b.read.id} shows ${y} before ${x}`,
          );
        }
      }
    }
  }
  return passed;
}

/** A pair `[x, y]` that `a` orders x before y and `b` orders y before x, or null. */
function findInversion(a: Sequence, b: Sequence): [number, number] | null {
  // The messages both reads show, in a's order, mapped to their positions in b: if that
  // is not increasing, two neighbours are inverted.
  let prevId: number | null = null;
  let prevPos = -1;
  for (let i = 0; i < a.ids.length; i++) {
    const id = a.ids[i];
    // Skip repeated copies (lost-writes reports duplicates); compare first occurrences.
    if (id === undefined || a.position.get(id) !== i) continue;
    const pos = b.position.get(id);
    if (pos === undefined) continue;
    if (prevId !== null && pos < prevPos) return [prevId, id];
    prevId = id;
    prevPos = pos;
  }
  return null;
}
