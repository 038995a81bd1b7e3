// Leader election: §5.1 terms, §5.2 elections, §5.4.1 the election restriction,
// §9.6 pre-vote, §4.2.3 leases against disruptive servers, §6.2 check-quorum,
// §3.10 leadership transfer.

import { describe, expect, test } from "bun:test";
import { Raft, RaftError, type RaftConfig } from "./raft.ts";
import { SeededRng } from "./random.ts";
import type { Message, NodeId, RestoredState } from "./types.ts";
import { Network, allMessages, drainReady, enc, ents, msg, restoredState, takeReady } from "./testing/network.ts";

const sorted = (ids: readonly NodeId[]): NodeId[] => [...ids].sort((a, b) => a - b);

function lone(id: NodeId, st: RestoredState, cfg: Partial<Omit<RaftConfig, "id" | "rng">> = {}): Raft {
  const r = new Raft({ id, rng: new SeededRng(id), electionTimeoutTicks: 10, ...cfg }, st);
  drainReady(r);
  return r;
}

/** Tick a lone node until it leaves the follower role (at most 2t ticks): what it sent, and the ticks it took. */
function tickUntilCampaign(r: Raft, t = 10): { sent: Message[]; ticks: number } {
  const out: Message[] = [];
  let ticks = 0;
  for (; ticks < 2 * t && r.status().role === "follower"; ticks++) {
    r.tick();
    out.push(...allMessages(drainReady(r)));
  }
  return { sent: out, ticks };
}

const sent = (rd: { messages: readonly Message[]; messagesAfterPersist: readonly Message[] }): Message[] => [
  ...rd.messages,
  ...rd.messagesAfterPersist,
];

