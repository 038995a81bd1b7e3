import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { decodeCommand, decodeProposal, encodeCommand, encodeProposal, readProposal } from "./command-codec.ts";
import type { ChatCommand } from "./commands.ts";

const samples: ChatCommand[] = [
  { type: "createAccount", username: "alice", passwordHash: "$argon2id$x", idempotency: { account: "alice", key: "k" } },
  { type: "deleteAccount", username: "alice" },
  { type: "createSession", username: "alice", tokenHash: "ab12" },
  { type: "revokeSessions", username: "alice", tokenHash: null },
  { type: "sendMessage", from: "alice", to: "bob", content: "hi ☃ 😀" },
  { type: "markRead", username: "bob", ids: [1, 2], with: null, upTo: null },
  { type: "markRead", username: "bob", ids: null, with: "alice", upTo: 9 },
  { type: "deleteMessages", username: "bob", ids: [3], idempotency: { account: "bob", key: "d" } },
  { type: "sendMessage", from: "bob", to: "alice", content: "x", idempotency: { account: "bob", key: "s", digest: "ab".repeat(32) } },
  { type: "touchSession", username: "alice", tokenHash: "ab12" },
  { type: "changePassword", username: "alice", passwordHash: "$argon2id$y", keepTokenHash: "ab12" },
  { type: "changePassword", username: "alice", passwordHash: "$argon2id$y", keepTokenHash: null },
];

describe("command codec", () => {
  test("every command round-trips", () => {
    for (const command of samples) expect(decodeCommand(encodeCommand(command))).toEqual({ ok: true, value: command });
  });

  test("encoding is canonical: stray fields are not encoded", () => {
    const sloppy = { type: "deleteAccount", username: "alice", note: "not part of the command" } as unknown as ChatCommand;
    expect(encodeCommand(sloppy)).toEqual(encodeCommand({ type: "deleteAccount", username: "alice" }));
  });

  test("the proposal carries the leader's time as 8 big-endian bytes before the command", () => {
    const time = Date.UTC(2026, 10, 25, 6, 0, 0, 123);
    const data = encodeProposal(time, encodeCommand(samples[1]!));
    expect(Array.from(data.subarray(0, 8))).toEqual(Array.from(new Uint8Array(new BigUint64Array([BigInt(time)]).buffer)).reverse());
    expect(decodeProposal(data)).toEqual({ leaderTimeMs: time, command: samples[1]! });
    // A view into a larger buffer decodes the same.
    const padded = new Uint8Array(data.length + 5);
    padded.set(data, 5);
    expect(decodeProposal(padded.subarray(5))).toEqual({ leaderTimeMs: time, command: samples[1]! });
  });

  test("the leader refuses to stamp a time no Date can hold", () => {
    expect(() => encodeProposal(-1, new Uint8Array())).toThrow(RangeError);
    expect(() => encodeProposal(1.5, new Uint8Array())).toThrow(RangeError);
    expect(() => encodeProposal(8.64e15 + 1, new Uint8Array())).toThrow(RangeError);
  });

  test("unreadable proposals decode to null with a reason, never a throw", () => {
    expect(readProposal(new Uint8Array(3))).toEqual({ ok: false, reason: expect.any(String) });
    const farFuture = new Uint8Array(8).fill(0xff);
    expect(readProposal(farFuture)).toEqual({ ok: false, reason: expect.stringContaining("time") });
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (data) => {
        const decoded = decodeProposal(data);
        expect(decoded === null || typeof decoded.leaderTimeMs === "number").toBe(true);
      }),
    );
    // Refusing by the first byte decides exactly what parsing would: JSON that is not an
    // object is refused either way, and an object after JSON whitespace still decodes.
    const encoder = new TextEncoder();
    expect(decodeCommand(encoder.encode("aaaa"))).toEqual({ ok: false, reason: "the command is not a JSON object" });
    expect(decodeCommand(new Uint8Array())).toEqual({ ok: false, reason: "the command is not a JSON object" });
    expect(decodeCommand(encoder.encode(` \n${new TextDecoder().decode(encodeCommand(samples[1]!))}`))).toEqual({ ok: true, value: samples[1]! });
    fc.assert(
      fc.property(fc.jsonValue(), fc.constantFrom("", " ", "\t", "\r\n"), (value, lead) => {
        const decoded = decodeCommand(encoder.encode(lead + JSON.stringify(value)));
        if (value === null || typeof value !== "object" || Array.isArray(value)) expect(decoded.ok).toBe(false);
      }),
    );
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const bytes = new TextEncoder().encode(JSON.stringify({ v: 1, command: value }));
        expect(() => decodeCommand(bytes)).not.toThrow();
      }),
    );
  });

  test("refusals name the most basic fault: the envelope, then the version, then the fields", () => {
    const decode = (text: string) => decodeCommand(new TextEncoder().encode(text));
    const refused = (reason: string) => ({ ok: false as const, reason });
    expect(decode(" [1]")).toEqual(refused("the command envelope is malformed"));
    expect(decode('{"v":2,"command":{},"extra":1}')).toEqual(refused("the command envelope is malformed"));
    expect(decode('{"v":1,"command":{"type":"deleteAccount","username":"a"},"__proto__":{}}')).toEqual(refused("the command envelope is malformed"));
    expect(decode('{"v":2,"command":{}}')).toEqual(refused("unknown command format version 2"));
    expect(decode('{"command":{"type":"deleteAccount","username":"a"}}')).toEqual(refused("unknown command format version undefined"));
    expect(decode('{"v":1}')).toEqual(refused("the command's fields are malformed"));
    expect(decode('{"v":1,"command":{"type":"deleteAccount","username":"a","note":"x"}}')).toEqual(refused("the command's fields are malformed"));
    expect(decode('{"v":1,"command":{"type":"deleteAccount","username":"a","idempotency":{"account":"a","key":"k","digest":null}}}')).toEqual(refused("the command's fields are malformed"));
    expect(decode('{"v":1,"command":{"type":"teleport","username":"a"}}')).toEqual(refused("the command's fields are malformed"));
    // Any JSON number decodes (1e999 is Infinity): ranges are command-validation's, whose refusal names the field.
    expect(decode('{"v":1,"command":{"type":"deleteMessages","username":"a","ids":[1e999]}}')).toEqual({ ok: true, value: { type: "deleteMessages", username: "a", ids: [Infinity] } });
  });
});
