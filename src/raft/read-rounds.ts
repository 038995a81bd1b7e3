/**
 * ReadIndex rounds (§6.4). A read may be answered once a quorum has acknowledged a
 * heartbeat that the leader sent *after* the read arrived. Reads that arrive between
 * two broadcasts share one round, so a burst of reads costs one heartbeat each way.
 *
 * Invariant: sent <= assigned <= sent + 1.
 */
export class ReadRounds {
  private assigned = 0;
  private sent = 0;

  /** The round a new read must wait for: the next one not yet broadcast. */
  roundForNewRead(): number {
    if (this.assigned === this.sent) this.assigned++;
    return this.assigned;
  }

  hasUnsentRound(): boolean {
    return this.assigned > this.sent;
  }

  /** The pending round is being broadcast now; returns it. */
  markSent(): number {
    this.sent = this.assigned;
    return this.sent;
  }

  /** The newest round already broadcast (periodic heartbeats repeat it). */
  sentRound(): number {
    return this.sent;
  }

  /** The newest round handed out; the leader acknowledges it for itself. */
  latestRound(): number {
    return this.assigned;
  }

  reset(): void {
    this.assigned = 0;
    this.sent = 0;
  }
}
