/**
 * No stale reads: a read invoked after a send was acknowledged, whose scope covers that
 * send's conversation, returns the message (unless a delete of it may have run before
 * the read finished); and a read invoked after a delete was acknowledged does not return
 * the deleted message.
 */
import { excerptOf, failure, isOkRead, isOkSend, passed, possibleDeletions, readCovers, type CheckResult, type Operation } from "./history.ts";

export function checkStaleReads(history: readonly Operation[]): CheckResult {
  const sends = history.filter(isOkSend).sort((a, b) => a.id - b.id);
  const reads = history.filter(isOkRead).sort((a, b) => a.invokedAtMs - b.invokedAtMs || a.id - b.id);
  const idsByRead = new Map(reads.map((r) => [r, new Set(r.output.messages.map((m) => m.id))]));
  const deletedSince = possibleDeletions(history);
  for (const send of sends) {
    const { from, to } = send.input;
    const mayBeGoneAt = deletedSince.get(send.output.messageId) ?? Infinity;
    for (const read of reads) {
      if (read.invokedAtMs <= send.completedAtMs || !readCovers(read.input, from, to)) continue;
      if (mayBeGoneAt <= read.completedAtMs) continue;
      if (!idsByRead.get(read)?.has(send.output.messageId)) {
        return failure(
          "stale-reads.missing-acknowledged",
          excerptOf(send, read),
          `read ${read.id} started at ${read.invokedAtMs} ms, after send ${send.id} was acknowledged at ${send.completedAtMs} ms, but does not show message ${send.output.messageId}`,
        );
      }
    }
  }
  for (const del of history) {
    if (del.kind !== "deleteMessages" || del.outcome !== "ok" || del.output === null || del.completedAtMs === null) continue;
    const gone = new Set(del.output.deleted);
    for (const read of reads) {
      if (read.invokedAtMs <= del.completedAtMs) continue;
      const seen = read.output.messages.find((m) => gone.has(m.id));
      if (seen !== undefined) {
        return failure(
          "stale-reads.deleted-visible",
          excerptOf(del, read),
          `read ${read.id} started at ${read.invokedAtMs} ms, after delete ${del.id} of message ${seen.id} was acknowledged at ${del.completedAtMs} ms, but still shows it`,
        );
      }
    }
  }
  return passed;
}
