import type { ChatQueries } from "../chat/chat-queries.ts";
import type { ApplyResult, ChatCommand, ChatEvent } from "../chat/commands.ts";
import type { Status } from "../raft/types.ts";
import type { NodeMetrics } from "./node-metrics.ts";

// The node's public interface: what the HTTP layer (src/api) sees of a node. It lives
// with the node so that api depends on node, never the other way (ARCHITECTURE.md,
// "Layers and the dependency rule"); NodeChatBackend implements it, and the API's tests
// fake it (src/api/testing/memory-backend.ts).

/** What the HTTP layer needs from a node: its status and a way to wait for readiness. */
export interface NodeView {
  readonly cluster: string;
  status(): Status & { readonly applyPending: number; readonly tickIntervalMs: number; readonly io: Readonly<Record<string, number>> };
  /** The applied index and the digest chained over everything applied. */
  appliedState(): Promise<{ index: number; digest: string }>;
  /**
   * Resolves once the state machine has applied every committed entry this node had
   * received when called (a follower holds some back to apply them in one batch). Local:
   * no leader is asked, so it says nothing about what other nodes committed.
   */
  applyHeld(timeoutMs: number): Promise<void>;
}

/**
 * Everything the HTTP layer needs from a node. Web-standard code only depends on this,
 * so the API runs unchanged on Bun and Deno.
 *
 * `execute` and `readBarrier` reject with an error whose `code` is one of
 * "unavailable" | "overloaded" | "stopped" | "invalid" (a NodeError); the API maps
 * them to 503 (with Retry-After), 429, 503 and 400.
 */
export interface ChatBackend extends NodeView {
  /** Replicate a command (forwarded to the leader as needed); resolves with its result once applied. */
  execute(command: ChatCommand, timeoutMs: number): Promise<ApplyResult>;
  /** After it resolves, local queries reflect every write acknowledged before the call. */
  readBarrier(timeoutMs: number): Promise<void>;
  readonly queries: ChatQueries;
  /** Live events as they are applied on this node; returns an unsubscribe function. */
  onEvent(listener: (event: ChatEvent) => void): () => void;
  /** Called whenever role, term, leader, commit or applied change (dashboard SSE). */
  onStatusChange(listener: () => void): () => void;
  /** Admin operations (the API checks the admin token first). */
  addMember(id: number, voter: boolean, timeoutMs: number): Promise<void>;
  removeMember(id: number, timeoutMs: number): Promise<void>;
  transferLeadership(to: number, timeoutMs: number): Promise<void>;
  /** The node's raft and I/O figures for /metrics, as numbers (the API renders them beside its own HTTP figures). */
  nodeMetrics(): NodeMetrics;
}
