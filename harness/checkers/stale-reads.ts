/**
 * No stale reads: a read invoked after a send was acknowledged, whose scope covers that
 * send's conversation, returns the message.
 */
import { excerptOf, failure, isOkRead, isOkSend, passed, readCovers, type CheckResult, type Operation } from "./history.ts";

export function checkStaleReads(history: readonly Operation[]): CheckResult {
  const sends = history.filter(isOkSend).sort((a, b) => a.id - b.id);
  const reads = history.filter(isOkRead).sort((a, b) => a.invokedAtMs - b.invokedAtMs || a.id - b.id);
  const idsByRead = new Map(reads.map((r) => [r, new Set(r.output.messages.map((m) => m.id))]));
  for (const send of sends) {
    const { from, to } = send.input;
    for (const read of reads) {
      if (read.invokedAtMs <= send.completedAtMs || !readCovers(read.input, from, to)) continue;
      if (!idsByRead.get(read)?.has(send.output.messageId)) {
        return failure(
          "stale-reads.missing-acknowledged",
          excerptOf(send, read),
          `read ${read.id} started at ${read.invokedAtMs} ms, after send ${send.id} was acknowledged at ${send.completedAtMs} ms, but does not show message ${send.output.messageId}`,
        );
      }
    }
  }
  return passed;
}
