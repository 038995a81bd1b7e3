/**
 * No acknowledged write is lost, none is duplicated.
 *
 * Every acknowledged send must appear exactly once, with its content, in the final read
 * that covers it (the ok read of its recipient's inbox or of its conversation invoked
 * last). Retries of one logical send (same sender and idempotency key) must all have been
 * answered with the same message id. And no read may hold more copies of a message
 * (sender, recipient, content) than there were logical sends of it that could have taken
 * effect.
 */
import {
  excerptOf,
  failure,
  isOkRead,
  passed,
  possibleDeletions,
  readCovers,
  type CheckResult,
  type OkRead,
  type OkSend,
  type Operation,
  type SendOperation,
} from "./history.ts";

const SEP = "\u0000";

export function checkLostWrites(history: readonly Operation[]): CheckResult {
  const reads = history.filter(isOkRead).sort((a, b) => a.id - b.id);
  const deletedSince = possibleDeletions(history);
  const groups = new Map<string, SendOperation[]>();
  for (const op of history) {
    if (op.kind !== "send" || op.outcome === "fail") continue;
    const key = op.input.from + SEP + op.input.idempotencyKey;
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [op]);
    else group.push(op);
  }

  for (const group of [...groups.values()].sort((a, b) => firstId(a) - firstId(b))) {
    const acked = group.filter((op): op is OkSend => op.outcome === "ok" && op.output !== null && op.completedAtMs !== null);
    const first = acked[0];
    if (first === undefined) continue;
    const other = acked.find((op) => op.output.messageId !== first.output.messageId);
    if (other !== undefined) {
      return failure(
        "lost-writes.duplicate",
        excerptOf(first, other),
        `retries of one send (key ${first.input.idempotencyKey}) created two messages, ${first.output.messageId} and ${other.output.messageId}`,
      );
    }
    const { from, to, content } = first.input;
    const id = first.output.messageId;
    const finalRead = lastCoveringRead(reads, from, to);
    if (finalRead === undefined || finalRead.invokedAtMs < first.completedAtMs) {
      return failure("lost-writes.unverifiable", [first], `no read of ${to}'s messages started after send ${first.id} was acknowledged`);
    }
    const copies = finalRead.output.messages.filter((m) => m.id === id);
    const copy = copies[0];
    if (copy === undefined && (deletedSince.get(id) ?? Infinity) <= finalRead.completedAtMs) continue;
    if (copy === undefined) {
      return failure("lost-writes.lost", excerptOf(first, finalRead), `message ${id} (send ${first.id}) is missing from the final read ${finalRead.id}`);
    }
    if (copies.length > 1) {
      return failure("lost-writes.duplicate", excerptOf(first, finalRead), `message ${id} appears ${copies.length} times in read ${finalRead.id}`);
    }
    if (copy.from !== from || copy.to !== to || copy.content !== content) {
      return failure("lost-writes.corrupted", excerptOf(first, finalRead), `message ${id} in read ${finalRead.id} differs from what send ${first.id} sent`);
    }
  }

  // No read holds more copies of a (from, to, content) than logical sends of it.
  const sendsByTriple = new Map<string, SendOperation[][]>();
  for (const group of groups.values()) {
    const op = group[0];
    if (op === undefined) continue;
    const triple = op.input.from + SEP + op.input.to + SEP + op.input.content;
    const list = sendsByTriple.get(triple);
    if (list === undefined) sendsByTriple.set(triple, [group]);
    else list.push(group);
  }
  for (const read of reads) {
    const counts = new Map<string, number>();
    for (const m of read.output.messages) {
      const triple = m.from + SEP + m.to + SEP + m.content;
      counts.set(triple, (counts.get(triple) ?? 0) + 1);
    }
    for (const [triple, count] of counts) {
      const possible = (sendsByTriple.get(triple) ?? [])
        .map((group) => group.filter((op) => op.invokedAtMs <= read.completedAtMs))
        .filter((group) => group.length > 0);
      if (count > possible.length) {
        const [from = "", to = ""] = triple.split(SEP);
        return failure(
          "lost-writes.duplicate",
          excerptOf(read, ...possible.flat()),
          `read ${read.id} holds ${count} copies of a message from ${from} to ${to} but only ${possible.length} logical send(s) of it could have taken effect`,
        );
      }
    }
  }
  return passed;
}

function firstId(group: readonly SendOperation[]): number {
  return Math.min(...group.map((op) => op.id));
}

function lastCoveringRead(reads: readonly OkRead[], from: string, to: string): OkRead | undefined {
  let best: OkRead | undefined;
  for (const read of reads) {
    if (!readCovers(read.input, from, to)) continue;
    if (best === undefined || read.invokedAtMs > best.invokedAtMs || (read.invokedAtMs === best.invokedAtMs && read.id > best.id)) best = read;
  }
  return best;
}