describe("§5.2 elections", () => {
  test("§5.2 a follower that times out becomes a candidate, bumps its term and votes for itself", () => {
    const r = lone(1, restoredState({ voters: [1, 2, 3], term: 2, entries: ents(2, [1, 2]) }), { preVote: false });
    const r0 = r.status();
    expect(r0.role).toBe("follower");
    let hs = null;
    const out: Message[] = [];
    for (let i = 0; i < 20 && r.status().role === "follower"; i++) {
      r.tick();
      for (const rd of drainReady(r)) {
        if (rd.hardState) hs = rd.hardState;
        out.push(...sent(rd));
      }
    }
    const s = r.status();
    expect(s.role).toBe("candidate");
    expect(s.term).toBe(3);
    expect(s.vote).toBe(1);
    // the self-vote and the new term are written out
    expect(hs).toEqual({ term: 3, vote: 1, commit: 1 });
    // §5.2 RequestVote to every other voter, carrying the candidate's last log index and term
    const votes = out.filter((m) => m.type === "vote");
    expect(votes.map((m) => m.to).sort()).toEqual([2, 3]);
    for (const m of votes) {
      expect(m.term).toBe(3);
      expect(m.index).toBe(3);
      expect(m.logTerm).toBe(2);
      expect(m.context).toBe(0);
    }
  });

  test("§5.2 a candidate that wins a majority becomes leader and appends an empty entry of its term (§5.4.2, §8)", () => {
    const r = lone(1, restoredState({ voters: [1, 2, 3], term: 2, entries: ents(2, [1, 2]) }), { preVote: false });
    r.campaign();
    drainReady(r);
    expect(r.status().role).toBe("candidate");
    r.step(msg({ type: "voteResp", from: 2, to: 1, term: 3 }));
    const rds = drainReady(r);
    const s = r.status();
    expect(s.role).toBe("leader");
    expect(s.leader).toBe(1);
    const appended = rds.flatMap((rd) => [...rd.entries]);
    expect(appended.length).toBe(1);
    expect(appended[0]!.index).toBe(4);
    expect(appended[0]!.term).toBe(3);
    expect(appended[0]!.kind).toBe("normal");
    expect(appended[0]!.data.length).toBe(0);
    // and it announces itself to both followers
    const apps = allMessages(rds).filter((m) => m.type === "app");
    expect(new Set(apps.map((m) => m.to))).toEqual(new Set([2, 3]));
    expect(rds.some((rd) => rd.softState?.role === "leader" && rd.softState.leader === 1)).toBe(true);
  });

  test("§5.2 a candidate does not win without a majority (rejections and silence)", () => {
    const r = lone(1, restoredState({ voters: [1, 2, 3, 4, 5], term: 2 }), { preVote: false });
    r.campaign();
    drainReady(r);
    r.step(msg({ type: "voteResp", from: 2, to: 1, term: 3 }));
    r.step(msg({ type: "voteResp", from: 3, to: 1, term: 3, reject: true }));
    r.step(msg({ type: "voteResp", from: 2, to: 1, term: 3 })); // a duplicate grant counts once
    drainReady(r);
    expect(r.status().role).not.toBe("leader");
  });

  test("§5.2 at most one vote per term, durable before the response (messagesAfterPersist)", () => {
    const r = lone(1, restoredState({ voters: [1, 2, 3], term: 2, entries: ents(2, [2]) }));
    r.step(msg({ type: "vote", from: 2, to: 1, term: 3, index: 2, logTerm: 2 }));
    const rd = takeReady(r);
    // the grant promises durability: it waits for the vote (and term) to be written
    expect(rd.hardState).not.toBeNull();
    expect(rd.hardState!.term).toBe(3);
    expect(rd.hardState!.vote).toBe(2);
    const grants = rd.messagesAfterPersist.filter((m) => m.type === "voteResp");
    expect(grants.length).toBe(1);
    expect(grants[0]!.reject).toBe(false);
    expect(grants[0]!.term).toBe(3);
    expect(rd.messages.filter((m) => m.type === "voteResp")).toEqual([]);
    // a second candidate in the same term with an equally good log is refused
    r.step(msg({ type: "vote", from: 3, to: 1, term: 3, index: 2, logTerm: 2 }));
    const rd2 = takeReady(r);
    const resp2 = sent(rd2).filter((m) => m.type === "voteResp");
    expect(resp2.length).toBe(1);
    expect(resp2[0]!.reject).toBe(true);
    expect(r.status().vote).toBe(2);
    // a retry from the candidate we voted for is granted again (idempotent)
    r.step(msg({ type: "vote", from: 2, to: 1, term: 3, index: 2, logTerm: 2 }));
    const resp3 = sent(takeReady(r)).filter((m) => m.type === "voteResp");
    expect(resp3.length).toBe(1);
    expect(resp3[0]!.reject).toBe(false);
  });

  test("§5.2 a vote survives a crash: the restarted voter refuses another candidate in the same term", () => {
    const net = Network.fromStates(
      {
        1: restoredState({ voters: [1, 2, 3], term: 2 }),
        2: restoredState({ voters: [1, 2, 3], term: 2 }),
        3: restoredState({ voters: [1, 2, 3], term: 2 }),
      },
      { preVote: false },
    );
    net.isolate(3);
    net.campaign(1); // 2 votes for 1 in term 3 and 1 wins
    expect(net.status(1).role).toBe("leader");
    expect(net.node(2).stored.hardState).toMatchObject({ term: 3, vote: 1 });
    net.crash(2);
    net.restart(2);
    net.stabilize();
    const r2 = net.raft(2);
    expect(r2.status().vote).toBe(1);
    r2.step(msg({ type: "vote", from: 3, to: 2, term: 3, index: 5, logTerm: 3, context: 1 }));
    const resp = sent(takeReady(r2)).filter((m) => m.type === "voteResp");
    expect(resp.every((m) => m.reject)).toBe(true);
    expect(r2.status().vote).toBe(1);
  });

  test("§5.2 split vote: no leader in the split term; a later election with a higher term elects exactly one", () => {
    const net = Network.cluster({ voters: [1, 2, 3, 4], config: { preVote: false } });
    // 1 and 3 campaign at once; 2 votes for 1, 4 votes for 3: two votes each, no majority of 4
    net.cut(1, 4);
    net.cut(3, 2);
    net.raft(1).campaign();
    net.raft(3).campaign();
    net.stabilize();
    const splitTerm = net.status(1).term;
    expect(net.status(3).term).toBe(splitTerm);
    for (const id of [1, 2, 3, 4]) expect(net.status(id).role).not.toBe("leader");
    net.heal();
    for (let i = 0; i < 100 && net.leader() === 0; i++) net.tickAll(1);
    const l = net.leader();
    expect(l).not.toBe(0);
    expect(net.status(l).term).toBeGreaterThan(splitTerm);
    expect([1, 2, 3, 4].filter((id) => net.status(id).role === "leader")).toEqual([l]);
  });

  test("§5.2 a candidate that learns of a leader of its own term becomes a follower", () => {
    const r = lone(1, restoredState({ voters: [1, 2, 3], term: 2 }), { preVote: false });
    r.campaign();
    drainReady(r);
    expect(r.status()).toMatchObject({ role: "candidate", term: 3 });
    r.step(msg({ type: "app", from: 2, to: 1, term: 3, index: 1, logTerm: 1, entries: ents(2, [3]), commit: 1 }));
    drainReady(r);
    expect(r.status()).toMatchObject({ role: "follower", term: 3, leader: 2, lastIndex: 2 });
  });
});

