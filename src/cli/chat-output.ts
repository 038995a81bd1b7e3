// Human output of `concord chat`: plain text in aligned columns, nothing a pipe would
// choke on (no colours, no cursor tricks). --json output never goes through here.
import type { ChatMessage } from "../chat/commands.ts";
import type { ChatStreamEvent } from "../client/chat-events.ts";
import { formatTable, printable } from "./text-table.ts";

/** Oldest first, the way a conversation reads; `*` marks what was unread for `me`. */
export function formatMessages(messages: readonly ChatMessage[], me: string | null): string {
  if (messages.length === 0) return "no messages\n";
  const rows = [...messages]
    .sort((a, b) => a.id - b.id)
    .map((m) => [
      `#${m.id}`,
      m.readAt === null && m.to === me ? "*" : " ",
      formatTime(m.sentAt),
      m.fromDeleted ? `${m.from} (deleted)` : m.from,
      "→",
      m.to,
      m.content,
    ]);
  return formatTable(rows);
}

export function formatEvent(event: ChatStreamEvent): string {
  switch (event.type) {
    case "message": {
      const m = event.data;
      return formatTable([[`#${m.id}`, formatTime(m.sentAt), m.from, "→", m.to, m.content]]);
    }
    case "messages_deleted":
      return `deleted ${event.data.ids.map((id) => `#${id}`).join(" ")}\n`;
    case "messages_read":
      return `${printable(event.data.by)} read ${event.data.ids.map((id) => `#${id}`).join(" ")}\n`;
    case "account_deleted":
      return `${printable(event.data.username)} deleted their account\n`;
    case "reset":
      return "the event history was reset on the server: events may have been missed; run 'concord chat read' to catch up\n";
  }
}

/** Local time, to the second: "2025-01-01 12:00:05". */
export function formatTime(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const two = (n: number) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())} ${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}`;
}
