// What the core refuses to believe. NATS is the trust boundary (a sender cannot lie
// about who it is), but a member can still be buggy, and a removed server keeps
// talking: the core drops what no correct member could have sent before it moves a
// term, a match index or a read round (ARCHITECTURE.md, "Trust").

import { describe, expect, test } from "bun:test";
import { RaftInvariantError } from "./errors.ts";
import { MAX_INDEX, MAX_TERM } from "./message.ts";
import { Raft, RaftError, emptyRestoredState, type RaftConfig } from "./raft.ts";
import { SeededRng } from "./random.ts";
import type { Message, NodeId, RestoredState } from "./types.ts";
import { Network, allMessages, drainReady, enc, ents, msg, restoredState } from "./testing/network.ts";

function lone(id: NodeId, st: RestoredState, cfg: Partial<Omit<RaftConfig, "id" | "rng">> = {}): Raft {
  const r = new Raft({ id, rng: new SeededRng(id), electionTimeoutTicks: 10, ...cfg }, st);
  drainReady(r);
  return r;
}

/** Step `m` and return what came out; the node's term before and after. */
function stepped(r: Raft, m: Message): { out: Message[]; termBefore: number; termAfter: number } {
  const termBefore = r.status().term;
  r.step(m);
  const out = allMessages(drainReady(r));
  return { out, termBefore, termAfter: r.status().term };
}

const trusting = { unsafeTestingFaults: { trustImpossibleMessages: true } };

describe("acks no member could send", () => {
  test("a leader drops acks beyond its last index: two of them no longer freeze every write", () => {
    const net = Network.cluster({ voters: [1, 2, 3] });
    net.elect(1);
    const { term, lastIndex } = net.status(1);
    for (const from of [2, 3]) net.raft(1).step(msg({ type: "appResp", from, to: 1, term, index: lastIndex + 100 }));
    net.stabilize();
    for (const p of net.status(1).progress) expect(p.match).toBeLessThanOrEqual(lastIndex);
    const idx = net.propose(1, "after");
    expect(net.status(1).commit).toBe(idx);
    expect(net.node(2).sm).toEqual(["after"]);
  });

  // Past the forged index the leader would commit what no follower holds, while its
  // appends and their rejections (stale, being below the forged match) bounce forever.
  test("unsafe fault trustImpossibleMessages: two acks beyond the last index freeze commits and replication", () => {
    const net = Network.cluster({ voters: [1, 2, 3], config: trusting });
    net.elect(1);
    const { term, lastIndex, commit } = net.status(1);
    for (const from of [2, 3]) net.raft(1).step(msg({ type: "appResp", from, to: 1, term, index: lastIndex + 20 }));
    net.stabilize();
    for (let i = 0; i < 5; i++) net.propose(1, `w${i}`);
    net.tickAll(20);
    expect(net.status(1)).toMatchObject({ role: "leader", commit, lastIndex: lastIndex + 5 });
    for (const id of [2, 3]) expect(net.status(id).lastIndex).toBe(lastIndex);
  });

  test("a leader drops a rejection beyond its last index, or hinting past the index it rejects", () => {
    const net = Network.cluster({ voters: [1, 2, 3] });
    net.elect(1);
    const { term, lastIndex } = net.status(1);
    const before = net.status(1).progress.find((p) => p.id === 2)!;
    net.raft(1).step(msg({ type: "appResp", from: 2, to: 1, term, index: lastIndex + 1, reject: true, rejectHint: 0 }));
    net.raft(1).step(msg({ type: "appResp", from: 2, to: 1, term, index: lastIndex, reject: true, rejectHint: lastIndex + 5 }));
    expect(net.status(1).progress.find((p) => p.id === 2)).toEqual(before);
  });

  test("a leader drops a heartbeat answer for a read round it never broadcast: it cannot confirm a read", () => {
    const net = Network.cluster({ voters: [1, 2, 3] });
    net.elect(1);
    net.propose(1, "x");
    net.isolate(2);
    net.isolate(3);
    expect(net.raft(1).readIndex(7)).toBeNull();
    net.stabilize();
    const term = net.status(1).term;
    for (const from of [2, 3]) net.raft(1).step(msg({ type: "heartbeatResp", from, to: 1, term, context: 1_000_000 }));
    net.stabilize();
    expect(net.node(1).readStates).toEqual([]);
  });
});

