// One line per simulated event. A ring buffer keeps the tail that goes into a
// violation report; the full history is kept only when asked for (determinism test,
// `--trace`), because most seeds pass and their lines are never read.

export class Trace {
  /** Grows up to `capacity`, then wraps; never preallocated, so a huge tail is cheap. */
  private readonly ring: string[] = [];
  private written = 0;
  private readonly full: string[] | null;

  constructor(
    private readonly capacity: number,
    keepFull: boolean,
  ) {
    if (capacity < 1) throw new Error("Trace needs room for at least one line");
    this.full = keepFull ? [] : null;
  }

  add(timeMs: number, who: string, text: string): void {
    const line = `${String(timeMs).padStart(7)}ms ${who.padEnd(5)} ${text}`;
    if (this.ring.length < this.capacity) this.ring.push(line);
    else this.ring[this.written % this.capacity] = line;
    this.written++;
    this.full?.push(line);
  }

  get lineCount(): number {
    return this.written;
  }

  /** The last `count` lines (at most the ring's capacity), oldest first. */
  tail(count: number): string[] {
    const n = Math.min(count, this.ring.length);
    const out: string[] = [];
    for (let i = this.written - n; i < this.written; i++) out.push(this.ring[i % this.capacity] as string);
    return out;
  }

  /** Every line, or null when the trace was created without `keepFull`. */
  all(): readonly string[] | null {
    return this.full;
  }
}
