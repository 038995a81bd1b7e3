// Membership changes, one server at a time (dissertation §4.1), learners (non-voting
// members that catch up first, §4.2.1), removed servers (§4.2.2, §4.2.3).

import { describe, expect, test } from "bun:test";
import { Raft, RaftError, type RaftConfig } from "./raft.ts";
import { SeededRng } from "./random.ts";
import type { ConfChange, Entry, Message, NodeId } from "./types.ts";
import { encodeConfChange } from "./confchange.ts";
import { InvariantError, Network, allMessages, drainReady, enc, ents, msg, restoredState, takeReady } from "./testing/network.ts";

const sorted = (ids: readonly NodeId[]): NodeId[] => [...ids].sort((a, b) => a - b);

/** Propose a conf change on `leader`, stabilize, and fail loudly if refused. */
function change(net: Network, leader: NodeId, cc: ConfChange): number {
  const res = net.raft(leader).proposeConfChange(cc);
  if (res instanceof RaftError) throw res;
  net.stabilize();
  return res.index;
}

describe("§4.1 one change at a time", () => {
  test("§4.1 at most one pending membership change: a second is refused with conf_change_pending until the first is applied", () => {
    const net = Network.cluster({ voters: [1, 2, 3] });
    net.elect(1);
    net.isolate(2);
    net.isolate(3);
    const first = net.raft(1).proposeConfChange({ type: "addLearner", nodeId: 4 });
    expect(first).not.toBeInstanceOf(RaftError);
    net.stabilize();
    const second = net.raft(1).proposeConfChange({ type: "addLearner", nodeId: 5 });
    expect(second).toBeInstanceOf(RaftError);
    expect((second as RaftError).code).toBe("conf_change_pending");
    // ordinary proposals are not blocked by a pending change
    expect(net.raft(1).propose(enc("x"))).not.toBeInstanceOf(RaftError);
    net.heal();
    net.tickAll(3);
    expect(sorted(net.status(1).conf.learners)).toEqual([4]);
    const third = net.raft(1).proposeConfChange({ type: "addLearner", nodeId: 5 });
    expect(third).not.toBeInstanceOf(RaftError);
    net.stabilize();
    expect(sorted(net.status(1).conf.learners)).toEqual([4, 5]);
  });

  test("§4.1 a new leader treats a conf entry left uncommitted in its log as pending", () => {
    const net = Network.cluster({ voters: [1, 2, 3] });
    net.elect(1);
    net.drop = (m) => m.type === "appResp" && m.to === 1;
    const cc = net.raft(1).proposeConfChange({ type: "addLearner", nodeId: 4 });
    expect(cc).not.toBeInstanceOf(RaftError);
    net.stabilize();
    for (const id of [2, 3]) expect(net.log(id).some((e) => e.kind === "conf" && e.index > 1)).toBe(true);
    // 1 disappears; a new leader is elected but cannot commit yet
    net.isolate(1);
    net.drop = (m) => m.type === "appResp";
    let w = 0;
    for (let i = 0; i < 100 && !w; i++) {
      net.tickAll(1);
      const l = net.leader();
      if (l === 2 || l === 3) w = l;
    }
    expect(w).not.toBe(0);
    expect(net.status(w).conf.learners).toEqual([]);
    const res = net.raft(w).proposeConfChange({ type: "addLearner", nodeId: 5 });
    expect(res).toBeInstanceOf(RaftError);
    expect((res as RaftError).code).toBe("conf_change_pending");
    net.heal();
    net.tickAll(3);
    expect(sorted(net.status(w).conf.learners)).toEqual([4]);
    expect(net.raft(w).proposeConfChange({ type: "addLearner", nodeId: 5 })).not.toBeInstanceOf(RaftError);
  });

  test("§4.1 nonsensical changes are refused with invalid_conf_change", () => {
    const net = Network.cluster({ voters: [1, 2, 3] });
    net.elect(1);
    const codes = [
      net.raft(1).proposeConfChange({ type: "removeNode", nodeId: 9 }),
      net.raft(1).proposeConfChange({ type: "addVoter", nodeId: 2 }),
      net.raft(1).proposeConfChange({ type: "addLearner", nodeId: 3 }),
    ].map((r) => (r instanceof RaftError ? r.code : "accepted"));
    expect(codes).toEqual(["invalid_conf_change", "invalid_conf_change", "invalid_conf_change"]);
    const solo = Network.cluster({ voters: [1] });
    solo.elect(1);
    const r = solo.raft(1).proposeConfChange({ type: "removeNode", nodeId: 1 });
    expect(r).toBeInstanceOf(RaftError);
    expect((r as RaftError).code).toBe("invalid_conf_change");
  });

  test("§4.1 proposeConfChange on a follower is refused with not_leader", () => {
    const net = Network.cluster({ voters: [1, 2, 3] });
    net.elect(1);
    const r = net.raft(2).proposeConfChange({ type: "addLearner", nodeId: 4 });
    expect(r).toBeInstanceOf(RaftError);
    expect((r as RaftError).code).toBe("not_leader");
  });
});

