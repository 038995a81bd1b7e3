/** One block of a text/event-stream: an event, or a comment (keep-alive). */
export interface SseBlock {
  readonly event: string;
  readonly id: string | null;
  readonly data: string;
  readonly comment: string | null;
}

/**
 * Reads an SSE response block by block, for tests. Each `next` waits at most `timeoutMs`
 * and returns null on timeout or when the stream ended (`ended` tells which).
 */
const defaultReader = (stream: ReadableStream<Uint8Array>) => stream.getReader();
type Reader = ReturnType<typeof defaultReader>;

export class SseReader {
  private readonly reader: Reader;
  private readonly decoder = new TextDecoder();
  private text = "";
  private pendingRead: ReturnType<Reader["read"]> | null = null;
  ended = false;

  constructor(response: Response) {
    if (response.body === null) throw new Error("no body");
    this.reader = defaultReader(response.body);
  }

  async next(timeoutMs = 2000): Promise<SseBlock | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const split = this.text.search(/\r?\n\r?\n/);
      if (split >= 0) {
        const raw = this.text.slice(0, split);
        this.text = this.text.slice(split).replace(/^\r?\n\r?\n/, "");
        return parse(raw);
      }
      if (this.ended) return null;
      const left = deadline - Date.now();
      if (left <= 0) return null;
      this.pendingRead ??= this.reader.read();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const result = await Promise.race([
        this.pendingRead,
        new Promise<null>((resolve) => {
          timer = setTimeout(() => resolve(null), left);
        }),
      ]);
      clearTimeout(timer);
      if (result === null) return null;
      this.pendingRead = null;
      if (result.done) this.ended = true;
      else this.text += this.decoder.decode(result.value, { stream: true });
    }
  }

  /** The next block that is an event (comments skipped). */
  async nextEvent(timeoutMs = 2000): Promise<SseBlock | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const block = await this.next(Math.max(1, deadline - Date.now()));
      if (block === null || block.comment === null) return block;
    }
  }

  /** Events until `count` arrived or `timeoutMs` passed. */
  async events(count: number, timeoutMs = 2000): Promise<SseBlock[]> {
    const deadline = Date.now() + timeoutMs;
    const out: SseBlock[] = [];
    while (out.length < count) {
      const block = await this.nextEvent(Math.max(1, deadline - Date.now()));
      if (block === null) break;
      out.push(block);
    }
    return out;
  }

  async close(): Promise<void> {
    await this.reader.cancel().catch(() => {});
  }
}

function parse(raw: string): SseBlock {
  let event = "message";
  let id: string | null = null;
  const data: string[] = [];
  const comments: string[] = [];
  for (const line of raw.split(/\r?\n/)) {
    if (line.startsWith(":")) comments.push(line.slice(1).trim());
    else {
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") event = value;
      else if (field === "id") id = value;
      else if (field === "data") data.push(value);
    }
  }
  const isComment = comments.length > 0 && data.length === 0 && id === null;
  return { event: isComment ? "" : event, id, data: data.join("\n"), comment: isComment ? comments.join("\n") : null };
}
