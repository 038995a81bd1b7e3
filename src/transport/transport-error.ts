export type TransportErrorCode =
  | "timeout" // no answer within the deadline
  | "no_responder" // nobody listens for that node
  | "too_large" // a payload over the transport's limit
  | "bad_frame" // bytes that do not decode as our codec
  | "remote_error" // the peer received the request but its handler failed or refused it
  | "closed"; // this transport was closed

export class TransportError extends Error {
  override readonly name = "TransportError";
  constructor(
    readonly code: TransportErrorCode,
    message: string,
  ) {
    super(message);
  }
}