describe("§4.1/§4.2.1 learners", () => {
  test("§4.2.1 a new server joins as a learner, catches up from the log, then is promoted to voter", () => {
    const net = Network.cluster({ voters: [1, 2, 3], extra: [4] });
    net.elect(1);
    for (let i = 0; i < 5; i++) net.propose(1, `c${i}`);
    change(net, 1, { type: "addLearner", nodeId: 4 });
    net.tickAll(3);
    expect(net.node(4).sm).toEqual(["c0", "c1", "c2", "c3", "c4"]);
    for (const id of [1, 2, 3, 4]) {
      expect(sorted(net.status(id).conf.voters)).toEqual([1, 2, 3]);
      expect(sorted(net.status(id).conf.learners)).toEqual([4]);
    }
    change(net, 1, { type: "addVoter", nodeId: 4 });
    net.tickAll(2);
    for (const id of [1, 2, 3, 4]) {
      expect(sorted(net.status(id).conf.voters)).toEqual([1, 2, 3, 4]);
      expect(net.status(id).conf.learners).toEqual([]);
    }
    net.propose(1, "after");
    expect(net.node(4).sm.at(-1)).toBe("after");
  });

  test("§4.1 learners do not vote or count toward quorum", () => {
    const net = Network.cluster({ voters: [1, 2, 3], learners: [4] });
    net.elect(1);
    const c0 = net.status(1).commit;
    net.isolate(2);
    net.isolate(3);
    const res = net.raft(1).propose(enc("needs-a-voter"));
    if (res instanceof RaftError) throw res;
    net.stabilize();
    // leader and learner hold it: 2 of 4 members, but only 1 of 3 voters
    expect(net.log(4).some((e) => e.index === res.index)).toBe(true);
    expect(net.status(1).progress.find((p) => p.id === 4)!.match).toBeGreaterThanOrEqual(res.index);
    expect(net.status(1).commit).toBe(c0);
    // a learner never campaigns, however long it hears nothing
    net.heal();
    net.isolate(1);
    const start = net.sent.length;
    net.tick(4, 100);
    expect(net.status(4).role).toBe("follower");
    expect(net.sent.slice(start).filter((m) => m.from === 4 && (m.type === "vote" || m.type === "preVote"))).toEqual([]);
    // and a candidate does not count a learner's vote
    const r = new Raft(
      { id: 1, rng: new SeededRng(1), preVote: false },
      restoredState({ voters: [1, 2, 3], learners: [4], term: 2 }),
    );
    drainReady(r);
    r.campaign();
    drainReady(r);
    expect(r.status().role).toBe("candidate");
    r.step(msg({ type: "voteResp", from: 4, to: 1, term: 3 }));
    drainReady(r);
    expect(r.status().role).toBe("candidate");
  });

  test("§4.2.1 promoting a learner that has not caught up is refused with learner_not_caught_up", () => {
    const net = Network.cluster({ voters: [1, 2, 3], learners: [4] });
    net.isolate(4);
    net.elect(1);
    for (let i = 0; i < 3; i++) net.propose(1, `n${i}`);
    const r = net.raft(1).proposeConfChange({ type: "addVoter", nodeId: 4 });
    expect(r).toBeInstanceOf(RaftError);
    expect((r as RaftError).code).toBe("learner_not_caught_up");
    expect(net.status(1).conf.learners).toEqual([4]);
    net.heal();
    net.tickAll(3);
    change(net, 1, { type: "addVoter", nodeId: 4 });
    expect(sorted(net.status(1).conf.voters)).toEqual([1, 2, 3, 4]);
  });
});