describe("§5.1 terms", () => {
  test("§5.1 a leader that sees a higher term in a response adopts it and becomes a follower", () => {
    const net = Network.cluster({ voters: [1, 2, 3] });
    net.elect(1);
    const t = net.status(1).term;
    net.raft(1).step(msg({ type: "appResp", from: 2, to: 1, term: t + 5, index: 0, reject: true }));
    net.stabilize();
    const s = net.status(1);
    expect(s.role).toBe("follower");
    expect(s.term).toBe(t + 5);
    expect(s.vote).toBe(0);
    expect(net.node(1).stored.hardState.term).toBe(t + 5);
  });

  test("§5.1 a request from a stale term is rejected and answered with the current term, deposing the stale leader", () => {
    const r = lone(2, restoredState({ voters: [1, 2, 3], term: 5, entries: ents(2, [5]) }));
    r.step(msg({ type: "app", from: 1, to: 2, term: 3, index: 1, logTerm: 1, entries: ents(2, [3]), commit: 2 }));
    const rds = drainReady(r);
    expect(r.status()).toMatchObject({ term: 5, lastIndex: 2, commit: 1 });
    expect(rds.flatMap((rd) => [...rd.entries])).toEqual([]);
    // §5.1 "the request is rejected" and the reply carries the current term
    const replies = allMessages(rds).filter((m) => m.to === 1);
    expect(replies.length).toBeGreaterThanOrEqual(1);
    for (const m of replies) expect(m.term).toBe(5);
    // the stale leader, on reading that reply, steps down to the new term
    const stale = lone(1, restoredState({ voters: [1, 2, 3], term: 3 }), { preVote: false });
    stale.campaign();
    drainReady(stale);
    stale.step(msg({ type: "voteResp", from: 3, to: 1, term: 4 }));
    drainReady(stale);
    expect(stale.status()).toMatchObject({ role: "leader", term: 4 });
    for (const m of replies) stale.step({ ...m, to: 1, from: 2 });
    drainReady(stale);
    expect(stale.status()).toMatchObject({ role: "follower", term: 5 });
    // and a stale candidate gets no vote
    r.step(msg({ type: "vote", from: 3, to: 2, term: 4, index: 10, logTerm: 4 }));
    const rs = allMessages(drainReady(r)).filter((m) => m.type === "voteResp");
    expect(rs.every((m) => m.reject)).toBe(true);
    expect(r.status().vote).toBe(0);
  });

  test("§5.1 a vote request from a stale term is refused with the current term, and the candidate moves to it", () => {
    for (const preVote of [false, true]) {
      const voter = lone(2, restoredState({ voters: [1, 2, 3], term: 7 }));
      const type = preVote ? "preVote" : "vote";
      voter.step(msg({ type, from: 1, to: 2, term: 5, index: 1, logTerm: 1 }));
      const resp = allMessages(drainReady(voter)).filter((m) => m.type === `${type}Resp`);
      expect(resp.map((m) => ({ term: m.term, reject: m.reject }))).toEqual([{ term: 7, reject: true }]);
      expect(voter.status()).toMatchObject({ term: 7, vote: 0 });
    }
    // Without the answer, a candidate that the others' terms have overtaken would
    // only ever learn of them from a voter that asks it for a vote.
    const candidate = lone(1, restoredState({ voters: [1, 2, 3], term: 4 }), { preVote: false });
    candidate.campaign();
    drainReady(candidate);
    candidate.step(msg({ type: "voteResp", from: 2, to: 1, term: 7, reject: true }));
    drainReady(candidate);
    expect(candidate.status()).toMatchObject({ role: "follower", term: 7 });
    candidate.campaign();
    const votes = allMessages(drainReady(candidate)).filter((m) => m.type === "vote");
    expect(votes.map((m) => m.term)).toEqual([8, 8]);
  });

  test("§5.1 a stale leader cut off by a partition steps down when it hears the new term", () => {
    const net = Network.cluster({ voters: [1, 2, 3], config: { checkQuorum: false } });
    net.elect(1);
    net.isolate(1);
    net.elect(2);
    expect(net.status(1).role).toBe("leader"); // still believes it leads (no check-quorum)
    net.heal();
    net.tickAll(1);
    expect(net.status(1).role).toBe("follower");
    expect(net.status(1).term).toBe(net.status(2).term);
    expect(net.status(1).leader).toBe(2);
  });
});

