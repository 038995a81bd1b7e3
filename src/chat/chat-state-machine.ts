import type { Transaction } from "@libsql/client";
import { createAccount, deleteAccount } from "./account-commands.ts";
import { refusal, type ApplyContext, type EventBody } from "./apply-context.ts";
import { readProposal } from "./command-codec.ts";
import { commandProblem } from "./command-validation.ts";
import type { ApplyResult, ChatCommand, ChatEvent } from "./commands.ts";
import { deleteMessages } from "./delete-messages.ts";
import { pruneEvents, writeEvents } from "./event-log.ts";
import { firstResult, pruneIdempotency, rememberResult } from "./idempotency-store.ts";
import { markRead } from "./mark-read.ts";
import { PendingEvents } from "./pending-events.ts";
import { sendMessage } from "./send-message.ts";
import { createSession, revokeSessions } from "./session-commands.ts";

/** The chat tables, in the order snapshots copy them. */
export const CHAT_TABLES = ["accounts", "sessions", "messages", "idempotency", "events"] as const;

/**
 * The replicated chat state machine, plugged into LibsqlStateMachine. Applying is a pure
 * function of the log: what an entry does depends only on the tables and the entry (its
 * index, the leader's time in it, its command), never on this node's clock or history,
 * so every node that applies the same entries holds the same tables.
 */
export class ChatStateMachine {
  readonly tables: string[] = [...CHAT_TABLES];
  private readonly pending = new PendingEvents();

  /** Events of the entries applied since the last drain; the node publishes them once their transaction committed. */
  drainEvents(): ChatEvent[] {
    return this.pending.drain();
  }

  /**
   * Apply one entry's bytes inside the apply transaction; fits the node's ApplyCommand
   * (declared here, not imported: chat sits below node and must not depend on it).
   * Never throws for bad bytes; throws only when the database fails.
   */
  readonly applyCommand = async (tx: Transaction, index: number, data: Uint8Array): Promise<ApplyResult> => {
    this.pending.dropFrom(index);
    // Retention runs for every entry, whatever it holds, so it depends only on the index.
    await pruneEvents(tx, index);
    await pruneIdempotency(tx, index);
    const proposal = readProposal(data);
    if (!proposal.ok) return refusal("invalid_command", proposal.reason);
    const { command, leaderTimeMs } = proposal.value;
    const problem = commandProblem(command);
    if (problem !== null) return refusal("invalid_command", problem);

    const key = command.idempotency;
    if (key !== undefined) {
      const first = await firstResult(tx, key);
      if (first !== null) return first;
    }
    const emitted: EventBody[] = [];
    const context: ApplyContext = { tx, index, time: new Date(leaderTimeMs).toISOString(), emit: (event) => emitted.push(event) };
    const result = await run(context, command);
    this.pending.add(await writeEvents(tx, index, emitted));
    if (key !== undefined) await rememberResult(tx, key, index, result);
    return result;
  };
}

function run(context: ApplyContext, command: ChatCommand): Promise<ApplyResult> {
  switch (command.type) {
    case "createAccount":
      return createAccount(context, command);
    case "deleteAccount":
      return deleteAccount(context, command);
    case "createSession":
      return createSession(context, command);
    case "revokeSessions":
      return revokeSessions(context, command);
    case "sendMessage":
      return sendMessage(context, command);
    case "markRead":
      return markRead(context, command);
    case "deleteMessages":
      return deleteMessages(context, command);
  }
}
