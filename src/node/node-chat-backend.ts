import type { ChatBackend } from "./chat-backend.ts";
import type { ChatQueries } from "../chat/chat-queries.ts";
import { encodeCommand } from "../chat/command-codec.ts";
import type { ApplyResult, ChatCommand, ChatEvent } from "../chat/commands.ts";
import type { Client } from "@libsql/client";
import { readAppliedState } from "./libsql-state-machine.ts";
import type { NodeMetrics } from "./node-metrics.ts";
import type { NodeStatus, RaftNode } from "./raft-node.ts";

/** The node as the HTTP layer sees it: chat commands through raft, queries on the local copy. */
export class NodeChatBackend implements ChatBackend {
  private readonly eventListeners = new Set<(event: ChatEvent) => void>();

  constructor(
    readonly cluster: string,
    private readonly raft: RaftNode,
    /** A read connection (the writer belongs to the driver loop). */
    private readonly reader: Client,
    readonly queries: ChatQueries,
  ) {}

  /** The node calls this with the events of each applied batch, after it committed. */
  publish(events: readonly ChatEvent[]): void {
    for (const event of events) for (const listener of this.eventListeners) listener(event);
  }

  async execute(command: ChatCommand, timeoutMs: number): Promise<ApplyResult> {
    return (await this.raft.propose(encodeCommand(command), timeoutMs)).result as ApplyResult;
  }

  applyHeld(timeoutMs: number): Promise<void> {
    return this.raft.applyHeld(timeoutMs);
  }

  async readBarrier(timeoutMs: number): Promise<void> {
    await this.raft.readBarrier(timeoutMs);
  }

  onEvent(listener: (event: ChatEvent) => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  onStatusChange(listener: () => void): () => void {
    return this.raft.onProgress(listener);
  }

  status(): NodeStatus {
    return this.raft.status();
  }

  appliedState(): Promise<{ index: number; digest: string }> {
    return readAppliedState(this.reader);
  }

  addMember(id: number, voter: boolean, timeoutMs: number): Promise<void> {
    return this.raft.addMember(id, voter, timeoutMs);
  }

  removeMember(id: number, timeoutMs: number): Promise<void> {
    return this.raft.changeMembership({ type: "removeNode", nodeId: id }, timeoutMs);
  }

  transferLeadership(to: number, timeoutMs: number): Promise<void> {
    return this.raft.transferLeadership(to, timeoutMs);
  }

  nodeMetrics(): NodeMetrics {
    return this.raft.metrics();
  }
}
