import type { Message } from "../raft/types.ts";
import { decodeBatch } from "./codec.ts";
import { errorMessage, type Logger } from "./log.ts";
import type { TransportHandlers } from "./transport.ts";

/**
 * Decode a batch frame and hand it to the driver. A frame that does not decode is
 * dropped (raft tolerates loss); a handler that throws is the driver's bug, but one
 * bad batch must not stop delivery of the next.
 */
export function deliverBatch(frame: Uint8Array, handlers: TransportHandlers, logger: Logger): void {
  let messages: Message[];
  try {
    messages = decodeBatch(frame);
  } catch (error) {
    logger.log("debug", "bad_frame", { error: errorMessage(error) });
    return;
  }
  try {
    handlers.onMessages(messages);
  } catch (error) {
    logger.log("debug", "handler_failed", { handler: "onMessages", error: errorMessage(error) });
  }
}
