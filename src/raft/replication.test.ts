// Log replication: §5.3 (AppendEntries consistency check, conflicts, commit),
// §5.4.2 (committing entries from previous terms), §5.5 (idempotent, retried RPCs),
// and the leader's flow control (progress states, inflight and size bounds).

import { describe, expect, test } from "bun:test";
import { Raft, RaftError, emptyRestoredState, type RaftConfig } from "./raft.ts";
import { SeededRng } from "./random.ts";
import type { Message, NodeId, RestoredState } from "./types.ts";
import { Network, allMessages, drainReady, enc, ents, msg, restoredState } from "./testing/network.ts";

function lone(id: NodeId, st: RestoredState, cfg: Partial<Omit<RaftConfig, "id" | "rng">> = {}): Raft {
  const r = new Raft({ id, rng: new SeededRng(id), electionTimeoutTicks: 10, ...cfg }, st);
  drainReady(r);
  return r;
}

const appsTo = (ms: readonly Message[], to: NodeId): Message[] =>
  ms.filter((m) => m.type === "app" && m.to === to && m.entries.length > 0);
const bytesOf = (m: Message): number => m.entries.reduce((s, e) => s + e.data.length, 0);

/** Keep `from`'s acknowledgements out of the network (returned for delivery later). */
function holdAcksFrom(net: Network, from: NodeId): Message[] {
  const held: Message[] = [];
  net.drop = (m) => {
    if (m.type === "appResp" && m.from === from) {
      held.push(m);
      return true;
    }
    return false;
  };
  return held;
}

describe("§5.3 commitment", () => {
  test("§5.3 a leader commits an entry once a majority stores it; every node applies it; a lagging node catches up", () => {
    const net = Network.cluster({ voters: [1, 2, 3] });
    net.elect(1);
    net.isolate(3);
    const idx = net.propose(1, "a");
    expect(net.status(1).commit).toBeGreaterThanOrEqual(idx);
    expect(net.node(1).sm).toEqual(["a"]);
    expect(net.node(2).sm).toEqual(["a"]);
    expect(net.node(3).sm).toEqual([]);
    net.heal();
    net.tickAll(3);
    expect(net.node(3).sm).toEqual(["a"]);
    expect(net.logTerms(3)).toEqual(net.logTerms(1));
  });

  test("§5.3 an entry stored only by a minority is never committed", () => {
    const net = Network.cluster({ voters: [1, 2, 3, 4, 5] });
    net.elect(1);
    const c0 = net.status(1).commit;
    net.isolate(3);
    net.isolate(4);
    net.isolate(5);
    const res = net.raft(1).propose(enc("minority"));
    if (res instanceof RaftError) throw res;
    net.stabilize();
    net.tick(1, 5);
    expect(net.log(2).some((e) => e.index === res.index)).toBe(true);
    expect(net.status(1).commit).toBe(c0);
    expect(net.status(2).commit).toBe(c0);
    expect(net.node(1).sm).toEqual([]);
  });

  test("§5.3 follower commit = min(leader commit, last new entry)", () => {
    // follower 2 holds 2..5 (term 1), possibly not all of them the leader's
    const r = lone(2, restoredState({ voters: [1, 2, 3], term: 2, entries: ents(2, [1, 1, 1, 1]) }));
    r.step(msg({ type: "app", from: 1, to: 2, term: 2, index: 2, logTerm: 1, entries: ents(3, [1]), commit: 5 }));
    drainReady(r);
    // the leader vouched for entries up to 3 only: 4 and 5 may still differ from its log
    expect(r.status().commit).toBe(3);
    expect(r.status().lastIndex).toBe(5);
    // an empty append that proves a match at 5 lets the leader's commit through
    r.step(msg({ type: "app", from: 1, to: 2, term: 2, index: 5, logTerm: 1, entries: [], commit: 4 }));
    drainReady(r);
    expect(r.status().commit).toBe(4);
  });

  test("§5.3 a heartbeat's commit never makes a follower commit an entry the leader has not matched", () => {
    // 3 holds a divergent (3, t2) that 1 and 2 replaced by (3, t3) before 3 heard of it
    const net = Network.fromStates({
      1: restoredState({ voters: [1, 2, 3], term: 3, entries: ents(2, [1, 3]) }),
      2: restoredState({ voters: [1, 2, 3], term: 3, entries: ents(2, [1, 3]) }),
      3: restoredState({ voters: [1, 2, 3], term: 2, entries: ents(2, [1, 2]) }),
    });
    net.isolate(3);
    net.elect(1);
    expect(net.status(1).commit).toBe(4);
    net.heal();
    // appends to 3 are lost; only heartbeats get through
    net.drop = (m) => m.to === 3 && m.type === "app";
    net.tickAll(8);
    expect(net.status(1).role).toBe("leader");
    expect(net.status(3).leader).toBe(1);
    expect(net.status(3).commit).toBeLessThan(3);
    expect(net.node(3).applied.some((e) => e.index === 3)).toBe(false);
    net.heal();
    net.tickAll(3);
    expect(net.logTerms(3)).toEqual(net.logTerms(1));
    expect(net.status(3).commit).toBe(net.status(1).commit);
  });
});

