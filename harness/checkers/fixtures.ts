/** Builders for hand-made histories in the checkers' tests. */
import type { AccountOperation, DeleteMessagesOperation, Operation, ReadMessage, ReadOperation, SendOperation } from "./history.ts";

let nextId = 1;
export function resetIds(): void {
  nextId = 1;
}

export function send(
  from: string,
  to: string,
  content: string,
  at: [number, number | null],
  result: { messageId: number } | "fail" | "unknown",
  key = `${from}-${content}`,
  client = from,
): SendOperation {
  const [invokedAtMs, completedAtMs] = at;
  return {
    id: nextId++,
    client,
    kind: "send",
    invokedAtMs,
    completedAtMs: typeof result === "object" ? completedAtMs : result === "fail" ? completedAtMs : null,
    outcome: typeof result === "object" ? "ok" : result,
    input: { from, to, content, idempotencyKey: key },
    output: typeof result === "object" ? result : null,
  };
}

export function read(account: string, at: [number, number], messages: readonly ReadMessage[], peer: string | null = null, client = `reader-${account}`): ReadOperation {
  return { id: nextId++, client, kind: "read", invokedAtMs: at[0], completedAtMs: at[1], outcome: "ok", input: { account, peer }, output: { messages } };
}

export function msg(id: number, from: string, to: string, content: string): ReadMessage {
  return { id, from, to, content };
}

type AccountKind = AccountOperation["kind"];
type ResultOf<K extends AccountKind> = NonNullable<Extract<AccountOperation, { kind: K }>["output"]>["result"];

export function account<K extends AccountKind>(
  kind: K,
  username: string,
  at: [number, number | null],
  result: ResultOf<K> | "unknown" | "fail",
  client = "c",
): Operation {
  const [invokedAtMs, completedAtMs] = at;
  const answered = result !== "unknown" && result !== "fail";
  return {
    id: nextId++,
    client,
    kind,
    invokedAtMs,
    completedAtMs: result === "unknown" ? null : completedAtMs,
    outcome: answered ? "ok" : result,
    input: { username },
    output: answered ? { result } : null,
  } as Operation;
}

/** Delete `ids` as `account`; "ok" means every id was deleted. */
export function deleteMessages(account: string, ids: readonly number[], at: [number, number | null], result: "ok" | "fail" | "unknown"): DeleteMessagesOperation {
  return {
    id: nextId++,
    client: `deleter-${account}`,
    kind: "deleteMessages",
    invokedAtMs: at[0],
    completedAtMs: result === "unknown" ? null : at[1],
    outcome: result,
    input: { account, ids },
    output: result === "ok" ? { deleted: ids } : null,
  };
}
