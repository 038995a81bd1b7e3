/** A broken driver invariant: stop at once (TigerBeetle style), never limp on. */
export function assert(condition: boolean, message: () => string): asserts condition {
  if (!condition) throw new Error(`driver invariant broken: ${message()}`);
}