describe("commit propagation", () => {
  test("eager (default): followers learn a new commit index without waiting for a tick", () => {
    const net = Network.cluster({ voters: [1, 2, 3] });
    net.elect(1);
    net.propose(1, "a");
    expect(net.node(2).sm).toEqual(["a"]);
    expect(net.node(3).sm).toEqual(["a"]);
  });

  test("deferCommitUpdates: a commit index alone waits for the next tick, then followers apply", () => {
    const net = Network.cluster({ voters: [1, 2, 3], config: { deferCommitUpdates: true } });
    net.elect(1);
    const before = net.node(2).sm.length;
    net.propose(1, "a");
    expect(net.node(1).sm).toContain("a");
    // Committed on the leader, but no message announced it yet.
    expect(net.node(2).sm.length).toBe(before);
    net.tick(1);
    net.stabilize();
    expect(net.node(2).sm).toContain("a");
    expect(net.node(3).sm).toContain("a");
  });

  test("deferCommitUpdates: under load the commit rides on the next append, costing no extra message", () => {
    const net = Network.cluster({ voters: [1, 2, 3], config: { deferCommitUpdates: true } });
    net.elect(1);
    net.propose(1, "a");
    net.propose(1, "b");
    // "a" became known as committed to followers with the append that carried "b".
    expect(net.node(2).sm).toContain("a");
  });
});