describe("senders outside the configuration", () => {
  test("responses from a non-member are dropped before their term can depose a leader or a candidate", () => {
    const net = Network.cluster({ voters: [1, 2, 3] });
    net.elect(1);
    const t = net.status(1).term;
    for (const type of ["appResp", "heartbeatResp", "voteResp", "preVoteResp"] as const) {
      const { out, termAfter } = stepped(net.raft(1), msg({ type, from: 9, to: 1, term: t + 3 }));
      expect(termAfter).toBe(t);
      expect(out).toEqual([]);
    }
    expect(net.status(1).role).toBe("leader");
    // a candidate counts no grant from outside, and takes no term from a refusal
    const r = lone(1, restoredState({ voters: [1, 2, 3], term: 2 }), { preVote: false });
    r.campaign();
    drainReady(r);
    r.step(msg({ type: "voteResp", from: 9, to: 1, term: 3 }));
    r.step(msg({ type: "voteResp", from: 8, to: 1, term: 7, reject: true }));
    drainReady(r);
    expect(r.status()).toMatchObject({ role: "candidate", term: 3 });
  });

  test("unsafe fault trustImpossibleMessages: a non-member's higher-term response deposes the leader", () => {
    const net = Network.cluster({ voters: [1, 2, 3], config: trusting });
    net.elect(1);
    const t = net.status(1).term;
    stepped(net.raft(1), msg({ type: "appResp", from: 9, to: 1, term: t + 3 }));
    expect(net.status(1)).toMatchObject({ role: "follower", term: t + 3 });
  });

  test("a leader serves reads only to members", () => {
    const net = Network.cluster({ voters: [1, 2, 3] });
    net.elect(1);
    net.propose(1, "x");
    const t = net.status(1).term;
    net.raft(1).step(msg({ type: "readIndex", from: 9, to: 1, term: t, context: 5 }));
    net.stabilize();
    expect(net.sent.filter((m) => m.type === "readIndexResp")).toEqual([]);
  });

  test("a follower takes readIndexResp and timeoutNow only from its leader or a member", () => {
    const r = lone(2, restoredState({ voters: [1, 2, 3], term: 2 }));
    r.step(msg({ type: "heartbeat", from: 1, to: 2, term: 2, commit: 1 }));
    drainReady(r);
    r.step(msg({ type: "readIndexResp", from: 9, to: 2, term: 2, index: 1, context: 4 }));
    r.step(msg({ type: "timeoutNow", from: 9, to: 2, term: 2 }));
    const rds = drainReady(r);
    expect(rds.flatMap((rd) => rd.readStates)).toEqual([]);
    expect(r.status()).toMatchObject({ role: "follower", term: 2 });
    r.step(msg({ type: "readIndexResp", from: 1, to: 2, term: 2, index: 1, context: 4 }));
    expect(drainReady(r).flatMap((rd) => rd.readStates)).toEqual([{ index: 1, context: 4 }]);
  });

  test("appends, heartbeats and snapshots are taken from a leader the configuration does not name yet (a lagging or brand-new node)", () => {
    // a member whose configuration lags: node 4 was added and now leads term 5
    const lagging = lone(2, restoredState({ voters: [1, 2, 3], term: 3, entries: ents(2, [3]) }));
    lagging.step(msg({ type: "app", from: 4, to: 2, term: 5, index: 2, logTerm: 3, entries: ents(3, [5]), commit: 3 }));
    drainReady(lagging);
    expect(lagging.status()).toMatchObject({ term: 5, leader: 4, lastIndex: 3, commit: 3 });
    lagging.step(msg({ type: "heartbeat", from: 4, to: 2, term: 5, commit: 3 }));
    expect(allMessages(drainReady(lagging)).filter((m) => m.type === "heartbeatResp" && m.to === 4).length).toBe(1);
    // a node started empty with --join knows no configuration at all
    const fresh = lone(5, emptyRestoredState());
    const conf = { voters: [1, 2, 3], learners: [5] };
    fresh.step(msg({ type: "snap", from: 1, to: 5, term: 4, snapshot: { index: 10, term: 4, conf } }));
    const rds = drainReady(fresh);
    expect(rds.some((rd) => rd.snapshot?.index === 10)).toBe(true);
    expect(fresh.status()).toMatchObject({ term: 4, leader: 1, commit: 10, conf });
  });

  test("a vote request from a non-member is dropped, term and all, unless its log is more up to date than ours", () => {
    for (const type of ["vote", "preVote"] as const) {
      const r = lone(1, restoredState({ voters: [1, 2, 3], term: 2, entries: ents(2, [2, 2]) }));
      // a removed server: its log lacks what we hold
      const stale = stepped(r, msg({ type, from: 9, to: 1, term: 6, index: 2, logTerm: 2 }));
      expect(stale.out).toEqual([]);
      expect(stale.termAfter).toBe(2);
      // a voter our configuration does not know yet: heard, and granted on its log
      const ahead = stepped(r, msg({ type, from: 9, to: 1, term: 6, index: 3, logTerm: 3 }));
      const resp = ahead.out.filter((m) => m.type === (type === "vote" ? "voteResp" : "preVoteResp"));
      expect(resp.map((m) => m.reject)).toEqual([false]);
      expect(ahead.termAfter).toBe(type === "vote" ? 6 : 2);
    }
  });

  // Without check-quorum a leader honours any higher-term vote request (no lease), so
  // only the membership rule keeps a removed server from deposing it again and again.
  function removedServerCampaigns(cfg: Partial<Omit<RaftConfig, "id" | "rng">>): { net: Network; term: number } {
    const net = Network.cluster({ voters: [1, 2, 3], config: { checkQuorum: false, preVote: false, ...cfg } });
    net.elect(1);
    net.isolate(3);
    const res = net.raft(1).proposeConfChange({ type: "removeNode", nodeId: 3 });
    if (res instanceof RaftError) throw res;
    net.stabilize();
    net.propose(1, "after-removal");
    const term = net.status(1).term;
    net.tick(3, 30); // 3 never learned of its removal and keeps raising its term
    expect(net.status(3).term).toBeGreaterThan(term + 1);
    net.heal();
    net.tickAll(30);
    return { net, term };
  }

  test("a removed server that keeps campaigning cannot raise the members' terms even without leases", () => {
    const { net, term } = removedServerCampaigns({});
    expect(net.leader()).toBe(1);
    expect(net.status(1).term).toBe(term);
    expect(net.status(2)).toMatchObject({ role: "follower", leader: 1, term });
  });

  test("unsafe fault trustImpossibleMessages: the removed server's vote requests depose the leader and raise every term", () => {
    const { net, term } = removedServerCampaigns(trusting);
    expect(net.status(1).term).toBeGreaterThan(term);
    expect(net.status(2).term).toBeGreaterThan(term);
  });

  test("a message from no one (node 0) or from ourselves is dropped: a vote for 0 would read as no vote at all", () => {
    const r = lone(1, restoredState({ voters: [1, 2, 3], term: 2 }));
    for (const from of [0, 1]) {
      const { out, termAfter } = stepped(r, msg({ type: "vote", from, to: 1, term: 3, index: 5, logTerm: 2 }));
      expect(out).toEqual([]);
      expect(termAfter).toBe(2);
    }
  });
});

