import type { NodeId } from "../raft/types.ts";
import { type RpcRequest, decodeRpcReply, decodeRpcRequest, encodeRpcReply } from "./codec.ts";
import { errorMessage } from "./log.ts";
import { TransportError } from "./transport-error.ts";

export type RequestHandler = (from: NodeId, payload: Uint8Array) => Promise<Uint8Array>;

/**
 * The answering side of `request`, shared by every transport: decodes the frame,
 * runs the handler, encodes the outcome. A bound on concurrent handlers keeps a
 * flood of forwarded requests from piling up work the node cannot finish in time.
 */
export class RequestServer {
  private inFlight = 0;

  constructor(
    private readonly maxInFlight: number,
    private readonly handler: RequestHandler,
    /** Told of each refused frame whose `from` was not its sender. */
    private readonly onSenderMismatch?: (sender: NodeId, claimed: NodeId) => void,
  ) {}

  /**
   * The reply frame; never rejects (failures are encoded for the caller). `sender` is who
   * the transport knows sent it (NATS: the subject's sender token); a frame whose own
   * `from` disagrees is refused without running the handler.
   */
  async handle(frame: Uint8Array, sender?: NodeId): Promise<Uint8Array> {
    let request: RpcRequest;
    try {
      request = decodeRpcRequest(frame);
    } catch (error) {
      return encodeRpcReply({ ok: false, code: "bad_frame", reason: errorMessage(error) });
    }
    if (sender !== undefined && request.from !== sender) {
      this.onSenderMismatch?.(sender, request.from);
      return encodeRpcReply({ ok: false, code: "bad_frame", reason: `request says it is from ${request.from}, but ${sender} sent it` });
    }
    if (this.inFlight >= this.maxInFlight) {
      return encodeRpcReply({ ok: false, code: "remote_error", reason: `busy: ${this.inFlight} requests in progress` });
    }
    this.inFlight++;
    try {
      return encodeRpcReply({ ok: true, payload: await this.handler(request.from, request.payload) });
    } catch (error) {
      return encodeRpcReply({ ok: false, code: "remote_error", reason: errorMessage(error) });
    } finally {
      this.inFlight--;
    }
  }
}

/** The payload of a reply frame, or the peer's failure as a TransportError. */
export function unwrapRpcReply(frame: Uint8Array): Uint8Array {
  const reply = decodeRpcReply(frame);
  if (reply.ok) return reply.payload;
  throw new TransportError(reply.code, `peer: ${reply.reason}`);
}