describe("§5.3 consistency check and conflicts", () => {
  test("§5.3 a probe lost past the leader's last entry is sent again on the next heartbeat answer (a new learner is not left with heartbeats only)", () => {
    const net = Network.cluster({ voters: [1, 2, 3] });
    net.elect(1);
    // Node 4 joins as a learner; everything sent to it is lost, the first probe included.
    net.drop = (m) => m.to === 4;
    expect(net.raft(1).proposeConfChange({ type: "addLearner", nodeId: 4 })).not.toBeInstanceOf(RaftError);
    net.stabilize();
    const { term, lastIndex } = net.status(1);
    const p4 = () => net.status(1).progress.find((p) => p.id === 4)!;
    expect(p4()).toMatchObject({ state: "probe", match: 0, next: lastIndex + 1 });
    // Node 4 is there after all, and answers a heartbeat.
    net.raft(1).step(msg({ type: "heartbeatResp", from: 4, to: 1, term }));
    const out = allMessages(drainReady(net.raft(1))).filter((m) => m.to === 4 && m.type === "app");
    expect(out.length).toBe(1);
    expect(out[0]!.index).toBe(lastIndex);
  });

  test("§5.3 a follower rejects app whose prev entry does not match, with a conflict hint", () => {
    // (a) the follower does not have the prev entry at all
    {
      const r = lone(2, restoredState({ voters: [1, 2, 3], term: 3, entries: ents(2, [1, 2]) }));
      r.step(msg({ type: "app", from: 1, to: 2, term: 3, index: 5, logTerm: 3, entries: ents(6, [3]), commit: 5 }));
      const rds = drainReady(r);
      expect(rds.flatMap((rd) => [...rd.entries])).toEqual([]);
      const resp = allMessages(rds).filter((m) => m.type === "appResp");
      expect(resp.length).toBe(1);
      const m = resp[0]!;
      expect(m.reject).toBe(true);
      expect(m.index).toBe(5);
      expect(m.rejectHint).toBeLessThanOrEqual(3);
      expect(m.rejectHint).toBeGreaterThanOrEqual(1);
      expect(m.logTerm).toBe(({ 1: 1, 2: 1, 3: 2 } as Record<number, number>)[m.rejectHint]!);
      expect(r.status()).toMatchObject({ lastIndex: 3, commit: 1 });
    }
    // (b) the follower has an entry at prev, of another term
    {
      const r = lone(2, restoredState({ voters: [1, 2, 3], term: 3, entries: ents(2, [1, 2, 2]) }));
      r.step(msg({ type: "app", from: 1, to: 2, term: 3, index: 4, logTerm: 3, entries: ents(5, [3]), commit: 5 }));
      const rds = drainReady(r);
      expect(rds.flatMap((rd) => [...rd.entries])).toEqual([]);
      const m = allMessages(rds).find((x) => x.type === "appResp")!;
      expect(m.reject).toBe(true);
      expect(m.index).toBe(4);
      expect(m.rejectHint).toBeLessThanOrEqual(4);
      // the hint names an index whose term could still agree with the leader's (<= logTerm)
      const terms: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 2 };
      expect(m.logTerm).toBe(terms[m.rejectHint]!);
      expect(m.logTerm).toBeLessThanOrEqual(3);
      expect(r.status()).toMatchObject({ lastIndex: 4, commit: 1 });
    }
  });

  test("§5.3 the leader uses the conflict hint to skip a whole conflicting term per round trip; the logs converge", () => {
    const long = (t: number) => ents(2, Array.from({ length: 50 }, () => t));
    const net = Network.fromStates({
      1: restoredState({ voters: [1, 2, 3], term: 3, entries: long(3) }),
      2: restoredState({ voters: [1, 2, 3], term: 2, entries: long(2) }),
      3: restoredState({ voters: [1, 2, 3], term: 3, entries: long(3) }),
    });
    net.elect(1);
    net.tickAll(2);
    const rejects = net.sent.filter((m) => m.type === "appResp" && m.from === 2 && m.reject);
    expect(rejects.length).toBeGreaterThan(0);
    expect(rejects.length).toBeLessThanOrEqual(3); // not one per conflicting entry (50)
    expect(net.logTerms(2)).toEqual(net.logTerms(1));
    expect(net.status(2).commit).toBe(net.status(1).commit);
    const pr = net.status(1).progress.find((p) => p.id === 2)!;
    expect(pr.state).toBe("replicate");
    expect(pr.match).toBe(net.status(1).lastIndex);
  });

  test("§5.3 conflicting suffix is truncated, never a committed entry", () => {
    const r = lone(2, restoredState({ voters: [1, 2, 3], term: 3, entries: ents(2, [1, 2, 2]), commit: 2 }));
    r.step(msg({ type: "app", from: 1, to: 2, term: 3, index: 2, logTerm: 1, entries: ents(3, [3]), commit: 2 }));
    const rds = drainReady(r);
    const written = rds.flatMap((rd) => [...rd.entries]);
    // the driver is told to replace the stored suffix from index 3
    expect(written.map((e) => `${e.index}:${e.term}`)).toEqual(["3:3"]);
    expect(r.status()).toMatchObject({ lastIndex: 3, commit: 2 });
    const ack = allMessages(rds).find((m) => m.type === "appResp")!;
    expect(ack).toMatchObject({ reject: false, index: 3 });
    // a later app that agrees up to the commit point leaves committed entries alone
    r.step(msg({ type: "app", from: 1, to: 2, term: 3, index: 1, logTerm: 1, entries: ents(2, [1]), commit: 3 }));
    const rds2 = drainReady(r);
    expect(rds2.flatMap((rd) => [...rd.entries]).filter((e) => e.index <= 2)).toEqual([]);
    expect(r.status().lastIndex).toBe(3);
  });

  test("§5.3 a stale or duplicated app whose entries already match never truncates the log", () => {
    const r = lone(2, restoredState({ voters: [1, 2, 3], term: 2, entries: ents(2, [1, 2, 2, 2]), commit: 2 }));
    // a delayed copy of an earlier, shorter append from the same leader
    r.step(msg({ type: "app", from: 1, to: 2, term: 2, index: 2, logTerm: 1, entries: ents(3, [2]), commit: 2 }));
    r.step(msg({ type: "app", from: 1, to: 2, term: 2, index: 1, logTerm: 1, entries: ents(2, [1, 2]), commit: 2 }));
    const rds = drainReady(r);
    expect(rds.flatMap((rd) => [...rd.entries])).toEqual([]);
    expect(r.status().lastIndex).toBe(5);
    for (const m of allMessages(rds).filter((x) => x.type === "appResp")) expect(m.reject).toBe(false);
  });

  test("§5.3/§5.4 entries of a deposed leader in a minority are overwritten; committed entries never are", () => {
    const net = Network.cluster({ voters: [1, 2, 3, 4, 5], config: { checkQuorum: false } });
    net.elect(1);
    net.propose(1, "a");
    net.partition([1, 2], [3, 4, 5]);
    for (const x of ["lost1", "lost2"]) {
      const res = net.raft(1).propose(enc(x));
      expect(res).not.toBeInstanceOf(RaftError);
    }
    net.stabilize();
    expect(net.log(2).some((e) => e.data.length > 0 && new TextDecoder().decode(e.data) === "lost2")).toBe(true);
    net.elect(3);
    net.propose(3, "b");
    net.heal();
    net.tickAll(5);
    expect(net.leader()).toBe(3);
    for (const id of [1, 2, 3, 4, 5]) {
      expect(net.node(id).sm).toEqual(["a", "b"]);
      expect(net.logTerms(id)).toEqual(net.logTerms(3));
    }
  });
});

