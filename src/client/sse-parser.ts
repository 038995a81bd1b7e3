// A small incremental parser for text/event-stream, following the WHATWG "event stream
// interpretation" rules. Hand-written rather than EventSource because EventSource cannot
// send an Authorization header nor pick the node to reconnect to.

import { ConcordError } from "./concord-error.ts";

export interface SseMessage {
  /** The `event:` field, or "message" when the block had none. */
  readonly type: string;
  /** The `data:` lines joined with "\n". */
  readonly data: string;
  /** The last `id:` seen on the stream so far (ids carry over to later events), "" if none. */
  readonly lastEventId: string;
  /** Whether this block carried its own `id:` line. */
  readonly hasOwnId: boolean;
}

export interface SseHandlers {
  onMessage(message: SseMessage): void;
  /** A `:` line; servers send them as keep-alives, so they prove the stream is alive. */
  onComment?(text: string): void;
  /** A valid `retry:` field: the server's suggested reconnection delay. */
  onRetry?(delayMs: number): void;
}

/** One line or one event's data above this is not a Concord stream (messages are ≤ 4000 chars). */
export const MAX_SSE_BLOCK_CHARS = 1 << 20;

const LF = 10;
const CR = 13;

export class SseParser {
  // TextDecoder in streaming mode keeps a UTF-8 sequence split across chunks, and drops a
  // leading BOM as the spec requires.
  readonly #decoder = new TextDecoder("utf-8");
  /** Text of the current, unfinished line. */
  #line = "";
  /** The previous chunk ended in CR: a LF at the start of the next one ends nothing. */
  #skipLf = false;
  #type = "";
  #data: string[] = [];
  #dataChars = 0;
  #lastEventId = "";
  #hasOwnId = false;

  constructor(private readonly handlers: SseHandlers) {}

  /** Feeds raw bytes; complete events are dispatched synchronously, in order. */
  push(bytes: Uint8Array): void {
    this.#pushText(this.#decoder.decode(bytes, { stream: true }));
  }

  /** The stream ended: an event without its blank line is discarded, per the spec. */
  end(): void {
    this.#pushText(this.#decoder.decode());
    this.#line = "";
    this.#resetEvent();
  }

  #pushText(text: string): void {
    let start = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c !== LF && c !== CR) continue;
      if (c === LF && this.#skipLf && i === start && this.#line === "") {
        // The LF of a CRLF whose CR ended the previous line.
        this.#skipLf = false;
        start = i + 1;
        continue;
      }
      this.#skipLf = c === CR;
      const line = this.#line + text.slice(start, i);
      this.#line = "";
      start = i + 1;
      this.#processLine(line);
    }
    if (start < text.length) {
      this.#skipLf = false;
      this.#line += text.slice(start);
      if (this.#line.length > MAX_SSE_BLOCK_CHARS) {
        throw new ConcordError("bad_response", `event stream line longer than ${MAX_SSE_BLOCK_CHARS} characters`);
      }
    }
  }

  #processLine(line: string): void {
    if (line === "") {
      this.#dispatch();
      return;
    }
    const colon = line.indexOf(":");
    if (colon === 0) {
      this.handlers.onComment?.(line.slice(1));
      return;
    }
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    switch (field) {
      case "event":
        this.#type = value;
        return;
      case "data":
        this.#dataChars += value.length + 1;
        if (this.#dataChars > MAX_SSE_BLOCK_CHARS) {
          throw new ConcordError("bad_response", `event data longer than ${MAX_SSE_BLOCK_CHARS} characters`);
        }
        this.#data.push(value);
        return;
      case "id":
        // An id with NUL is ignored (spec); an empty id resets the last event id.
        if (!value.includes("\0")) {
          this.#lastEventId = value;
          this.#hasOwnId = true;
        }
        return;
      case "retry":
        if (/^[0-9]+$/.test(value)) this.handlers.onRetry?.(Number(value));
        return;
      default:
        // Unknown fields are ignored, so servers can add some.
        return;
    }
  }

  #dispatch(): void {
    // A block with no data line dispatches nothing, but its `id:` still counts (spec).
    if (this.#data.length > 0) {
      this.handlers.onMessage({
        type: this.#type === "" ? "message" : this.#type,
        data: this.#data.join("\n"),
        lastEventId: this.#lastEventId,
        hasOwnId: this.#hasOwnId,
      });
    }
    this.#resetEvent();
  }

  #resetEvent(): void {
    this.#type = "";
    this.#data = [];
    this.#dataChars = 0;
    this.#hasOwnId = false;
  }
}