describe("malformed requests", () => {
  const follower = (cfg: Partial<Omit<RaftConfig, "id" | "rng">> = {}): Raft =>
    lone(2, restoredState({ voters: [1, 2, 3], term: 3, entries: ents(2, [3]) }), cfg);

  test("an append whose entries do not follow its index in its own terms is dropped whole", () => {
    const bad: Partial<Message>[] = [
      { index: 2, logTerm: 3, entries: [ents(3, [3])[0]!, ents(5, [3])[0]!] }, // a gap
      { index: 2, logTerm: 3, entries: ents(4, [3]) }, // not after index
      { index: 2, logTerm: 3, entries: ents(3, [4, 3]) }, // terms go down
      { index: 2, logTerm: 3, entries: ents(3, [2]) }, // below logTerm
      { index: 2, logTerm: 3, entries: ents(3, [5]) }, // above the sender's term
      { index: 2, logTerm: 5, entries: [] }, // logTerm above the sender's term
    ];
    for (const over of bad) {
      const r = follower();
      const { out } = stepped(r, msg({ type: "app", from: 1, to: 2, term: 4, commit: 3, ...over }));
      expect(out).toEqual([]);
      expect(r.status()).toMatchObject({ term: 3, lastIndex: 2, commit: 1 });
    }
  });

  test("a heartbeat committing beyond our log is dropped (it used to throw from commitTo)", () => {
    const r = follower();
    const { out } = stepped(r, msg({ type: "heartbeat", from: 1, to: 2, term: 3, commit: 99 }));
    expect(out).toEqual([]);
    expect(r.status().commit).toBe(1);
    expect(() => follower(trusting).step(msg({ type: "heartbeat", from: 1, to: 2, term: 3, commit: 99 }))).toThrow(RaftInvariantError);
  });

  test("a snap without its snapshot, or with no voter or a term above its sender's, is dropped", () => {
    const conf = { voters: [1, 2, 3], learners: [] };
    const bad: Partial<Message>[] = [
      { snapshot: null },
      { snapshot: { index: 9, term: 3, conf: { voters: [], learners: [2] } } },
      { snapshot: { index: 9, term: 5, conf } },
    ];
    for (const over of bad) {
      const r = follower();
      const { out } = stepped(r, msg({ type: "snap", from: 1, to: 2, term: 4, ...over }));
      expect(out).toEqual([]);
      expect(r.status()).toMatchObject({ term: 3, lastIndex: 2, snapshotIndex: 1 });
    }
  });
});