describe("§5.4.2 committing entries from previous terms", () => {
  // Node 1 holds (2, t2) that nobody else has; it is elected in term 4 and appends its
  // no-op (3, t4). Node 2 receives (2, t2) but not the no-op; node 3 receives no appends.
  function figure8(faults: RaftConfig["unsafeTestingFaults"] = {}): Network {
    const f = Network.fromStates(
      {
        1: restoredState({ voters: [1, 2, 3], term: 3, entries: ents(2, [2]) }),
        2: restoredState({ voters: [1, 2, 3], term: 3 }),
        3: restoredState({ voters: [1, 2, 3], term: 3 }),
      },
      { unsafeTestingFaults: faults },
    );
    f.drop = (m) => m.type === "app" && m.to === 3;
    f.mutate = (m) => (m.type === "app" && m.to === 2 ? { ...m, entries: m.entries.filter((e) => e.term !== 4) } : m);
    f.campaign(1);
    expect(f.status(1)).toMatchObject({ role: "leader", term: 4 });
    // (2, t2) is now on a majority (1 and 2)
    expect(f.logTerms(2)).toEqual(["2:2"]);
    expect(f.status(1).progress.find((p) => p.id === 2)!.match).toBe(2);
    return f;
  }

  test("§5.4.2 a leader does not commit a previous-term entry by counting replicas (and does via its own no-op)", () => {
    const f = figure8();
    // ... but it is not of the leader's term, so it must not commit by counting
    expect(f.status(1).commit).toBe(1);
    expect(f.status(2).commit).toBe(1);
    expect(f.appliedAt.has(2)).toBe(false);
    // once the no-op (3, t4) is on a majority, it commits, and (2, t2) with it
    f.mutate = null;
    f.tickAll(2);
    expect(f.status(1).commit).toBeGreaterThanOrEqual(3);
    expect(f.appliedAt.get(2)?.term).toBe(2);
  });

  test("§5.4.2 unsafe fault commitPreviousTermByCount commits the previous-term entry (the rule above prevents exactly this)", () => {
    const f = figure8({ commitPreviousTermByCount: true });
    expect(f.status(1).commit).toBe(2);
  });
});

