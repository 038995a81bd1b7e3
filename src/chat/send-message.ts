import { refusal, type ApplyContext, type CommandOf } from "./apply-context.ts";
import type { ApplyResult, ChatMessage } from "./commands.ts";
import { trimContent } from "./message-content.ts";

/** The message's id is the entry's log index: unique, increasing, the same on every node. */
export function sendMessage(context: ApplyContext, command: CommandOf<"sendMessage">): ApplyResult {
  const { tx, index, time } = context;
  const { from, to } = command;
  const [fromExists, toExists] = context.accounts.exist(tx, from, to);
  if (!fromExists) return refusal("no_such_account", `there is no account '${from}'`);
  if (!toExists) return refusal("no_such_recipient", `there is no account '${to}'`);
  const message: ChatMessage = { id: index, from, fromDeleted: false, to, content: trimContent(command.content), sentAt: time, readAt: null };
  context.insertMessage([message.id, message.from, message.to, message.content, message.sentAt]);
  context.emit({ account: from, type: "message", data: message });
  // A note to oneself is one message, so one event.
  if (to !== from) context.emit({ account: to, type: "message", data: message });
  return { ok: true, type: "messageSent", message };
}
