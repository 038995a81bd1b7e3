import { describe, expect, test } from "bun:test";
import { decodeForwardedRequest, encodeForwardedReply, type ForwardedReply, type ForwardedRequest } from "./forwarding.ts";
import { ProposalBatcher } from "./proposal-batcher.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (data: Uint8Array) => new TextDecoder().decode(data);

/** An exchange that records requests and answers each proposal with its own text. */
function echoing(): { sent: { to: number; request: ForwardedRequest }[]; batcher: ProposalBatcher } {
  const sent: { to: number; request: ForwardedRequest }[] = [];
  const batcher = new ProposalBatcher(async (to, payload) => {
    const request = decodeForwardedRequest(payload)!;
    sent.push({ to, request });
    const answer = (data: Uint8Array): ForwardedReply => ({ ok: true, result: `${to}:${text(data)}` });
    if (request.kind === "propose") return encodeForwardedReply(answer(request.data));
    if (request.kind === "proposeBatch") return encodeForwardedReply({ ok: true, result: request.data.map(answer) });
    throw new Error("unexpected request");
  });
  return { sent, batcher };
}

describe("ProposalBatcher", () => {
  test("proposals of one turn to one node travel as one request; each gets its own answer, in order", async () => {
    const { sent, batcher } = echoing();
    const deadline = Date.now() + 1000;
    const replies = await Promise.all(["a", "b", "c"].map((t) => batcher.propose(1, bytes(t), deadline)));
    expect(replies).toEqual([
      { ok: true, result: "1:a" },
      { ok: true, result: "1:b" },
      { ok: true, result: "1:c" },
    ]);
    expect(sent.map((s) => s.request.kind)).toEqual(["proposeBatch"]);
  });

  test("a lone proposal goes as a plain propose; other nodes and later turns get requests of their own", async () => {
    const { sent, batcher } = echoing();
    const deadline = Date.now() + 1000;
    const first = await Promise.all([batcher.propose(1, bytes("a"), deadline), batcher.propose(2, bytes("b"), deadline)]);
    expect(first).toEqual([
      { ok: true, result: "1:a" },
      { ok: true, result: "2:b" },
    ]);
    expect(await batcher.propose(1, bytes("c"), deadline)).toEqual({ ok: true, result: "1:c" });
    expect(sent.map((s) => [s.to, s.request.kind])).toEqual([
      [1, "propose"],
      [2, "propose"],
      [1, "propose"],
    ]);
  });

  test("a failed exchange rejects every proposal of the batch; a refused batch answers each with the refusal", async () => {
    const failing = new ProposalBatcher(async () => {
      throw new Error("no responders");
    });
    const deadline = Date.now() + 1000;
    const outcomes = await Promise.allSettled([failing.propose(1, bytes("a"), deadline), failing.propose(1, bytes("b"), deadline)]);
    expect(outcomes.map((o) => o.status)).toEqual(["rejected", "rejected"]);

    const refusal: ForwardedReply = { ok: false, code: "not_leader", message: "node 1 is not the leader" };
    const refusing = new ProposalBatcher(async () => encodeForwardedReply(refusal));
    expect(await Promise.all([refusing.propose(1, bytes("a"), deadline), refusing.propose(1, bytes("b"), deadline)])).toEqual([refusal, refusal]);
  });

  test("the request's timeout is the latest deadline of its proposals", async () => {
    const timeouts: number[] = [];
    const batcher = new ProposalBatcher(async (_to, payload, timeoutMs) => {
      timeouts.push(timeoutMs);
      const request = decodeForwardedRequest(payload)!;
      const count = request.kind === "proposeBatch" ? request.data.length : 1;
      return encodeForwardedReply({ ok: true, result: Array.from({ length: count }, () => ({ ok: true, result: null })) });
    });
    const now = Date.now();
    await Promise.all([batcher.propose(1, bytes("a"), now + 100), batcher.propose(1, bytes("b"), now + 5000)]);
    expect(timeouts).toHaveLength(1);
    expect(timeouts[0]!).toBeGreaterThan(4000);
    expect(timeouts[0]!).toBeLessThanOrEqual(5000);
  });
});