describe("§5.5 retries, duplicates, reordering", () => {
  test("§5.5 duplicated and reordered messages are harmless: every entry is applied once, in order, everywhere", () => {
    const net = Network.cluster({ voters: [1, 2, 3] });
    net.elect(1);
    let s = 12345;
    const rand = () => {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      return s / 0x1_0000_0000;
    };
    const chaos = () => {
      for (let round = 0; round < 1000; round++) {
        net.processAll();
        if (net.queue.length === 0) return;
        const batch = net.queue;
        net.queue = [];
        for (let i = batch.length - 1; i > 0; i--) {
          const j = Math.floor(rand() * (i + 1));
          [batch[i], batch[j]] = [batch[j]!, batch[i]!];
        }
        for (const m of batch) {
          net.deliver(m);
          if (rand() < 0.5) net.deliver(m);
        }
      }
      throw new Error("no quiescence");
    };
    const want: string[] = [];
    for (let i = 0; i < 30; i++) {
      const res = net.raft(1).propose(enc(`d${i}`));
      if (res instanceof RaftError) throw res;
      want.push(`d${i}`);
      if (i % 3 === 0) chaos();
      if (i % 7 === 0) {
        for (const n of net.live()) n.raft!.tick();
        chaos();
      }
    }
    for (let i = 0; i < 5; i++) {
      for (const n of net.live()) n.raft!.tick();
      chaos();
    }
    for (const id of [1, 2, 3]) expect(net.node(id).sm).toEqual(want);
  });

  test("§5.3 lost appends are retried indefinitely: a follower whose in-flight appends were all lost catches up", () => {
    const net = Network.cluster({ voters: [1, 2, 3], config: { maxInflightMsgs: 2 } });
    net.elect(1);
    net.drop = (m) => m.type === "app" && m.to === 2;
    for (let i = 0; i < 6; i++) net.propose(1, `l${i}`);
    net.drop = null;
    net.tickAll(20);
    expect(net.node(2).sm).toEqual(net.node(1).sm);
    expect(net.node(2).sm.length).toBe(6);
  });

  test("§5.3 lost acknowledgements are survived the same way", () => {
    const net = Network.cluster({ voters: [1, 2, 3], config: { maxInflightMsgs: 2 } });
    net.elect(1);
    net.drop = (m) => m.type === "appResp" && m.from === 2;
    for (let i = 0; i < 6; i++) net.propose(1, `k${i}`);
    net.drop = null;
    net.tickAll(20);
    const pr = net.status(1).progress.find((p) => p.id === 2)!;
    expect(pr.match).toBe(net.status(1).lastIndex);
    expect(net.node(2).sm.length).toBe(6);
  });
});

