// Linearizable reads without log writes: ReadIndex (dissertation §6.4).

import { describe, expect, test } from "bun:test";
import { RaftError } from "./raft.ts";
import type { Message, NodeId } from "./types.ts";
import { Network, enc } from "./testing/network.ts";

const readsOf = (net: Network, id: NodeId, ctx: number) => net.node(id).readStates.filter((r) => r.context === ctx);

describe("§6.4 ReadIndex", () => {
  test("§6.4 ReadIndex needs a current-term commit: a new leader answers only after its no-op commits", () => {
    const net = Network.cluster({ voters: [1, 2, 3] });
    net.drop = (m) => m.type === "appResp" && m.to === 1; // the no-op cannot commit
    net.elect(1);
    const noop = net.status(1).lastIndex;
    expect(net.status(1).commit).toBeLessThan(noop);
    let err = net.raft(1).readIndex(7);
    net.stabilize();
    net.tickAll(3); // heartbeats do get through: a heartbeat quorum alone is not enough
    expect(readsOf(net, 1, 7)).toEqual([]);
    net.heal();
    net.tickAll(2);
    expect(net.status(1).commit).toBeGreaterThanOrEqual(noop);
    if (err !== null) {
      // refusing is allowed too; then a retry must succeed now
      err = net.raft(1).readIndex(7);
      expect(err).toBeNull();
      net.stabilize();
      net.tickAll(2);
    }
    const rs = readsOf(net, 1, 7);
    expect(rs.length).toBe(1);
    expect(rs[0]!.index).toBeGreaterThanOrEqual(noop);
  });

  test("§6.4 ReadIndex needs a heartbeat quorum: a leader that cannot reach a majority does not answer", () => {
    const net = Network.cluster({ voters: [1, 2, 3, 4, 5] });
    net.elect(1);
    net.propose(1, "w");
    net.isolate(3);
    net.isolate(4);
    net.isolate(5);
    net.cut(1, 2); // leader alone
    expect(net.raft(1).readIndex(8)).toBeNull();
    net.stabilize();
    net.tick(1, 4);
    expect(readsOf(net, 1, 8)).toEqual([]);
    net.heal();
    net.isolate(4);
    net.isolate(5); // 1, 2, 3 = a majority of 5
    net.tick(1, 2);
    const rs = readsOf(net, 1, 8);
    expect(rs.length).toBe(1);
    expect(rs[0]!.index).toBe(net.status(1).commit);
  });

  test("§6.4 a read index covers every write committed before the read was requested", () => {
    const net = Network.cluster({ voters: [1, 2, 3] });
    net.elect(1);
    const w = net.propose(1, "written");
    expect(net.status(1).commit).toBeGreaterThanOrEqual(w);
    expect(net.raft(1).readIndex(3)).toBeNull();
    // a later proposal may or may not be included; an earlier committed one must be
    const later = net.raft(1).propose(enc("later"));
    if (later instanceof RaftError) throw later;
    net.stabilize();
    net.tickAll(1);
    const rs = readsOf(net, 1, 3);
    expect(rs.length).toBe(1);
    expect(rs[0]!.index).toBeGreaterThanOrEqual(w);
    expect(rs[0]!.index).toBeLessThanOrEqual(net.status(1).commit);
  });

  test("§6.4 ReadIndex on a follower is forwarded to the leader and answered with the leader's commit index", () => {
    const net = Network.cluster({ voters: [1, 2, 3] });
    net.elect(1);
    for (let i = 0; i < 3; i++) net.propose(1, `f${i}`);
    const c = net.status(1).commit;
    const start = net.sent.length;
    expect(net.raft(2).readIndex(42)).toBeNull();
    net.stabilize();
    net.tickAll(1);
    const sent = net.sent.slice(start);
    expect(sent.some((m) => m.type === "readIndex" && m.from === 2 && m.to === 1 && m.context === 42)).toBe(true);
    expect(sent.some((m) => m.type === "readIndexResp" && m.from === 1 && m.to === 2 && m.context === 42)).toBe(true);
    const rs = readsOf(net, 2, 42);
    expect(rs.length).toBe(1);
    expect(rs[0]!.index).toBe(c);
    expect(readsOf(net, 1, 42)).toEqual([]); // the answer goes to the asker only
  });

  test("§6.4 readIndex on a follower that knows no leader is refused with no_leader", () => {
    const net = Network.cluster({ voters: [1, 2, 3] });
    const e = net.raft(2).readIndex(1);
    expect(e).toBeInstanceOf(RaftError);
    expect(e!.code).toBe("no_leader");
  });

  test("§6.4 a single-voter leader answers a read at once, at its commit index", () => {
    const net = Network.cluster({ voters: [1] });
    net.elect(1);
    net.propose(1, "only");
    expect(net.raft(1).readIndex(5)).toBeNull();
    net.stabilize();
    const rs = readsOf(net, 1, 5);
    expect(rs.length).toBe(1);
    expect(rs[0]!.index).toBe(net.status(1).commit);
  });

  test("§6.4 a deposed leader cut off from the quorum never answers a read", () => {
    const net = Network.cluster({ voters: [1, 2, 3], config: { checkQuorum: false } });
    net.elect(1);
    net.propose(1, "old");
    net.isolate(1);
    expect(net.raft(1).readIndex(5)).toBeNull();
    net.stabilize();
    net.elect(2);
    net.propose(2, "new"); // a write the stale leader does not have
    net.tick(1, 30);
    expect(net.status(1).role).toBe("leader"); // it still thinks it leads
    expect(readsOf(net, 1, 5)).toEqual([]);
    net.heal();
    net.tickAll(3);
    expect(net.status(1).role).toBe("follower");
    expect(readsOf(net, 1, 5)).toEqual([]);
  });

  test("§6.4 a heartbeat answer from before the read arrived does not confirm it", () => {
    const net = Network.cluster({ voters: [1, 2, 3] });
    net.elect(1);
    net.propose(1, "x");
    // a heartbeat round is sent and answered, but the answers are held in the network
    net.raft(1).tick();
    net.processAll();
    net.deliverWhere((m) => m.type === "heartbeat");
    net.processAll();
    const held: Message[] = net.take((m) => m.type === "heartbeatResp" && m.to === 1);
    expect(held.length).toBe(2);
    net.take(() => true);
    // the read arrives now; the old answers say nothing about leadership after this point
    expect(net.raft(1).readIndex(9)).toBeNull();
    net.processAll();
    const fresh = net.take(() => true); // the read's own heartbeat round, held back
    for (const m of held) net.deliver(m);
    net.processAll();
    expect(readsOf(net, 1, 9)).toEqual([]);
    for (const m of fresh) net.deliver(m);
    net.stabilize();
    net.tickAll(1);
    expect(readsOf(net, 1, 9).length).toBe(1);
  });

  test("§6.4 reads are answered in order and each exactly once", () => {
    const net = Network.cluster({ voters: [1, 2, 3] });
    net.elect(1);
    for (let i = 1; i <= 5; i++) {
      expect(net.raft(1).readIndex(100 + i)).toBeNull();
      if (i % 2 === 0) net.propose(1, `o${i}`);
    }
    net.stabilize();
    net.tickAll(2);
    const rs = net.node(1).readStates.filter((r) => r.context > 100);
    expect(rs.map((r) => r.context)).toEqual([101, 102, 103, 104, 105]);
    for (let i = 1; i < rs.length; i++) expect(rs[i]!.index).toBeGreaterThanOrEqual(rs[i - 1]!.index);
  });
});
