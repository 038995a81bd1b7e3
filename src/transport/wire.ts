import { TransportError } from "./transport-error.ts";

// Big-endian primitives for the codec. Raft indexes and terms are JS numbers that
// may outgrow 32 bits, so they travel as "u53": two u32 halves, which keeps exact
// integers up to 2^53 without BigInt on the hot path.

const TWO_32 = 2 ** 32;
/** The high half of a safe integer is below 2^21. */
const MAX_U53_HIGH = 2 ** 21;

export function badFrame(why: string): TransportError {
  return new TransportError("bad_frame", `bad frame: ${why}`);
}

/** Writes into one buffer sized up front by the caller. */
export class Writer {
  readonly bytes: Uint8Array;
  private readonly view: DataView;
  private at = 0;

  constructor(sizeBytes: number) {
    this.bytes = new Uint8Array(sizeBytes);
    this.view = new DataView(this.bytes.buffer);
  }

  u8(n: number): void {
    if ((n & 0xff) !== n) throw new RangeError(`not a u8: ${n}`);
    this.view.setUint8(this.at, n);
    this.at += 1;
  }

  u16(n: number): void {
    if ((n & 0xffff) !== n) throw new RangeError(`not a u16: ${n}`);
    this.view.setUint16(this.at, n);
    this.at += 2;
  }

  u32(n: number): void {
    if (n >>> 0 !== n) throw new RangeError(`not a u32: ${n}`);
    this.view.setUint32(this.at, n);
    this.at += 4;
  }

  u53(n: number): void {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`not a non-negative safe integer: ${n}`);
    this.view.setUint32(this.at, Math.floor(n / TWO_32));
    this.view.setUint32(this.at + 4, n >>> 0);
    this.at += 8;
  }

  raw(bytes: Uint8Array): void {
    this.bytes.set(bytes, this.at);
    this.at += bytes.length;
  }

  /** The buffer, after checking the size estimate was exact (a codec bug otherwise). */
  finish(): Uint8Array {
    if (this.at !== this.bytes.length) throw new Error(`codec wrote ${this.at} of ${this.bytes.length} bytes`);
    return this.bytes;
  }
}

/** Reads a frame; every overrun is a TransportError("bad_frame"), never a RangeError. */
export class Reader {
  private readonly view: DataView;
  private at = 0;

  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get remainingBytes(): number {
    return this.bytes.length - this.at;
  }

  private need(n: number): void {
    if (this.at + n > this.bytes.length) throw badFrame(`truncated at byte ${this.at} (needs ${n} more)`);
  }

  u8(): number {
    this.need(1);
    return this.view.getUint8(this.at++);
  }

  u16(): number {
    this.need(2);
    const n = this.view.getUint16(this.at);
    this.at += 2;
    return n;
  }

  u32(): number {
    this.need(4);
    const n = this.view.getUint32(this.at);
    this.at += 4;
    return n;
  }

  u53(): number {
    this.need(8);
    const high = this.view.getUint32(this.at);
    if (high >= MAX_U53_HIGH) throw badFrame(`integer beyond 2^53 at byte ${this.at}`);
    const n = high * TWO_32 + this.view.getUint32(this.at + 4);
    this.at += 8;
    return n;
  }

  /** A view into the frame: only for bytes the caller copies before the frame is reused. */
  borrow(lengthBytes: number): Uint8Array {
    this.need(lengthBytes);
    const out = this.bytes.subarray(this.at, this.at + lengthBytes);
    this.at += lengthBytes;
    return out;
  }

  /** An owned copy, safe to keep after the frame's buffer is recycled. */
  copy(lengthBytes: number): Uint8Array {
    this.need(lengthBytes);
    const out = this.bytes.slice(this.at, this.at + lengthBytes);
    this.at += lengthBytes;
    return out;
  }

  /** Guards a count read from the wire before looping or allocating on it. */
  checkCount(count: number, minBytesEach: number): void {
    if (count * minBytesEach > this.remainingBytes) throw badFrame(`count ${count} cannot fit in ${this.remainingBytes} bytes`);
  }

  end(): void {
    if (this.at !== this.bytes.length) throw badFrame(`${this.bytes.length - this.at} trailing bytes`);
  }
}