// etcd-io/raft TestLeaderAppResp. A lone leader of {1,2,3} in term 2, log 1 (the
// bootstrap conf, committed) and 2 (its no-op, durable). Follower 2 is in probe with
// match 0, next 2, and the leader's first probe (after 1, carrying 2) is out.
describe("leader: append responses in probe", () => {
  function probingLeader(faults: RaftConfig["unsafeTestingFaults"] = {}): Raft {
    const r = new Raft(
      { id: 1, rng: new SeededRng(1), preVote: false, bootstrap: { voters: [1, 2, 3], learners: [] }, unsafeTestingFaults: faults },
      emptyRestoredState(),
    );
    drainReady(r);
    r.campaign();
    drainReady(r);
    r.step(msg({ type: "voteResp", from: 3, to: 1, term: 2 }));
    drainReady(r);
    expect(r.status()).toMatchObject({ role: "leader", term: 2, lastIndex: 2, commit: 1 });
    expect(pr(r, 2)).toMatchObject({ state: "probe", match: 0, next: 2 });
    return r;
  }
  const pr = (r: Raft, id: NodeId) => r.status().progress.find((p) => p.id === id)!;
  const answer = (r: Raft, over: Partial<Message>): Message[] => {
    r.step(msg({ type: "appResp", from: 2, to: 1, term: 2, ...over }));
    return allMessages(drainReady(r));
  };
  const apps = (ms: Message[]) => ms.filter((m) => m.type === "app").map((m) => ({ to: m.to, index: m.index, commit: m.commit, entries: m.entries.map((e) => e.index) }));

  test("progress: a rejection of an older probe is stale: nothing changes, nothing is sent", () => {
    const r = probingLeader();
    expect(answer(r, { reject: true, index: 2, rejectHint: 1, logTerm: 1 })).toEqual([]);
    expect(pr(r, 2)).toMatchObject({ state: "probe", match: 0, next: 2 });
  });

  test("progress: a rejection of the latest probe lowers next to the hint and probes from there", () => {
    const r = probingLeader();
    const out = answer(r, { reject: true, index: 1, rejectHint: 0, logTerm: 0 });
    expect(pr(r, 2)).toMatchObject({ state: "probe", match: 0, next: 1 });
    expect(apps(out)).toEqual([{ to: 2, index: 0, commit: 1, entries: [1, 2] }]);
    expect(r.status().commit).toBe(1);
  });

  test("progress: an ack of new entries moves probe to replicate, commits, and sends the new commit index", () => {
    const r = probingLeader();
    const out = answer(r, { index: 2 });
    expect(pr(r, 2)).toMatchObject({ state: "replicate", match: 2, next: 3 });
    expect(r.status().commit).toBe(2);
    // follower 3 still has a probe outstanding, so only 2 hears the commit now
    expect(apps(out)).toEqual([{ to: 2, index: 2, commit: 2, entries: [] }]);
  });

  test("progress: an ack equal to match moves probe to replicate and sends everything after match in one message", () => {
    const r = probingLeader();
    const out = answer(r, { index: 0 });
    expect(pr(r, 2)).toMatchObject({ state: "replicate", match: 0, next: 3 });
    expect(apps(out)).toEqual([{ to: 2, index: 0, commit: 1, entries: [1, 2] }]);
  });

  test("progress: unsafe fault probeIgnoresEqualAck: the follower stays in probe and nothing is sent until a heartbeat answer", () => {
    const r = probingLeader({ probeIgnoresEqualAck: true });
    expect(answer(r, { index: 0 })).toEqual([]);
    expect(pr(r, 2)).toMatchObject({ state: "probe", match: 0, next: 2 });
    r.step(msg({ type: "heartbeatResp", from: 2, to: 1, term: 2 }));
    expect(apps(allMessages(drainReady(r)))).toEqual([{ to: 2, index: 1, commit: 1, entries: [2] }]);
  });
});