describe("§5.4.1 election restriction", () => {
  // voter 1's log: entries 2..4 with terms [1, 2, 2] (last = (4, t2)), term 2
  const cases: { name: string; index: number; logTerm: number; grant: boolean }[] = [
    { name: "lower last term, longer log", index: 9, logTerm: 1, grant: false },
    { name: "same last term, shorter log", index: 3, logTerm: 2, grant: false },
    { name: "same last term, same length", index: 4, logTerm: 2, grant: true },
    { name: "same last term, longer log", index: 5, logTerm: 2, grant: true },
    { name: "higher last term, shorter log", index: 2, logTerm: 3, grant: true },
  ];
  for (const c of cases) {
    test(`§5.4.1 a voter refuses a candidate whose log is less up-to-date (${c.name} → ${c.grant ? "grant" : "refuse"})`, () => {
      for (const type of ["vote", "preVote"] as const) {
        const r = lone(1, restoredState({ voters: [1, 2, 3], term: 2, entries: ents(2, [1, 2, 2]) }));
        r.step(msg({ type, from: 2, to: 1, term: 3, index: c.index, logTerm: c.logTerm }));
        const resp = allMessages(drainReady(r)).filter((m) => m.type === (type === "vote" ? "voteResp" : "preVoteResp"));
        expect(resp.length).toBe(1);
        expect(resp[0]!.reject).toBe(!c.grant);
        if (type === "vote") expect(r.status().vote).toBe(c.grant ? 2 : 0);
      }
    });
  }

  test("§5.2 a stale candidate moves a follower's term but not its election timer: the up-to-date follower still campaigns on time", () => {
    // Without pre-vote, candidates that cannot win keep raising terms. A follower that
    // restarted its timer on each of their requests would never campaign itself, and
    // only it can win (whole-node seed 163509: no leader for 800 ticks).
    const st = () => restoredState({ voters: [1, 2, 3], term: 2, entries: ents(2, [1, 2, 2]) });
    const untouchedTicks = tickUntilCampaign(lone(1, st(), { preVote: false })).ticks;
    const r = lone(1, st(), { preVote: false });
    let ticks = 0;
    for (let term = 3; r.status().role === "follower" && ticks < 40; term++) {
      // A stale candidate (its last entry is (3, t1)) asks every few ticks, each time for a higher term.
      r.step(msg({ type: "vote", from: 2, to: 1, term, index: 3, logTerm: 1 }));
      const refused = allMessages(drainReady(r)).filter((m) => m.type === "voteResp");
      expect(refused.map((m) => m.reject)).toEqual([true]);
      for (let i = 0; i < 3 && r.status().role === "follower"; i++, ticks++) {
        r.tick();
        drainReady(r);
      }
    }
    expect(r.status().role).toBe("candidate");
    // As many ticks as with nobody asking: the requests restarted nothing.
    expect(ticks).toBe(untouchedTicks);
  });

  test("§5.4.1 a node with a stale log cannot become leader; the up-to-date node can", () => {
    const net = Network.fromStates(
      {
        1: restoredState({ voters: [1, 2, 3], term: 3, entries: ents(2, [2]) }),
        2: restoredState({ voters: [1, 2, 3], term: 3, entries: ents(2, [2, 3]) }),
        3: restoredState({ voters: [1, 2, 3], term: 3, entries: ents(2, [2, 3]) }),
      },
      { preVote: false },
    );
    net.campaign(1);
    expect(net.status(1).role).not.toBe("leader");
    net.campaign(2);
    expect(net.status(2).role).toBe("leader");
    net.stabilize();
    // 1 catches up on the leader's log, never the other way round
    expect(net.logTerms(1)).toEqual(net.logTerms(2));
  });
});

describe("§9.6 pre-vote", () => {
  test("§9.6 pre-vote does not bump terms: an isolated node keeps its term; without pre-vote it would not", () => {
    for (const preVote of [true, false]) {
      const net = Network.cluster({ voters: [1, 2, 3], config: { preVote } });
      net.elect(1);
      const t = net.status(1).term;
      net.isolate(3);
      net.tickAll(100);
      if (preVote) {
        expect(net.status(3).term).toBe(t);
        expect(net.node(3).stored.hardState.term).toBe(t);
      } else {
        expect(net.status(3).term).toBeGreaterThan(t + 3);
      }
      expect(net.status(1).role).toBe("leader");
      expect(net.status(1).term).toBe(t);
      if (preVote) {
        // on rejoin it does not disrupt: same leader, same term
        net.heal();
        net.tickAll(30);
        expect(net.leader()).toBe(1);
        expect(net.status(1).term).toBe(t);
        expect(net.status(3)).toMatchObject({ role: "follower", leader: 1, term: t });
      }
    }
  });

  test("§9.6 a pre-vote is granted without changing the voter's term or vote", () => {
    const r = lone(1, restoredState({ voters: [1, 2, 3], term: 2, entries: ents(2, [2]) }));
    r.step(msg({ type: "preVote", from: 2, to: 1, term: 3, index: 2, logTerm: 2 }));
    const rds = drainReady(r);
    const resp = allMessages(rds).filter((m) => m.type === "preVoteResp");
    expect(resp.length).toBe(1);
    expect(resp[0]!.reject).toBe(false);
    expect(r.status()).toMatchObject({ term: 2, vote: 0 });
    expect(rds.every((rd) => rd.hardState === null)).toBe(true);
    // so it can still grant its real vote to someone else in term 3
    r.step(msg({ type: "vote", from: 3, to: 1, term: 3, index: 2, logTerm: 2 }));
    const v = allMessages(drainReady(r)).filter((m) => m.type === "voteResp");
    expect(v.length).toBe(1);
    expect(v[0]!.reject).toBe(false);
  });

  test("§9.6 a pre-candidate asks for term+1 without bumping its own term, and becomes candidate only after a pre-vote quorum", () => {
    const r = lone(1, restoredState({ voters: [1, 2, 3, 4, 5], term: 4, entries: ents(2, [4]) }), { preVote: true });
    const out = tickUntilCampaign(r).sent;
    expect(r.status()).toMatchObject({ role: "preCandidate", term: 4 });
    const pv = out.filter((m) => m.type === "preVote");
    expect(pv.length).toBe(4);
    for (const m of pv) expect(m).toMatchObject({ term: 5, index: 2, logTerm: 4 });
    expect(out.filter((m) => m.type === "vote")).toEqual([]);
    r.step(msg({ type: "preVoteResp", from: 2, to: 1, term: 5 }));
    drainReady(r);
    expect(r.status()).toMatchObject({ role: "preCandidate", term: 4 });
    r.step(msg({ type: "preVoteResp", from: 3, to: 1, term: 5 }));
    const out2 = allMessages(drainReady(r));
    expect(r.status()).toMatchObject({ role: "candidate", term: 5, vote: 1 });
    expect(out2.filter((m) => m.type === "vote").length).toBe(4);
  });
});

