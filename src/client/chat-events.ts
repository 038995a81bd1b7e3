// The signed-in account's live events (GET /v1/events) as typed values, each delivered
// once: ids are log indexes, so after a reconnect anything at or below the last index
// delivered is a replay and is dropped, whichever node sent it.

import type { ChatEvent } from "../chat/commands.ts";
import { asIdList, asMessage, asObject } from "./api-types.ts";
import { ConcordError } from "./concord-error.ts";
import type { SseMessage } from "./sse-parser.ts";
import { openSseStream, type StreamHandle, type StreamStatus, type SseStreamOptions } from "./sse-stream.ts";

type EventOf<T extends ChatEvent["type"]> = {
  readonly id: number;
  readonly type: T;
  readonly data: Extract<ChatEvent, { type: T }>["data"];
};

/**
 * The server could not replay from the Last-Event-ID it was given (that part of the log is
 * compacted away). The caller must reload its state; `id`, when present, is the index the
 * stream continues after.
 */
export interface ResetEvent {
  readonly id: number | null;
  readonly type: "reset";
  readonly data: unknown;
}

export type ChatStreamEvent = EventOf<"message"> | EventOf<"messages_deleted"> | EventOf<"messages_read"> | EventOf<"account_deleted"> | ResetEvent;

export interface ChatEventsOptions {
  /** Resume after this index (e.g. the last one a previous page load saw); omit to start live. */
  readonly lastEventId?: number;
  readonly onEvent: (event: ChatStreamEvent) => void;
  readonly onStatus?: (status: StreamStatus) => void;
}

export interface ChatEventSubscription extends StreamHandle {
  /** The index of the last event delivered (what a reconnect resumes after). */
  readonly lastEventId: number | null;
}

export function openChatEvents(
  options: ChatEventsOptions,
  stream: Omit<SseStreamOptions, "path" | "lastEventId" | "onMessage" | "onStatus">,
): ChatEventSubscription {
  let last: number | null = options.lastEventId ?? null;
  // close() from inside onEvent must stop the rest of the chunk being delivered too.
  let closing = false;
  const deliver = (event: ChatStreamEvent) => {
    try {
      options.onEvent(event);
    } catch (error) {
      // A throwing handler is the caller's bug: surface it, but keep the stream's
      // bookkeeping intact (the event counts as delivered and is not replayed).
      queueMicrotask(() => {
        throw error;
      });
    }
  };
  const onMessage = (message: SseMessage) => {
    if (closing) return;
    const id = message.hasOwnId && /^[0-9]+$/.test(message.lastEventId) ? Number(message.lastEventId) : null;
    if (message.type === "reset") {
      // Authoritative even when lower than what we had: the server's history changed under us.
      if (id !== null) last = id;
      deliver({ id, type: "reset", data: parseLenient(message.data) });
      return;
    }
    // An event without its own index can be neither de-duplicated nor resumed after.
    if (id === null) return;
    if (last !== null && id <= last) return;
    const event = decodeEvent(id, message);
    last = id;
    // Unknown types (a newer server) are skipped but still count as seen.
    if (event !== null) deliver(event);
  };
  const handle = openSseStream({
    ...stream,
    path: "/v1/events",
    lastEventId: () => (last === null ? null : String(last)),
    onMessage,
    ...(options.onStatus !== undefined ? { onStatus: options.onStatus } : {}),
  });
  return {
    close: () => {
      closing = true;
      handle.close();
    },
    closed: handle.closed,
    get lastEventId() {
      return last;
    },
  };
}

/** Throws bad_response on a malformed event: the stream then resumes elsewhere, before it. */
function decodeEvent(id: number, message: SseMessage): ChatStreamEvent | null {
  switch (message.type) {
    case "message":
      return { id, type: "message", data: asMessage(parseData(message)) };
    case "messages_deleted": {
      const data = asObject(parseData(message), "messages_deleted data");
      return { id, type: "messages_deleted", data: { ids: asIdList(data["ids"], "ids") } };
    }
    case "messages_read": {
      const data = asObject(parseData(message), "messages_read data");
      if (typeof data["by"] !== "string") throw new ConcordError("bad_response", "messages_read event without `by`");
      return { id, type: "messages_read", data: { ids: asIdList(data["ids"], "ids"), by: data["by"] } };
    }
    case "account_deleted": {
      const data = asObject(parseData(message), "account_deleted data");
      if (typeof data["username"] !== "string") throw new ConcordError("bad_response", "account_deleted event without `username`");
      return { id, type: "account_deleted", data: { username: data["username"] } };
    }
    default:
      return null;
  }
}

/** A reset must reach the caller whatever its data says; the data is informative only. */
function parseLenient(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function parseData(message: SseMessage): unknown {
  try {
    return JSON.parse(message.data);
  } catch {
    throw new ConcordError("bad_response", `event '${message.type}' has data that is not JSON`);
  }
}
