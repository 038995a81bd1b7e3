import type { SqlConnection } from "../storage/sql-connection.ts";
import { createAccount, deleteAccount } from "./account-commands.ts";
import { KnownAccounts, refusal, type ApplyContext, type EventBody } from "./apply-context.ts";
import { readProposal } from "./command-codec.ts";
import { commandProblem } from "./command-validation.ts";
import type { ApplyResult, ChatCommand, ChatEvent } from "./commands.ts";
import { DeferredRows } from "./deferred-rows.ts";
import { deleteMessages } from "./delete-messages.ts";
import { pruneEvents } from "./event-log.ts";
import { SWEEP_EVERY_INDEXES } from "./chat-limits.ts";
import { firstResult, rememberResult, sweepIdempotency } from "./idempotency-store.ts";
import { markRead } from "./mark-read.ts";
import { PendingEvents } from "./pending-events.ts";
import { sendMessage } from "./send-message.ts";
import { changePassword, createSession, revokeSessions, sweepSessions, touchSession } from "./session-commands.ts";

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
  private readonly deferred = new DeferredRows();
  private readonly accounts = new KnownAccounts();

  /** Events of the entries applied since the last drain; the node publishes them once their transaction committed. */
  drainEvents(): ChatEvent[] {
    return this.pending.drain();
  }

  /**
   * Apply one entry's bytes inside the apply transaction; fits the node's ApplyCommand
   * (declared here, not imported: chat sits below node and must not depend on it).
   * Never throws for bad bytes; throws only when the database fails. New message and
   * event rows may be written later in the transaction: finishBatch writes them.
   */
  readonly applyCommand = (tx: SqlConnection, index: number, data: Uint8Array): ApplyResult => {
    this.pending.dropFrom(index);
    this.deferred.dropFrom(index);
    // Index-based retention runs for every entry, whatever it holds, so it depends only on the index.
    pruneEvents(tx, index);
    const proposal = readProposal(data);
    if (!proposal.ok) return refusal("invalid_command", proposal.reason);
    const { command, leaderTimeMs } = proposal.value;
    // Time-based retention needs the entry's leader time: every readable entry on a sweep
    // index runs it, valid command or not, so it depends only on the index and that time.
    if (index % SWEEP_EVERY_INDEXES === 0) {
      sweepIdempotency(tx, leaderTimeMs);
      sweepSessions(tx, leaderTimeMs);
    }
    const problem = commandProblem(command);
    if (problem !== null) return refusal("invalid_command", problem);

    const key = command.idempotency;
    if (key !== undefined) {
      const first = firstResult(tx, key);
      if (first.kind === "first") return first.result;
      if (first.kind === "mismatch") return refusal("idempotency_key_mismatch", "this Idempotency-Key was first used with a different request; use a new key for a new request");
    }
    // sendMessage reads only accounts; everything else may read messages or events.
    if (command.type !== "sendMessage" && !this.deferred.empty) this.deferred.write(tx);
    const emitted: EventBody[] = [];
    const deferred = this.deferred;
    const context: ApplyContext = {
      tx,
      index,
      time: new Date(leaderTimeMs).toISOString(),
      emit: (event) => emitted.push(event),
      insertMessage: (row) => deferred.addMessage(row),
      accounts: this.accounts,
    };
    const result = run(context, command);
    if (emitted.length > 0) {
      const events = emitted.map((body) => ({ index, ...body }) as ChatEvent);
      deferred.addEvents(events);
      this.pending.add(events);
    }
    if (key !== undefined) rememberResult(tx, key, index, leaderTimeMs, result);
    return result;
  };

  /** Write what applyCommand deferred; called once per batch, before its commit. */
  readonly finishBatch = (tx: SqlConnection): void => {
    this.deferred.write(tx);
  };

  /**
   * The batch's transaction rolled back, or a snapshot replaced the tables: nothing
   * deferred may be written, and nothing remembered about the tables holds.
   */
  readonly abortBatch = (): void => {
    this.deferred.clear();
    this.accounts.clear();
  };
}

function run(context: ApplyContext, command: ChatCommand): ApplyResult {
  switch (command.type) {
    case "createAccount":
      return createAccount(context, command);
    case "deleteAccount":
      return deleteAccount(context, command);
    case "createSession":
      return createSession(context, command);
    case "revokeSessions":
      return revokeSessions(context, command);
    case "touchSession":
      return touchSession(context, command);
    case "changePassword":
      return changePassword(context, command);
    case "sendMessage":
      return sendMessage(context, command);
    case "markRead":
      return markRead(context, command);
    case "deleteMessages":
      return deleteMessages(context, command);
  }
}