describe("flow control", () => {
  test("progress: probe → replicate; while probing, at most one app is outstanding", () => {
    const net = Network.cluster({ voters: [1, 2, 3] });
    const start = net.sent.length;
    net.drop = (m) => m.type === "appResp" && m.from === 3; // 3 never answers
    net.elect(1);
    for (let i = 0; i < 5; i++) net.propose(1, `p${i}`);
    const sent = net.sent.slice(start);
    expect(appsTo(sent, 3).length).toBe(1);
    expect(appsTo(sent, 2).length).toBeGreaterThanOrEqual(2); // 2 answered, so it is pipelined
    const pr = (id: NodeId) => net.status(1).progress.find((p) => p.id === id)!;
    expect(pr(3).state).toBe("probe");
    expect(pr(2).state).toBe("replicate");
    net.drop = null;
    net.tickAll(2);
    expect(pr(3).state).toBe("replicate");
    expect(pr(3).match).toBe(net.status(1).lastIndex);
  });

  test("progress: replicate pipelines appends, bounded by maxInflightMsgs unacknowledged messages", () => {
    const net = Network.cluster({ voters: [1, 2, 3], config: { maxInflightMsgs: 3 } });
    net.elect(1);
    const held = holdAcksFrom(net, 2);
    const start = net.sent.length;
    for (let i = 0; i < 10; i++) net.propose(1, `q${i}`);
    expect(appsTo(net.sent.slice(start), 2).length).toBe(3);
    // acknowledgements open the window again
    net.drop = null;
    for (const m of held) net.deliver(m);
    net.stabilize();
    expect(net.node(2).sm.length).toBe(10);
  });

  test("progress: unacknowledged bytes in flight are bounded by maxInflightBytes (plus at most one message)", () => {
    const net = Network.cluster({ voters: [1, 2, 3], config: { maxInflightBytes: 100 } });
    net.elect(1);
    const held = holdAcksFrom(net, 2);
    const start = net.sent.length;
    for (let i = 0; i < 10; i++) net.propose(1, "b".repeat(40));
    const apps = appsTo(net.sent.slice(start), 2);
    const bytes = apps.reduce((s, m) => s + bytesOf(m), 0);
    expect(bytes).toBeGreaterThan(0);
    expect(bytes).toBeLessThanOrEqual(100 + 40);
    net.drop = null;
    for (const m of held) net.deliver(m);
    net.stabilize();
    expect(net.node(2).sm.length).toBe(10);
  });

  test("progress: an app message carries at most maxMsgBytes of entries (but at least one entry)", () => {
    const net = Network.cluster({ voters: [1, 2, 3], config: { maxMsgBytes: 100 } });
    net.elect(1);
    net.isolate(2);
    for (let i = 0; i < 20; i++) net.propose(1, "m".repeat(30));
    net.propose(1, "B".repeat(250)); // larger than maxMsgBytes on its own
    net.heal();
    const start = net.sent.length;
    net.tickAll(10);
    const apps = appsTo(net.sent.slice(start), 2);
    expect(apps.length).toBeGreaterThanOrEqual(7);
    for (const m of apps) if (m.entries.length > 1) expect(bytesOf(m)).toBeLessThanOrEqual(100);
    expect(net.node(2).sm).toEqual(net.node(1).sm);
  });

  test("uncommitted-size bound refuses proposals with code uncommitted_limit", () => {
    const net = Network.cluster({ voters: [1, 2, 3], config: { maxUncommittedBytes: 100 } });
    net.elect(1);
    net.isolate(2);
    net.isolate(3);
    let accepted = 0;
    let refusal: RaftError | null = null;
    for (let i = 0; i < 20 && refusal === null; i++) {
      const res = net.raft(1).propose(enc("u".repeat(30)));
      if (res instanceof RaftError) refusal = res;
      else accepted += 30;
    }
    expect(refusal).not.toBeNull();
    expect(refusal!.code).toBe("uncommitted_limit");
    expect(accepted).toBeGreaterThan(0);
    expect(accepted).toBeLessThanOrEqual(100);
    // once the backlog commits, proposals are accepted again
    net.heal();
    net.tickAll(3);
    expect(net.node(1).sm.length).toBe(accepted / 30);
    expect(net.raft(1).propose(enc("u".repeat(30)))).not.toBeInstanceOf(RaftError);
  });

  test("uncommitted-size bound never starves: one proposal larger than the bound is accepted when nothing is pending", () => {
    const net = Network.cluster({ voters: [1, 2, 3], config: { maxUncommittedBytes: 100 } });
    net.elect(1);
    const res = net.raft(1).propose(enc("L".repeat(500)));
    expect(res).not.toBeInstanceOf(RaftError);
    net.stabilize();
    expect(net.node(3).sm.length).toBe(1);
  });
});
