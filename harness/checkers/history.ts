/**
 * The recorded history the checkers read, and what a check returns.
 *
 * A history is a list of operations, one per request a workload client issued. Each has:
 *
 * - `id`: unique within the history (used to name operations in excerpts);
 * - `client`: the workload client that issued it (a client issues one request at a time);
 * - `invokedAtMs` / `completedAtMs`: when the request was sent and when its answer came
 *   back, on one clock shared by the whole harness; `completedAtMs` is null if no answer
 *   ever came (timeout, connection reset, killed node);
 * - `outcome`:
 *   - `"ok"`: a definite answer, including expected refusals such as "username taken"
 *     (the refusal is in `output`); `output` is non-null;
 *   - `"fail"`: it definitely did not take effect (refused before it reached the log, e.g.
 *     connection refused, validation error); `output` is null;
 *   - `"unknown"`: it may or may not have taken effect (no answer, 5xx after a timeout...);
 *     `output` is null;
 * - `input` / `output`: typed by `kind`, see below.
 *
 * The checkers assume the message workload does not delete accounts that exchange
 * messages, and that every read returns the whole inbox or conversation. Messages may be
 * deleted (`deleteMessages`): a message that may have been deleted is not required in
 * later reads, and one whose deletion was acknowledged must never be read again.
 */
import type { ChatMessage } from "../../src/chat/commands.ts";

export type Outcome = "ok" | "fail" | "unknown";

interface OperationBase {
  readonly id: number;
  readonly client: string;
  readonly invokedAtMs: number;
  readonly completedAtMs: number | null;
  readonly outcome: Outcome;
}

/** Send `content` from `from` to `to`; retries of one logical send reuse `idempotencyKey`. */
export interface SendInput {
  readonly from: string;
  readonly to: string;
  readonly content: string;
  readonly idempotencyKey: string;
}
/** The id of the message the send created (or, for a deduplicated retry, the original's). */
export interface SendOutput {
  readonly messageId: number;
}

/**
 * Read as `account`. With `peer` null, the inbox: messages addressed to `account`. With a
 * `peer`, the conversation: messages between `account` and `peer`, in either direction.
 */
export interface ReadInput {
  readonly account: string;
  readonly peer: string | null;
}
/** The fields of a message the checkers use; a ChatMessage fits. */
export type ReadMessage = Pick<ChatMessage, "id" | "from" | "to" | "content">;
/** The messages in the order the service returned them. */
export interface ReadOutput {
  readonly messages: readonly ReadMessage[];
}

export interface UsernameInput {
  readonly username: string;
}

/** Delete messages by id, as `account` (its sender or recipient). */
export interface DeleteMessagesInput {
  readonly account: string;
  readonly ids: readonly number[];
}
export interface DeleteMessagesOutput {
  readonly deleted: readonly number[];
}

export type SendOperation = OperationBase & { readonly kind: "send"; readonly input: SendInput; readonly output: SendOutput | null };
export type ReadOperation = OperationBase & { readonly kind: "read"; readonly input: ReadInput; readonly output: ReadOutput | null };
export type CreateAccountOperation = OperationBase & {
  readonly kind: "createAccount";
  readonly input: UsernameInput;
  readonly output: { readonly result: "ok" | "taken" } | null;
};
export type CheckAccountOperation = OperationBase & {
  readonly kind: "checkAccount";
  readonly input: UsernameInput;
  readonly output: { readonly result: "exists" | "missing" } | null;
};
export type DeleteAccountOperation = OperationBase & {
  readonly kind: "deleteAccount";
  readonly input: UsernameInput;
  readonly output: { readonly result: "ok" | "missing" } | null;
};

export type DeleteMessagesOperation = OperationBase & {
  readonly kind: "deleteMessages";
  readonly input: DeleteMessagesInput;
  readonly output: DeleteMessagesOutput | null;
};

export type AccountOperation = CreateAccountOperation | CheckAccountOperation | DeleteAccountOperation;
export type Operation = SendOperation | ReadOperation | AccountOperation | DeleteMessagesOperation;

/** A violation: which rule, the smallest set of records that shows it, and why. */
export interface CheckFailure<E = Operation> {
  readonly ok: false;
  readonly rule: string;
  readonly excerpt: readonly E[];
  readonly message: string;
  /** Set when the checker gave up (search budget) rather than found a violation. */
  readonly inconclusive?: true;
}
export type CheckResult<E = Operation> = { readonly ok: true } | CheckFailure<E>;

export const passed: { readonly ok: true } = { ok: true };

export function failure<E>(rule: string, excerpt: readonly E[], message: string): CheckFailure<E> {
  return { ok: false, rule, excerpt, message };
}

/** Excerpts list operations in invocation order (then by id). */
export function byInvocation(a: Operation, b: Operation): number {
  return a.invokedAtMs - b.invokedAtMs || a.id - b.id;
}

export function excerptOf(...ops: Operation[]): Operation[] {
  return [...new Set(ops)].sort(byInvocation);
}

export type OkSend = SendOperation & { readonly output: SendOutput; readonly completedAtMs: number };
export type OkRead = ReadOperation & { readonly output: ReadOutput; readonly completedAtMs: number };

export function isOkSend(op: Operation): op is OkSend {
  return op.kind === "send" && op.outcome === "ok" && op.output !== null && op.completedAtMs !== null;
}
export function isOkRead(op: Operation): op is OkRead {
  return op.kind === "read" && op.outcome === "ok" && op.output !== null && op.completedAtMs !== null;
}

/** Whether a read of this scope would return a message from `from` to `to`. */
export function readCovers(read: ReadInput, from: string, to: string): boolean {
  if (read.peer === null) return to === read.account;
  return (from === read.account && to === read.peer) || (from === read.peer && to === read.account);
}

/** The conversation a message belongs to: the unordered pair of its two accounts. */
export function conversationKey(a: string, b: string): string {
  return a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`;
}

/**
 * Checks the history is well formed (the other checkers assume it): unique ids,
 * `output` and `completedAtMs` present exactly for "ok" outcomes, completion not before
 * invocation.
 */
export function checkWellFormed(history: readonly Operation[]): CheckResult {
  const seen = new Map<number, Operation>();
  for (const op of history) {
    const twin = seen.get(op.id);
    if (twin !== undefined) return failure("history.well-formed", excerptOf(twin, op), `two operations have id ${op.id}`);
    seen.set(op.id, op);
    if (op.outcome === "ok" && (op.output === null || op.completedAtMs === null)) {
      return failure("history.well-formed", [op], `operation ${op.id} is ok but has no output or completion time`);
    }
    if (op.outcome !== "ok" && op.output !== null) {
      return failure("history.well-formed", [op], `operation ${op.id} is ${op.outcome} but has an output`);
    }
    if (op.completedAtMs !== null && op.completedAtMs < op.invokedAtMs) {
      return failure("history.well-formed", [op], `operation ${op.id} completed before it was invoked`);
    }
  }
  return passed;
}

/**
 * When each message id may have stopped existing: the invocation time of the earliest
 * delete of it that did not definitely fail (an unknown delete may have taken effect).
 */
export function possibleDeletions(history: readonly Operation[]): Map<number, number> {
  const since = new Map<number, number>();
  for (const op of history) {
    if (op.kind !== "deleteMessages" || op.outcome === "fail") continue;
    const ids = op.outcome === "ok" && op.output !== null ? op.output.deleted : op.input.ids;
    for (const id of ids) since.set(id, Math.min(since.get(id) ?? Infinity, op.invokedAtMs));
  }
  return since;
}
