import type { ClusterView, ProcessState } from "../cluster/local-cluster.ts";

/** One row of the live table. */
export interface NodeRow {
  readonly id: number;
  readonly state: ProcessState | "unreachable";
  readonly view: ClusterView | null;
  /** Links cut at this node, e.g. "x2,3" (dropped to and from). */
  readonly cuts: string;
}

export interface StatusSource {
  rows(): Promise<NodeRow[]>;
}

/** Where the harness writes; a terminal gets a table redrawn in place. */
export interface Output {
  readonly isTTY: boolean;
  write(text: string): void;
}

const REFRESH_MS = 300;
const HEADER = ["node", "state", "role", "term", "leader", "commit", "applied", "snapshot", "links"];

export function formatTable(rows: readonly NodeRow[]): string[] {
  const cells = rows.map((r) => [
    String(r.id),
    r.state === "remote" ? (r.view === null ? "unreachable" : "up (remote)") : r.state,
    r.view?.role ?? "-",
    r.view === null ? "-" : String(r.view.term),
    r.view === null ? "-" : r.view.leader === null || r.view.leader === 0 ? "none" : String(r.view.leader),
    r.view === null ? "-" : String(r.view.commitIndex),
    r.view === null ? "-" : String(r.view.appliedIndex),
    r.view === null ? "-" : String(r.view.snapshotIndex),
    r.cuts === "" ? "ok" : r.cuts,
  ]);
  const widths = HEADER.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: readonly string[]) => c.map((text, i) => text.padEnd(widths[i]!)).join("  ").trimEnd();
  return [line(HEADER), ...cells.map(line)];
}

/** What changed for one node, as a plain line (non-terminal output), or null. */
function describeChange(before: NodeRow | undefined, after: NodeRow): string | null {
  const summary = (r: NodeRow) => `${r.state} ${r.view?.role ?? ""} term ${r.view?.term ?? "-"} leader ${r.view?.leader ?? "-"}`;
  if (before !== undefined && summary(before) === summary(after)) return null;
  const v = after.view;
  if (v === null) return `node ${after.id}: ${after.state === "remote" ? "unreachable" : after.state}`;
  return `node ${after.id}: ${after.state} ${v.role}, term ${v.term}, leader ${v.leader ?? "none"}, commit ${v.commitIndex}, applied ${v.appliedIndex}`;
}

/**
 * The live status table. On a terminal it stays at the bottom and redraws in place while
 * steps run; elsewhere (CI logs, pipes) it prints a plain line whenever a node's state,
 * role, term or leader changes. Narration goes through `print` so the two never mix.
 */
export class StatusBoard {
  private drawnLines = 0;
  private timer: ReturnType<typeof setInterval> | null = null;
  private last = new Map<number, NodeRow>();
  private refreshing = false;

  constructor(
    private readonly out: Output,
    private source: StatusSource | null = null,
  ) {}

  attach(source: StatusSource | null): void {
    this.source = source;
    this.last.clear();
  }

  /** Start redrawing (terminal) or watching for changes (plain). */
  start(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => void this.refresh(), REFRESH_MS);
  }

  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    while (this.refreshing) await new Promise((resolve) => setTimeout(resolve, 10));
    this.erase();
  }

  /** A narration or result line, printed above the table. */
  print(text: string): void {
    this.erase();
    this.out.write(`${text}\n`);
    if (this.out.isTTY) this.draw([...this.last.values()]);
  }

  /** The whole table now, as plain lines (the `status` step). */
  async printTable(): Promise<void> {
    if (this.source === null) return this.print("no cluster");
    const rows = await this.source.rows();
    this.remember(rows);
    this.erase();
    for (const line of formatTable(rows)) this.out.write(`${line}\n`);
    if (this.out.isTTY) this.draw(rows);
  }

  async refresh(): Promise<void> {
    if (this.source === null || this.refreshing) return;
    this.refreshing = true;
    try {
      const rows = await this.source.rows();
      if (this.out.isTTY) {
        this.remember(rows);
        this.erase();
        this.draw(rows);
      } else {
        for (const row of rows) {
          const change = describeChange(this.last.get(row.id), row);
          if (change !== null) this.out.write(`  · ${change}\n`);
        }
        this.remember(rows);
      }
    } finally {
      this.refreshing = false;
    }
  }

  private remember(rows: readonly NodeRow[]): void {
    this.last = new Map(rows.map((r) => [r.id, r]));
  }

  private draw(rows: readonly NodeRow[]): void {
    if (rows.length === 0) return;
    const lines = formatTable(rows);
    this.out.write(`\x1b[2m${lines.join("\n")}\x1b[0m\n`);
    this.drawnLines = lines.length;
  }

  private erase(): void {
    if (!this.out.isTTY || this.drawnLines === 0) return;
    // Up to the table's first line, then clear to the end of the screen.
    this.out.write(`\x1b[${this.drawnLines}F\x1b[0J`);
    this.drawnLines = 0;
  }
}
