import { describe, expect, test } from "bun:test";
import { ConcordError } from "./concord-error.ts";
import { MAX_SSE_BLOCK_CHARS, SseParser, type SseMessage } from "./sse-parser.ts";

interface Parsed {
  messages: SseMessage[];
  comments: string[];
  retries: number[];
}

function parse(chunks: readonly Uint8Array[]): Parsed {
  const out: Parsed = { messages: [], comments: [], retries: [] };
  const parser = new SseParser({
    onMessage: (m) => out.messages.push(m),
    onComment: (c) => out.comments.push(c),
    onRetry: (ms) => out.retries.push(ms),
  });
  for (const chunk of chunks) parser.push(chunk);
  parser.end();
  return out;
}

const bytes = (text: string) => new TextEncoder().encode(text);
const parseText = (text: string) => parse([bytes(text)]);

describe("SseParser", () => {
  test("an event's fields: type, data, id", () => {
    const { messages } = parseText('event: message\nid: 7\ndata: {"id":7}\n\n');
    expect(messages).toEqual([{ type: "message", data: '{"id":7}', lastEventId: "7", hasOwnId: true }]);
  });

  test("no event: line means type 'message'; no space after the colon is fine", () => {
    expect(parseText("data:x\n\n").messages).toEqual([{ type: "message", data: "x", lastEventId: "", hasOwnId: false }]);
  });

  test("multi-line data joins with LF; only one leading space is stripped", () => {
    const { messages } = parseText("data: one\ndata:  two\ndata\ndata: three\n\n");
    expect(messages.map((m) => m.data)).toEqual(["one\n two\n\nthree"]);
  });

  test("CRLF, CR and LF all end lines, mixed in one stream", () => {
    const { messages } = parseText("event: a\r\ndata: 1\r\n\r\nevent: b\rdata: 2\r\rdata: 3\n\n");
    expect(messages.map((m) => [m.type, m.data])).toEqual([["a", "1"], ["b", "2"], ["message", "3"]]);
  });

  test("comments are reported and dispatch nothing", () => {
    const { messages, comments } = parseText(": keep-alive\n:\ndata: x\n: inside\n\n");
    expect(comments).toEqual([" keep-alive", "", " inside"]);
    expect(messages.map((m) => m.data)).toEqual(["x"]);
  });

  test("the id carries over to later events; hasOwnId says which block set it", () => {
    const { messages } = parseText("id: 5\ndata: a\n\ndata: b\n\nid\ndata: c\n\n");
    expect(messages.map((m) => [m.data, m.lastEventId, m.hasOwnId])).toEqual([["a", "5", true], ["b", "5", false], ["c", "", true]]);
  });

  test("an id containing NUL is ignored; a block with only an id sets it for later", () => {
    const { messages } = parseText("id: 3\n\nid: 4\0x\ndata: a\n\n");
    expect(messages.map((m) => [m.data, m.lastEventId])).toEqual([["a", "3"]]);
  });

  test("retry: only all-digit values count; unknown fields are ignored", () => {
    const { retries, messages } = parseText("retry: 1500\nretry: 2s\nfoo: bar\ndata: x\n\n");
    expect(retries).toEqual([1500]);
    expect(messages).toHaveLength(1);
  });

  test("a block without data dispatches nothing and does not leak its type", () => {
    const { messages } = parseText("event: reset\n\ndata: x\n\n");
    expect(messages.map((m) => m.type)).toEqual(["message"]);
  });

  test("an unterminated last event is discarded at the end of the stream", () => {
    expect(parseText("data: complete\n\ndata: partial\n").messages.map((m) => m.data)).toEqual(["complete"]);
  });

  test("a leading BOM is dropped", () => {
    expect(parseText("\ufeffdata: x\n\n").messages.map((m) => m.data)).toEqual(["x"]);
  });

  test("chunk boundaries anywhere (inside CRLF, inside a UTF-8 sequence) change nothing", () => {
    const stream = bytes(': hi\r\nid: 1\r\nevent: message\r\ndata: {"content":"héllo 👋"}\r\ndata: line 2\r\n\r\nid: 2\rdata: b\r\r: x\ndata: c\n\n');
    const whole = parse([stream]);
    expect(whole.messages).toHaveLength(3);
    for (let cut = 0; cut <= stream.length; cut++) {
      expect(parse([stream.subarray(0, cut), stream.subarray(cut)])).toEqual(whole);
    }
    for (let cutA = 0; cutA <= stream.length; cutA += 3) {
      for (let cutB = cutA; cutB <= stream.length; cutB += 5) {
        expect(parse([stream.subarray(0, cutA), stream.subarray(cutA, cutB), stream.subarray(cutB)])).toEqual(whole);
      }
    }
    expect(parse(Array.from(stream, (b) => Uint8Array.of(b)))).toEqual(whole);
  });

  test("a CR at the end of one chunk and the LF at the start of the next make one line break", () => {
    const { messages } = parse([bytes("data: a\r"), bytes("\n\r"), bytes("\ndata: b\r"), bytes("\r")]);
    expect(messages.map((m) => m.data)).toEqual(["a", "b"]);
  });

  test("an endless line or event is refused, not buffered", () => {
    const parser = new SseParser({ onMessage: () => {} });
    const chunk = bytes("x".repeat(64 * 1024));
    const feed = () => {
      for (let i = 0; i <= MAX_SSE_BLOCK_CHARS / chunk.length; i++) parser.push(chunk);
    };
    expect(feed).toThrow(ConcordError);
    const dataParser = new SseParser({ onMessage: () => {} });
    const line = bytes(`data: ${"y".repeat(1000)}\n`);
    expect(() => {
      for (let i = 0; i <= MAX_SSE_BLOCK_CHARS / 1000; i++) dataParser.push(line);
    }).toThrow("event data longer than");
  });
});
