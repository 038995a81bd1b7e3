/** Cumulative latency buckets in the Prometheus style (upper bounds in seconds). */
const BOUNDS_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export class LatencyHistogram {
  private readonly counts = new Array<number>(BOUNDS_SECONDS.length + 1).fill(0);
  private sumSeconds = 0;
  private total = 0;

  observeMs(latencyMs: number): void {
    const seconds = latencyMs / 1000;
    let i = 0;
    while (i < BOUNDS_SECONDS.length && seconds > BOUNDS_SECONDS[i]!) i++;
    this.counts[i]!++;
    this.sumSeconds += seconds;
    this.total++;
  }

  /** Prometheus text exposition lines for this histogram. */
  render(name: string, help: string): string {
    const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} histogram`];
    let cumulative = 0;
    for (let i = 0; i < BOUNDS_SECONDS.length; i++) {
      cumulative += this.counts[i]!;
      lines.push(`${name}_bucket{le="${BOUNDS_SECONDS[i]}"} ${cumulative}`);
    }
    lines.push(`${name}_bucket{le="+Inf"} ${this.total}`, `${name}_sum ${this.sumSeconds}`, `${name}_count ${this.total}`);
    return lines.join("\n");
  }
}