describe("bounds on terms and indexes", () => {
  test("a message beyond MAX_TERM or MAX_INDEX is dropped and its term never adopted (or persisted)", () => {
    const bad: Message[] = [
      msg({ type: "heartbeat", from: 1, to: 2, term: MAX_TERM + 1 }),
      msg({ type: "heartbeat", from: 1, to: 2, term: 2 ** 53 - 1 }),
      msg({ type: "vote", from: 3, to: 2, term: 4, index: MAX_INDEX + 1, logTerm: 3 }),
      msg({ type: "vote", from: 3, to: 2, term: 4, index: 2, logTerm: MAX_TERM + 1 }),
      msg({ type: "app", from: 1, to: 2, term: 4, index: 2, logTerm: 3, commit: MAX_INDEX + 1 }),
      msg({ type: "app", from: 1, to: 2, term: 4, index: 2, logTerm: 3, entries: [{ index: 3, term: 2 ** 53, kind: "normal", data: enc("x") }] }),
      msg({ type: "snap", from: 1, to: 2, term: 4, snapshot: { index: MAX_INDEX + 1, term: 4, conf: { voters: [1], learners: [] } } }),
      msg({ type: "heartbeat", from: 1, to: 2, term: Number.NaN }),
      msg({ type: "heartbeat", from: 1, to: 2, term: 3.5 }),
    ];
    for (const m of bad) {
      // trusting or not: the bounds always hold
      for (const cfg of [{}, trusting]) {
        const r = lone(2, restoredState({ voters: [1, 2, 3], term: 3, entries: ents(2, [3]) }), cfg);
        r.step(m);
        const rds = drainReady(r);
        expect(allMessages(rds)).toEqual([]);
        expect(rds.every((rd) => rd.hardState === null)).toBe(true);
        expect(r.status()).toMatchObject({ term: 3, lastIndex: 2, snapshotIndex: 1 });
      }
    }
  });

  test("a node at MAX_TERM follows a leader of that term but never campaigns past it", () => {
    const r = lone(2, restoredState({ voters: [1, 2, 3], term: MAX_TERM - 1 }), { preVote: false });
    r.step(msg({ type: "heartbeat", from: 1, to: 2, term: MAX_TERM, commit: 1 }));
    drainReady(r);
    expect(r.status()).toMatchObject({ term: MAX_TERM, leader: 1 });
    const out: Message[] = [];
    for (let i = 0; i < 40; i++) {
      r.tick();
      out.push(...allMessages(drainReady(r)));
    }
    r.campaign();
    out.push(...allMessages(drainReady(r)));
    expect(out.filter((m) => m.type === "vote" || m.type === "preVote")).toEqual([]);
    expect(r.status()).toMatchObject({ role: "follower", term: MAX_TERM });
  });

  test("a durable term beyond MAX_TERM is refused at start with a clear error", () => {
    expect(() => new Raft({ id: 1, rng: new SeededRng(1) }, restoredState({ voters: [1, 2, 3], term: 2 ** 53 - 1 }))).toThrow(
      /restored term 9007199254740991 exceeds the largest term/,
    );
  });
});