describe("§4.2.3 / §6.2 leases and check-quorum", () => {
  test("§4.2.3 votes refused while a live leader is known (no term change), unless the election is a transfer", () => {
    const net = Network.cluster({ voters: [1, 2, 3] });
    net.elect(1);
    net.tickAll(2);
    const t = net.status(2).term;
    const last = net.status(3).lastIndex;
    const r2 = net.raft(2);
    const v0 = net.status(2).vote;
    for (const type of ["vote", "preVote"] as const) {
      r2.step(msg({ type, from: 3, to: 2, term: t + 1, index: last + 5, logTerm: t }));
      const out = allMessages(drainReady(r2));
      expect(out.filter((m) => (m.type === "voteResp" || m.type === "preVoteResp") && !m.reject)).toEqual([]);
      expect(net.status(2)).toMatchObject({ term: t, leader: 1, vote: v0 });
    }
    // the leader itself is not deposed by such a candidate either
    const r1 = net.raft(1);
    r1.step(msg({ type: "vote", from: 3, to: 1, term: t + 1, index: last + 5, logTerm: t }));
    drainReady(r1);
    expect(net.status(1)).toMatchObject({ role: "leader", term: t });
    // a transfer-initiated election (context 1) is the exception
    r2.step(msg({ type: "vote", from: 3, to: 2, term: t + 1, index: last, logTerm: t, context: 1 }));
    const out = allMessages(drainReady(r2)).filter((m) => m.type === "voteResp");
    expect(out.length).toBe(1);
    expect(out[0]!.reject).toBe(false);
    expect(net.status(2)).toMatchObject({ term: t + 1, vote: 3 });
  });

  test("§4.2.3 once the lease has expired (no leader heard for an election timeout) votes are granted again", () => {
    const net = Network.cluster({ voters: [1, 2, 3], config: { preVote: false } });
    net.elect(1);
    net.crash(1);
    net.tick(2, 10); // minimum election timeout without hearing from the leader
    const t = net.status(2).term;
    const r2 = net.raft(2);
    r2.step(msg({ type: "vote", from: 3, to: 2, term: t + 1, index: 99, logTerm: t }));
    const out = allMessages(drainReady(r2)).filter((m) => m.type === "voteResp");
    expect(out.length).toBe(1);
    expect(out[0]!.reject).toBe(false);
  });

  test("§6.2 check-quorum: an isolated leader steps down within two election timeouts", () => {
    const net = Network.cluster({ voters: [1, 2, 3, 4, 5] });
    net.elect(1);
    net.isolate(1);
    let steppedDownAt = -1;
    for (let i = 1; i <= 20; i++) {
      net.tick(1);
      if (net.status(1).role !== "leader") {
        steppedDownAt = i;
        break;
      }
    }
    expect(steppedDownAt).toBeGreaterThan(0);
    expect(net.status(1).leader).toBe(0);
    // a minority partition (leader + 1 follower) also loses leadership
    net.heal();
    for (let i = 0; i < 100 && net.leader() === 0; i++) net.tickAll(1);
    const l = net.leader();
    expect(l).not.toBe(0);
    const other = [1, 2, 3, 4, 5].find((x) => x !== l)!;
    for (const id of [1, 2, 3, 4, 5]) if (id !== l && id !== other) net.isolate(id);
    net.tickAll(25);
    expect(net.status(l).role).not.toBe("leader");
  });

  test("§6.2 check-quorum: a leader that hears from a quorum keeps leading through many election timeouts", () => {
    const net = Network.cluster({ voters: [1, 2, 3, 4, 5] });
    net.elect(1);
    const t = net.status(1).term;
    net.isolate(4);
    net.isolate(5);
    net.tickAll(100);
    expect(net.leader()).toBe(1);
    expect(net.status(1).term).toBe(t);
    for (const id of [2, 3]) expect(net.status(id)).toMatchObject({ role: "follower", leader: 1, term: t });
  });

  test("§6.2 without check-quorum an isolated leader keeps its role (the option is what steps it down)", () => {
    const net = Network.cluster({ voters: [1, 2, 3], config: { checkQuorum: false } });
    net.elect(1);
    net.isolate(1);
    net.tick(1, 50);
    expect(net.status(1).role).toBe("leader");
  });
});

