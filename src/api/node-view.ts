import type { Status } from "../raft/types.ts";

/** What the HTTP layer needs from a node: its status and a way to wait for readiness. */
export interface NodeView {
  readonly cluster: string;
  status(): Status & { readonly tickIntervalMs: number; readonly io: Readonly<Record<string, number>> };
  /** The applied index and the digest chained over everything applied. */
  appliedState(): Promise<{ index: number; digest: string }>;
}