describe("§4.1 quorum follows the configuration", () => {
  test("§4.1 adding a voter grows the quorum: 2 of 4 voters no longer commit", () => {
    const net = Network.cluster({ voters: [1, 2, 3], extra: [4] });
    net.elect(1);
    change(net, 1, { type: "addLearner", nodeId: 4 });
    net.tickAll(2);
    change(net, 1, { type: "addVoter", nodeId: 4 });
    net.tickAll(2);
    expect(sorted(net.status(1).conf.voters)).toEqual([1, 2, 3, 4]);
    const c0 = net.status(1).commit;
    net.isolate(3);
    net.isolate(4);
    const res = net.raft(1).propose(enc("2of4"));
    if (res instanceof RaftError) throw res;
    net.stabilize();
    expect(net.status(1).commit).toBe(c0);
    net.heal();
    net.tickAll(2);
    expect(net.status(1).commit).toBeGreaterThanOrEqual(res.index);
  });

  test("§4.1 removing voters shrinks the quorum: 2 of the remaining 3 commit", () => {
    const net = Network.cluster({ voters: [1, 2, 3, 4, 5] });
    net.elect(1);
    change(net, 1, { type: "removeNode", nodeId: 5 });
    net.tickAll(1);
    change(net, 1, { type: "removeNode", nodeId: 4 });
    net.tickAll(1);
    expect(sorted(net.status(1).conf.voters)).toEqual([1, 2, 3]);
    net.isolate(3);
    net.isolate(4);
    net.isolate(5);
    const idx = net.propose(1, "2of3");
    expect(net.status(1).commit).toBeGreaterThanOrEqual(idx);
    expect(net.node(2).sm).toEqual(["2of3"]);
    // the leader no longer tracks or sends to removed members
    expect(sorted(net.status(1).progress.map((p) => p.id))).toEqual([1, 2, 3]);
  });

  test("§4.1 a removed leader steps down; the remaining voters elect a leader and go on", () => {
    const net = Network.cluster({ voters: [1, 2, 3] });
    net.elect(1);
    net.propose(1, "before");
    const t = net.status(1).term;
    change(net, 1, { type: "removeNode", nodeId: 1 });
    expect(net.status(1).role).not.toBe("leader");
    expect(sorted(net.status(1).conf.voters)).toEqual([2, 3]);
    for (let i = 0; i < 100 && net.leader() === 0; i++) net.tickAll(1);
    const l = net.leader();
    expect([2, 3]).toContain(l);
    expect(net.status(l).term).toBeGreaterThan(t);
    net.propose(l, "after");
    for (const id of [2, 3]) {
      expect(sorted(net.status(id).conf.voters)).toEqual([2, 3]);
      expect(net.node(id).sm).toEqual(["before", "after"]);
    }
    net.tickAll(50);
    expect(net.status(1).role).toBe("follower"); // a removed node never campaigns again
    expect(net.leader()).toBe(l);
  });

  test("§4.2.3 a removed server that never learned of its removal cannot disrupt the cluster", () => {
    const net = Network.cluster({ voters: [1, 2, 3] });
    net.elect(1);
    net.isolate(3);
    change(net, 1, { type: "removeNode", nodeId: 3 });
    net.tickAll(2);
    expect(sorted(net.status(1).conf.voters)).toEqual([1, 2]);
    const t = net.status(1).term;
    net.heal();
    net.tickAll(100); // 3 times out again and again, still believing it is a voter
    expect(net.leader()).toBe(1);
    expect(net.status(1).term).toBe(t);
    expect(net.status(2)).toMatchObject({ role: "follower", leader: 1, term: t });
    net.propose(1, "undisturbed");
    expect(net.node(2).sm).toEqual(["undisturbed"]);
  });

  test("§4.1 the configuration survives a restart (rebuilt from the durable log)", () => {
    const net = Network.cluster({ voters: [1, 2, 3], extra: [4] });
    net.elect(1);
    change(net, 1, { type: "addLearner", nodeId: 4 });
    net.tickAll(2);
    for (const id of [1, 2, 4]) {
      net.crash(id);
      net.restart(id);
    }
    net.stabilize();
    for (let i = 0; i < 100 && net.leader() === 0; i++) net.tickAll(1);
    for (const id of [1, 2, 3, 4]) {
      expect(sorted(net.status(id).conf.voters)).toEqual([1, 2, 3]);
      expect(sorted(net.status(id).conf.learners)).toEqual([4]);
    }
  });

  test("§4.1 a restart with a durable state machine (applied > snapshot) restores the configuration of the applied conf entries", () => {
    const conf = { index: 3, term: 2, kind: "conf" as const, data: encodeConfChange({ type: "addLearner", nodeId: 4 }) };
    const entries = [...ents(2, [2]), conf, ...ents(4, [2])];
    const r = new Raft(
      { id: 2, rng: new SeededRng(2) },
      restoredState({ voters: [1, 2, 3], term: 2, entries, commit: 4, applied: 4 }),
    );
    expect(sorted(r.status().conf.learners)).toEqual([4]);
    // nothing is applied twice: the core does not hand out entries <= applied again
    const rds = drainReady(r);
    expect(rds.flatMap((rd) => [...rd.committedEntries])).toEqual([]);
  });
});