describe("§3.10 leadership transfer", () => {
  test("§3.10 leadership transfer via TimeoutNow: the caught-up transferee campaigns at once and wins despite leases", () => {
    const net = Network.cluster({ voters: [1, 2, 3] });
    net.elect(1);
    net.propose(1, "a");
    net.tickAll(2);
    const t = net.status(1).term;
    const sentBefore = net.sent.length;
    expect(net.raft(1).transferLeader(2)).toBeNull();
    net.stabilize();
    const msgs = net.sent.slice(sentBefore);
    expect(msgs.some((m) => m.type === "timeoutNow" && m.from === 1 && m.to === 2)).toBe(true);
    // the transferee's vote requests say "transfer" so leases do not block them
    expect(msgs.filter((m) => m.type === "vote" && m.from === 2).every((m) => m.context === 1)).toBe(true);
    expect(net.leader()).toBe(2);
    expect(net.status(2).term).toBe(t + 1);
    expect(net.status(1)).toMatchObject({ role: "follower", leader: 2 });
    net.propose(2, "b");
    for (const id of [1, 2, 3]) expect(net.node(id).sm).toEqual(["a", "b"]);
  });

  test("§3.10 a transfer to a lagging follower first brings its log up to date, then sends TimeoutNow", () => {
    const net = Network.cluster({ voters: [1, 2, 3] });
    net.elect(1);
    net.isolate(3);
    for (let i = 0; i < 5; i++) net.propose(1, `x${i}`);
    net.heal();
    const sentBefore = net.sent.length;
    expect(net.raft(1).transferLeader(3)).toBeNull();
    net.stabilize();
    net.tickAll(3); // heartbeats resume replication to 3 if its probe was paused
    const msgs = net.sent.slice(sentBefore);
    const tn = msgs.findIndex((m) => m.type === "timeoutNow" && m.to === 3);
    expect(tn).toBeGreaterThan(-1);
    const apps = msgs.map((m, i) => ({ m, i })).filter(({ m }) => m.type === "app" && m.to === 3 && m.entries.length > 0);
    expect(apps.length).toBeGreaterThan(0);
    expect(apps.every(({ i }) => i < tn)).toBe(true);
    expect(net.leader()).toBe(3);
    expect(net.node(3).sm).toEqual(["x0", "x1", "x2", "x3", "x4"]);
  });

  test("§3.10 proposals are refused with transfer_in_progress while a transfer runs, and nothing is appended", () => {
    const net = Network.cluster({ voters: [1, 2, 3] });
    net.elect(1);
    net.isolate(2);
    expect(net.raft(1).transferLeader(2)).toBeNull();
    net.stabilize();
    expect(net.status(1).transferee).toBe(2);
    const last = net.status(1).lastIndex;
    const res = net.raft(1).propose(enc("during"));
    expect(res).toBeInstanceOf(RaftError);
    expect((res as RaftError).code).toBe("transfer_in_progress");
    net.stabilize();
    expect(net.status(1).lastIndex).toBe(last);
    expect(net.status(1).progress.find((p) => p.id === 1)!.match).toBe(last);
  });

  test("§3.10 a transfer that does not finish within an election timeout is abandoned; the leader serves again", () => {
    const net = Network.cluster({ voters: [1, 2, 3] });
    net.elect(1);
    net.isolate(3);
    expect(net.raft(1).transferLeader(3)).toBeNull();
    net.stabilize();
    net.tick(1, 1); // a heartbeat interval: still pending
    expect(net.status(1).transferee).toBe(3);
    net.tick(1, 8);
    expect(net.status(1).transferee).toBe(3);
    net.tick(1, 1); // the election timeout (10 ticks) since the transfer began
    expect(net.status(1)).toMatchObject({ role: "leader", leader: 1, transferee: 0 });
    const res = net.raft(1).propose(enc("after"));
    expect(res).not.toBeInstanceOf(RaftError);
  });

  // etcd-io/raft TestLeaderTransferSecondTransferToSameNode.
  test("§3.10 asking again for the pending transferee does not extend the transfer", () => {
    const net = Network.cluster({ voters: [1, 2, 3] });
    net.elect(1);
    net.isolate(3);
    expect(net.raft(1).transferLeader(3)).toBeNull();
    net.stabilize();
    net.tick(1, 1);
    expect(net.raft(1).transferLeader(3)).toBeNull(); // the caller retries
    net.stabilize();
    expect(net.status(1).transferee).toBe(3);
    net.tick(1, 9); // an election timeout after the first request
    expect(net.status(1)).toMatchObject({ role: "leader", leader: 1, transferee: 0 });
  });

  // etcd-io/raft TestLeaderTransferBack and TestLeaderTransferToSelf.
  test("§3.10 a transfer to the leader itself cancels a pending transfer, and is otherwise a no-op", () => {
    const net = Network.cluster({ voters: [1, 2, 3] });
    net.elect(1);
    expect(net.raft(1).transferLeader(1)).toBeNull();
    net.stabilize();
    expect(net.status(1)).toMatchObject({ role: "leader", leader: 1, transferee: 0 });
    net.isolate(3);
    expect(net.raft(1).transferLeader(3)).toBeNull();
    net.stabilize();
    expect(net.status(1).transferee).toBe(3);
    expect(net.raft(1).transferLeader(1)).toBeNull();
    net.stabilize();
    expect(net.status(1)).toMatchObject({ role: "leader", leader: 1, transferee: 0 });
    expect(net.raft(1).propose(enc("back"))).not.toBeInstanceOf(RaftError);
  });

  // etcd-io/raft TestLeaderTransferSecondTransferToAnotherNode.
  test("§3.10 a transfer to another voter replaces the pending one", () => {
    const net = Network.cluster({ voters: [1, 2, 3] });
    net.elect(1);
    net.isolate(3);
    expect(net.raft(1).transferLeader(3)).toBeNull();
    net.stabilize();
    expect(net.raft(1).transferLeader(2)).toBeNull();
    net.stabilize();
    expect(net.leader()).toBe(2);
    expect(net.status(1)).toMatchObject({ role: "follower", leader: 2, transferee: 0 });
  });

  // etcd-io/raft TestLeaderTransferToNonExistingNode.
  test("§3.10 a transfer to a node that is not a voter is refused and leaves a pending transfer alone", () => {
    const net = Network.cluster({ voters: [1, 2, 3], learners: [4] });
    net.elect(1);
    for (const to of [9, 4]) {
      const e = net.raft(1).transferLeader(to);
      expect(e).toBeInstanceOf(RaftError);
      expect(e!.code).toBe("invalid_conf_change");
    }
    expect(net.status(1)).toMatchObject({ role: "leader", transferee: 0 });
    net.isolate(3);
    expect(net.raft(1).transferLeader(3)).toBeNull();
    expect(net.raft(1).transferLeader(9)).toBeInstanceOf(RaftError);
    expect(net.status(1).transferee).toBe(3);
  });

  // etcd-io/raft TestLeaderTransferToSlowFollower.
  test("§3.10 a transfer to a follower that lags catches it up at once, then sends TimeoutNow, with no tick in between", () => {
    const net = Network.cluster({ voters: [1, 2, 3] });
    net.elect(1);
    net.isolate(3);
    net.propose(1, "x");
    net.heal();
    const pr3 = net.status(1).progress.find((p) => p.id === 3)!;
    expect(pr3.match).toBeLessThan(net.status(1).lastIndex);
    expect(net.raft(1).transferLeader(3)).toBeNull();
    net.stabilize();
    expect(net.leader()).toBe(3);
    expect(net.status(1)).toMatchObject({ role: "follower", leader: 3, transferee: 0 });
    expect(net.node(3).sm).toEqual(["x"]);
  });

  // etcd-io/raft TestLeaderTransferAfterSnapshot.
  test("§3.10 a transfer to a follower that needs a snapshot waits for the snapshot's ack, then sends TimeoutNow", () => {
    const net = Network.cluster({ voters: [1, 2, 3] });
    net.elect(1);
    net.isolate(3);
    net.propose(1, "x");
    net.compact(1);
    net.heal();
    const held: Message[] = [];
    net.drop = (m) => {
      if (m.type !== "appResp" || m.from !== 3 || m.reject) return false;
      held.push(m);
      return true;
    };
    expect(net.raft(1).transferLeader(3)).toBeNull();
    net.stabilize();
    expect(net.sent.some((m) => m.type === "snap" && m.to === 3)).toBe(true);
    expect(net.status(3).snapshotIndex).toBe(net.status(1).snapshotIndex);
    expect(net.status(1)).toMatchObject({ role: "leader", transferee: 3 });
    expect(held.length).toBe(1);
    net.drop = null;
    net.send(held[0]!);
    net.stabilize();
    expect(net.leader()).toBe(3);
    expect(net.status(1)).toMatchObject({ role: "follower", leader: 3, transferee: 0 });
  });

  test("§3.10 a transfer names a snapshot only when the Ready is taken: the driver may compact again in between", () => {
    const conf = { voters: [1, 2, 3], learners: [] };
    const r = lone(1, restoredState({ voters: [1, 2, 3], term: 2, entries: ents(2, [2, 2]) }), { preVote: false });
    r.campaign();
    drainReady(r);
    r.step(msg({ type: "voteResp", from: 2, to: 1, term: 3 })); // leader; its no-op is 4
    drainReady(r);
    expect(r.propose(enc("x"))).toMatchObject({ index: 5 });
    drainReady(r);
    r.step(msg({ type: "appResp", from: 2, to: 1, term: 3, index: 5 }));
    drainReady(r);
    expect(r.status()).toMatchObject({ commit: 5, applied: 5 });
    r.compact({ index: 4, term: 3, conf });
    // 3 rejects the first probe: it holds nothing after 1, which is compacted away
    r.step(msg({ type: "appResp", from: 3, to: 1, term: 3, index: 3, reject: true, rejectHint: 1, logTerm: 1 }));
    expect(r.transferLeader(3)).toBeNull();
    r.compact({ index: 5, term: 3, conf }); // the driver drops snapshot 4 for 5
    const snaps = allMessages([takeReady(r)]).filter((m) => m.type === "snap");
    expect(snaps.map((m) => m.snapshot!.index)).toEqual([5]);
  });

  // etcd-io/raft TestLeaderTransferReceiveHigherTermVote.
  test("§3.10 a leader with a pending transfer still steps down for a higher term", () => {
    const net = Network.cluster({ voters: [1, 2, 3], config: { checkQuorum: false } });
    net.elect(1);
    net.isolate(3);
    expect(net.raft(1).transferLeader(3)).toBeNull();
    net.stabilize();
    const t = net.status(1).term;
    net.campaign(2);
    expect(net.leader()).toBe(2);
    expect(net.status(2).term).toBe(t + 1);
    expect(net.status(1)).toMatchObject({ role: "follower", leader: 2, transferee: 0 });
  });

  // etcd-io/raft TestLeaderTransferRemoveNode.
  test("§3.10 removing the pending transferee ends the transfer; the leader serves again", () => {
    const net = Network.cluster({ voters: [1, 2, 3] });
    net.elect(1);
    // The removal is proposed first and held uncommitted (no acks), so 3 lags when the
    // transfer starts; its TimeoutNow is always lost.
    net.drop = (m) => m.type === "appResp" || m.type === "timeoutNow";
    const removal = net.raft(1).proposeConfChange({ type: "removeNode", nodeId: 3 });
    expect(removal).not.toBeInstanceOf(RaftError);
    net.stabilize();
    expect(net.raft(1).transferLeader(3)).toBeNull();
    net.stabilize();
    expect(net.status(1).transferee).toBe(3);
    net.drop = (m) => m.type === "timeoutNow";
    net.tickAll(2);
    expect(sorted(net.status(1).conf.voters)).toEqual([1, 2]);
    expect(net.status(1)).toMatchObject({ role: "leader", leader: 1, transferee: 0 });
    expect(net.raft(1).propose(enc("after"))).not.toBeInstanceOf(RaftError);
  });

  test("§6.2 check-quorum deposes a cut-off leader on schedule while its caller keeps retrying a transfer", () => {
    const net = Network.cluster({ voters: [1, 2, 3] });
    net.elect(1);
    net.isolate(1);
    let steppedDownAt = -1;
    for (let i = 1; i <= 40 && steppedDownAt < 0; i++) {
      if (i % 3 === 0) net.raft(1).transferLeader(2);
      net.tick(1);
      if (net.status(1).role !== "leader") steppedDownAt = i;
    }
    expect(steppedDownAt).toBeGreaterThan(0);
    expect(steppedDownAt).toBeLessThanOrEqual(20); // two election timeouts
  });

  test("§3.10 unsafe fault transferExtendsLeaderLease: a cut-off leader whose caller retries a transfer keeps its role, refusing proposals", () => {
    const net = Network.cluster({ voters: [1, 2, 3], config: { unsafeTestingFaults: { transferExtendsLeaderLease: true } } });
    net.elect(1);
    net.isolate(1);
    for (let i = 1; i <= 100; i++) {
      if (i % 3 === 0) net.raft(1).transferLeader(2);
      net.tick(1);
    }
    expect(net.status(1)).toMatchObject({ role: "leader", transferee: 2 });
    expect((net.raft(1).propose(enc("x")) as RaftError).code).toBe("transfer_in_progress");
  });

  test("§3.10 transferLeader on a follower is refused with not_leader", () => {
    const net = Network.cluster({ voters: [1, 2, 3] });
    net.elect(1);
    const e = net.raft(2).transferLeader(3);
    expect(e).toBeInstanceOf(RaftError);
    expect(e!.code).toBe("not_leader");
  });
});

describe("unsafe testing faults", () => {
  test("unsafe fault voteBeforePersist sends the grant before the vote is durable (what the durability rule forbids)", () => {
    const r = lone(1, restoredState({ voters: [1, 2, 3], term: 2 }), { unsafeTestingFaults: { voteBeforePersist: true } });
    r.step(msg({ type: "vote", from: 2, to: 1, term: 3, index: 1, logTerm: 1 }));
    const rd = takeReady(r);
    expect(rd.messages.some((m) => m.type === "voteResp" && !m.reject)).toBe(true);
  });
});
