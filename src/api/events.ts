import { createRoute, z } from "@hono/zod-openapi";
import type { SSEStreamingApi } from "hono/streaming";
import type { ChatEvent } from "../chat/commands.ts";
import { createRouter, type ApiDeps } from "./api-env.ts";
import { sessionState, signedIn, touch } from "./auth.ts";
import { Deadline } from "./deadline.ts";
import { invalidRequest } from "./errors.ts";
import { messageJson } from "./messages.ts";
import { errors, queryInt, sessionSecurity } from "./schemas.ts";
import { openStream, Waker } from "./sse.ts";

/** Events fetched per replay query: small enough to stream as we go, large enough to be few queries. */
const REPLAY_PAGE = 200;
/** Reconnect delay we suggest to EventSource clients (ms). */
const RETRY_MS = 1000;

export function eventRoutes(deps: ApiDeps) {
  const app = createRouter();

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/events",
      operationId: "streamEvents",
      tags: ["events"],
      summary: "My events as Server-Sent Events",
      description:
        "Each event's id is the log index that produced it. With Last-Event-ID (header) or ?lastEventId= the stream first replays everything after it, then goes live. " +
        "Events: ready (subscribed; its id is where the stream starts), message, messages_deleted, messages_read, account_deleted, and reset (history was pruned or this client fell behind: refetch state, then continue from the reset's id). " +
        "Signed-in streams have a pool of their own, apart from the dashboard's: per node at most 1000 by default, 100 per client address and 10 per account; past it, 429 overloaded. A stream ends when its session is revoked or expires.",
      security: sessionSecurity,
      // Authenticated like a write (a barrier only on a miss): the stream itself needs no fresh read.
      middleware: signedIn(deps, "write"),
      request: { query: z.object({ lastEventId: queryInt(0, Number.MAX_SAFE_INTEGER).optional().openapi({ type: "integer" }) }) },
      responses: { 200: { description: "an event stream", content: { "text/event-stream": { schema: z.string() } } }, ...errors(400, 401, 429) },
    }),
    (c) => {
      const header = c.req.header("last-event-id");
      // The header is what EventSource sends on reconnect, so it is newer than the URL's.
      if (header !== undefined && !/^[0-9]{1,16}$/.test(header.trim())) throw invalidRequest("Last-Event-ID must be a log index");
      const after = header !== undefined ? Number(header.trim()) : (c.req.valid("query").lastEventId ?? null);
      const session = c.var.session;
      return openStream(c, deps, { pool: deps.accountStreams, account: session.account }, (stream, onHeartbeat) =>
        pump(deps, stream, onHeartbeat, session.account, session.tokenHash, after),
      );
    },
  );

  return app;
}

/**
 * Subscribe first and buffer, then replay history from the queries, then flush the buffer
 * (skipping what the replay already sent), then go live. Subscribing first means an event
 * applied while we replay is in the buffer or in the history, never in neither.
 */
async function pump(
  deps: ApiDeps,
  stream: SSEStreamingApi,
  onHeartbeat: (listener: () => void) => void,
  account: string,
  tokenHash: string,
  after: number | null,
): Promise<void> {
  const { backend } = deps;
  const waker = new Waker(stream);
  const buffer: ChatEvent[] = [];
  let overflowed = false;
  let revoked = false;
  const unsubscribe = backend.onEvent((event) => {
    if (event.account !== account) return;
    // A slow client must not make us hold an unbounded backlog: it gets a reset instead.
    if (buffer.length >= deps.eventBufferLimit) overflowed = true;
    else buffer.push(event);
    waker.wake();
  });
  // A logout (or account deletion, or expiry) elsewhere ends the streams its token
  // opened. An open stream is the page in use, so it keeps its session seen.
  onHeartbeat(() => {
    void backend.queries.session(tokenHash).then(
      (session) => {
        const state = session === null ? "expired" : sessionState(session, deps.now(), deps.sessions);
        if (state === "expired") {
          revoked = true;
          waker.wake();
        } else if (state === "touch") void touch(deps, account, tokenHash, deps.requestTimeoutMs);
      },
      () => {},
    );
  });

  try {
    // Without Last-Event-ID the stream starts at what this node has applied now.
    let cursor = after ?? backend.status().applied;
    await stream.writeSSE({ event: "ready", id: String(cursor), retry: RETRY_MS, data: JSON.stringify({ index: cursor }) });

    let resetSent = false;
    for (;;) {
      if (stream.aborted) return;
      const deadline = new Deadline(deps.now() + deps.requestTimeoutMs, deps.now);
      const page = await deadline.run(() => backend.queries.eventsAfter(account, cursor, REPLAY_PAGE));
      if (!page.complete && !resetSent) {
        // Events after `cursor` were pruned: the client must refetch, then continue from here.
        resetSent = true;
        cursor = Math.max(cursor, backend.status().applied);
        await stream.writeSSE({ event: "reset", id: String(cursor), data: JSON.stringify({ reason: "history_pruned", index: cursor }) });
        continue;
      }
      for (const event of page.events) await send(stream, event);
      const last = page.events.at(-1);
      if (last !== undefined) cursor = Math.max(cursor, last.index);
      if (page.events.length < REPLAY_PAGE) break;
    }
    const replayedUpTo = cursor;

    while (!stream.aborted && !revoked) {
      if (overflowed) {
        await stream.writeSSE({ event: "reset", data: JSON.stringify({ reason: "too_slow" }) });
        return;
      }
      const event = buffer.shift();
      if (event === undefined) {
        await waker.wait();
        continue;
      }
      if (event.index > replayedUpTo) await send(stream, event);
    }
  } finally {
    unsubscribe();
  }
}

function send(stream: SSEStreamingApi, event: ChatEvent): Promise<void> {
  const data = event.type === "message" ? messageJson(event.data) : event.data;
  return stream.writeSSE({ event: event.type, id: String(event.index), data: JSON.stringify(data) });
}