describe("§4.1 a node campaigns only under the configuration it has committed", () => {
  const confEntry = (index: number, term: number, cc: ConfChange): Entry => ({ index, term, kind: "conf", data: encodeConfChange(cc) });
  const campaignMessages = (ms: readonly Message[]): Message[] => ms.filter((m) => m.type === "vote" || m.type === "preVote");

  // etcd-io/raft TestConfChangeCheckBeforeCampaign: node 1 restarts with a conf entry
  // (2, t2) committed but not applied; until the driver applies it, nothing makes it
  // campaign, not its election timeout, not campaign(), not a leader's timeoutNow.
  test("§4.1 a committed conf entry not yet applied holds back the election timeout, campaign() and timeoutNow; once applied, the node campaigns", () => {
    for (const preVote of [true, false]) {
      const entries = [confEntry(2, 2, { type: "addLearner", nodeId: 4 }), ...ents(3, [2])];
      const r = new Raft(
        { id: 1, rng: new SeededRng(1), electionTimeoutTicks: 10, preVote },
        restoredState({ voters: [1, 2, 3], term: 2, entries, commit: 3, applied: 1 }),
      );
      // No Ready is taken: the driver is still persisting and applying.
      for (let i = 0; i < 30; i++) r.tick();
      expect(r.status()).toMatchObject({ role: "follower", term: 2 });
      r.campaign();
      r.step(msg({ type: "timeoutNow", from: 2, to: 1, term: 2 }));
      expect(r.status()).toMatchObject({ role: "follower", term: 2 });
      const held = takeReady(r);
      expect(campaignMessages([...held.messages, ...held.messagesAfterPersist])).toEqual([]);
      expect(held.committedEntries.map((e) => e.index)).toEqual([2, 3]);
      // Applied (advance() took the Ready back): the learner is in the configuration,
      // and the timeout that passed meanwhile starts an election at the next tick.
      expect(r.status().conf.learners).toEqual([4]);
      r.tick();
      const out = campaignMessages(allMessages(drainReady(r)));
      expect(out.map((m) => m.to).sort()).toEqual([2, 3]);
      expect(out.every((m) => m.type === (preVote ? "preVote" : "vote"))).toBe(true);
    }
  });

  test("§4.1 timeoutNow starts the transfer election once the conf entry is applied", () => {
    const entries = [confEntry(2, 2, { type: "addLearner", nodeId: 4 })];
    const r = new Raft({ id: 1, rng: new SeededRng(1) }, restoredState({ voters: [1, 2, 3], term: 2, entries, commit: 2, applied: 1 }));
    r.step(msg({ type: "timeoutNow", from: 2, to: 1, term: 2 }));
    expect(r.status().role).toBe("follower");
    drainReady(r);
    r.step(msg({ type: "timeoutNow", from: 2, to: 1, term: 2 }));
    const votes = allMessages(drainReady(r)).filter((m) => m.type === "vote");
    expect(r.status()).toMatchObject({ role: "candidate", term: 3 });
    expect(votes.map((m) => m.context)).toEqual([1, 1]);
  });

  // The cluster grows from {1,2,3} to {1..5} by two committed changes. Node 1 restarts
  // from a snapshot that predates both, so it must apply 32 entries; its driver applies
  // one per Ready (maxCommittedBytesPerReady: 1) and, like the node, sends a Ready's
  // messages before applying it. {3,4,5} elect a leader in term 3 meanwhile.
  function restartBehindGrowth(faults: RaftConfig["unsafeTestingFaults"] = {}): Network {
    const net = Network.cluster({
      voters: [1, 2, 3],
      extra: [4, 5],
      config: { maxCommittedBytesPerReady: 1, unsafeTestingFaults: faults },
    });
    net.elect(1);
    net.compact(1); // node 1's snapshot holds the configuration {1,2,3}
    for (let i = 0; i < 30; i++) net.propose(1, `p${i}`);
    change(net, 1, { type: "addVoter", nodeId: 4 });
    net.tickAll(2);
    change(net, 1, { type: "addVoter", nodeId: 5 });
    net.tickAll(2);
    for (const id of [1, 2, 3, 4, 5]) expect(sorted(net.status(id).conf.voters)).toEqual([1, 2, 3, 4, 5]);
    net.crash(1);
    net.partition([1, 2], [3, 4, 5]);
    for (let i = 0; i < 100 && ![3, 4, 5].includes(net.leader()); i++) net.tickAll(1);
    expect(net.leader()).toBe(3);
    expect(net.status(3).term).toBe(3);
    net.restart(1);
    expect(net.status(1)).toMatchObject({ term: 2, applied: 2, commit: 34, conf: { voters: [1, 2, 3] } });
    // Its election timeout passes before its driver has applied anything.
    const r1 = net.raft(1);
    for (let i = 0; i < 20 && r1.status().role === "follower"; i++) r1.tick();
    net.pipelined = true;
    return net;
  }

  test("§4.1 a restarted node that has not applied the growth from 3 to 5 voters does not campaign with the old quorum", () => {
    const net = restartBehindGrowth();
    expect(net.status(1).role).toBe("follower");
    net.stabilize();
    expect(net.status(1)).toMatchObject({ role: "follower", term: 2, applied: 34, conf: { voters: [1, 2, 3, 4, 5] } });
    // Now it campaigns, asking all five, and cannot win with {1,2}.
    const start = net.sent.length;
    for (let i = 0; i < 20; i++) net.tick(1);
    const asked = net.sent.slice(start).filter((m) => m.from === 1 && (m.type === "preVote" || m.type === "vote"));
    expect(new Set(asked.map((m) => m.to))).toEqual(new Set([2, 3, 4, 5]));
    expect(net.status(1).role).not.toBe("leader");
    expect(net.leaderOf.get(3)).toBe(3);
  });

  test("§4.1 unsafe fault campaignWithUnappliedConf: the restarted node wins term 3 with {1,2} while {3,4,5} elected node 3 in term 3", () => {
    const net = restartBehindGrowth({ campaignWithUnappliedConf: true });
    expect(net.status(1).role).toBe("preCandidate");
    let caught: unknown = null;
    try {
      net.stabilize();
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InvariantError);
    expect((caught as Error).message).toBe("election safety: nodes 3 and 1 both led term 3");
  });
});
