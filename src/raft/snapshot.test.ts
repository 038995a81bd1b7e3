// Log compaction and InstallSnapshot (paper §7, dissertation chapter 5).

import { describe, expect, test } from "bun:test";
import { Raft, RaftError } from "./raft.ts";
import { SeededRng } from "./random.ts";
import type { SnapshotMeta } from "./types.ts";
import { Network, allMessages, drainReady, enc, ents, msg, restoredState } from "./testing/network.ts";

const CONF = { voters: [1, 2, 3], learners: [] };

describe("§7 compaction", () => {
  test("§7 compaction keeps entries after the snapshot; followers that are not behind still get plain appends", () => {
    const net = Network.cluster({ voters: [1, 2, 3] });
    net.elect(1);
    for (let i = 0; i < 10; i++) net.propose(1, `c${i}`);
    // three more that cannot commit yet: they sit after the snapshot point
    net.isolate(2);
    net.isolate(3);
    for (let i = 10; i < 13; i++) {
      const r = net.raft(1).propose(enc(`c${i}`));
      if (r instanceof RaftError) throw r;
    }
    net.stabilize();
    const before = net.status(1);
    const meta = net.compact(1);
    expect(meta.index).toBe(before.commit);
    const after = net.status(1);
    expect(after.snapshotIndex).toBe(meta.index);
    expect(after.lastIndex).toBe(before.lastIndex);
    expect(after.commit).toBe(before.commit);
    net.heal();
    const start = net.sent.length;
    net.tickAll(3);
    expect(net.sent.slice(start).filter((m) => m.type === "snap")).toEqual([]);
    for (const id of [1, 2, 3]) expect(net.node(id).sm).toEqual(Array.from({ length: 13 }, (_, i) => `c${i}`));
  });

  test("§7 compaction is idempotent and never goes backwards", () => {
    const net = Network.cluster({ voters: [1, 2, 3] });
    net.elect(1);
    for (let i = 0; i < 4; i++) net.propose(1, `k${i}`);
    const term2 = net.log(1).find((e) => e.index === 2)!.term;
    const meta = net.compact(1);
    const older: SnapshotMeta = { index: 2, term: term2, conf: CONF };
    net.raft(1).compact(older);
    net.raft(1).compact(meta);
    expect(net.status(1).snapshotIndex).toBe(meta.index);
    net.propose(1, "k4");
    expect(net.node(2).sm).toEqual(["k0", "k1", "k2", "k3", "k4"]);
  });
});

describe("§7 InstallSnapshot", () => {
  test("§7 snapshot install replaces a behind follower's log; it then follows by appends (progress snapshot → replicate)", () => {
    const net = Network.cluster({ voters: [1, 2, 3] });
    net.elect(1);
    net.isolate(3);
    for (let i = 0; i < 20; i++) net.propose(1, `s${i}`);
    const meta = net.compact(1);
    net.heal();
    const start = net.sent.length;
    const readies3 = net.node(3).readies.length;
    net.tickAll(3);
    const snaps = net.sent.slice(start).filter((m) => m.type === "snap" && m.to === 3);
    expect(snaps.length).toBeGreaterThanOrEqual(1);
    expect(snaps[0]!.snapshot).toEqual(meta);
    const installed = net.node(3).readies.slice(readies3).filter((rd) => rd.snapshot !== null);
    expect(installed.length).toBe(1);
    expect(installed[0]!.snapshot!.index).toBe(meta.index);
    const s3 = net.status(3);
    expect(s3.snapshotIndex).toBe(meta.index);
    expect(s3.commit).toBe(net.status(1).commit);
    expect([...s3.conf.voters].sort()).toEqual([1, 2, 3]);
    expect(net.node(3).sm).toEqual(net.node(1).sm);
    const pr = net.status(1).progress.find((p) => p.id === 3)!;
    expect(pr.state).toBe("replicate");
    expect(pr.match).toBe(net.status(1).lastIndex);
    net.propose(1, "next");
    expect(net.node(3).sm.at(-1)).toBe("next");
    // entries after the snapshot arrive as ordinary appends, not another snapshot
    expect(net.sent.slice(start).filter((m) => m.type === "snap" && m.to === 3).length).toBe(snaps.length);
  });

  test("§7 a follower whose log conflicts with the snapshot discards its whole log", () => {
    const net = Network.fromStates({
      1: restoredState({ voters: [1, 2, 3], term: 3, entries: ents(2, [1, 3, 3]) }),
      2: restoredState({ voters: [1, 2, 3], term: 3, entries: ents(2, [1, 3, 3]) }),
      3: restoredState({ voters: [1, 2, 3], term: 2, entries: ents(2, [1, 2, 2, 2, 2, 2]) }),
    });
    net.isolate(3);
    net.elect(1);
    for (let i = 0; i < 5; i++) net.propose(1, `v${i}`);
    const meta = net.compact(1);
    expect(meta.index).toBeGreaterThan(7); // beyond all of 3's divergent entries
    net.heal();
    net.tickAll(3);
    expect(net.status(3).snapshotIndex).toBe(meta.index);
    expect(net.logTerms(3)).toEqual(net.logTerms(1));
    expect(net.log(3).every((e) => e.term !== 2)).toBe(true);
    expect(net.node(3).sm).toEqual(net.node(1).sm);
  });

  test("§7 a snapshot that describes a prefix of the follower's log keeps the entries after it", () => {
    const r = new Raft(
      { id: 2, rng: new SeededRng(2) },
      restoredState({ voters: [1, 2, 3], term: 2, entries: ents(2, [1, 1, 1, 1, 1, 1, 1, 1, 1]), commit: 3 }),
    );
    drainReady(r);
    r.step(msg({ type: "snap", from: 1, to: 2, term: 2, snapshot: { index: 6, term: 1, conf: CONF } }));
    const rds = drainReady(r);
    const s = r.status();
    expect(s.lastIndex).toBe(10);
    expect(s.commit).toBeGreaterThanOrEqual(6);
    // no entry after the snapshot was thrown away, nothing was rewritten
    expect(rds.flatMap((rd) => [...rd.entries]).filter((e) => e.index > 6)).toEqual([]);
    const resp = allMessages(rds).filter((m) => m.type === "appResp");
    expect(resp.length).toBe(1);
    expect(resp[0]!.reject).toBe(false);
    expect(resp[0]!.index).toBeGreaterThanOrEqual(6);
  });

  test("§7 a snapshot older than the follower's commit index is ignored", () => {
    const r = new Raft(
      { id: 2, rng: new SeededRng(2) },
      restoredState({ voters: [1, 2, 3], term: 2, entries: ents(2, [1, 1, 1, 1, 1, 1, 1, 1, 1]), commit: 8, applied: 8 }),
    );
    drainReady(r);
    r.step(msg({ type: "snap", from: 1, to: 2, term: 2, snapshot: { index: 5, term: 1, conf: CONF } }));
    const rds = drainReady(r);
    expect(rds.every((rd) => rd.snapshot === null)).toBe(true);
    expect(r.status()).toMatchObject({ lastIndex: 10, commit: 8, snapshotIndex: 1, applied: 8 });
    const resp = allMessages(rds).filter((m) => m.type === "appResp");
    for (const m of resp) expect(m.index).toBeGreaterThanOrEqual(8);
  });

  test("§7 restart from a snapshot restores configuration and state machine, replaying only entries after it", () => {
    const net = Network.cluster({ voters: [1, 2, 3] });
    net.elect(1);
    for (let i = 0; i < 5; i++) net.propose(1, `r${i}`);
    const meta = net.compact(2);
    net.propose(1, "r5");
    net.propose(1, "r6");
    net.crash(2);
    net.restart(2);
    net.stabilize();
    const s2 = net.status(2);
    expect(s2.snapshotIndex).toBe(meta.index);
    expect([...s2.conf.voters].sort()).toEqual([1, 2, 3]);
    expect(net.node(2).applied.length).toBeGreaterThan(0);
    expect(net.node(2).applied.every((e) => e.index > meta.index)).toBe(true);
    expect(net.node(2).sm).toEqual(["r0", "r1", "r2", "r3", "r4", "r5", "r6"]);
    // and it can still become leader and serve from there
    net.tickAll(1);
    net.raft(1).transferLeader(2);
    net.stabilize();
    net.tickAll(2);
    expect(net.leader()).toBe(2);
    net.propose(2, "r7");
    expect(net.node(3).sm.at(-1)).toBe("r7");
  });

  test("§7 a new member joining after compaction is brought up by snapshot, then by the entries after it", () => {
    const net = Network.cluster({ voters: [1, 2, 3], extra: [4] });
    net.elect(1);
    for (let i = 0; i < 6; i++) net.propose(1, `j${i}`);
    net.compact(1);
    const res = net.raft(1).proposeConfChange({ type: "addLearner", nodeId: 4 });
    if (res instanceof RaftError) throw res;
    net.stabilize();
    net.propose(1, "j6");
    net.tickAll(3);
    expect(net.node(4).readies.some((rd) => rd.snapshot !== null)).toBe(true);
    expect(net.node(4).sm).toEqual(net.node(1).sm);
    expect(net.node(4).sm.length).toBe(7);
    // the configuration came from the snapshot, the addLearner entry from the log
    expect([...net.status(4).conf.voters].sort()).toEqual([1, 2, 3]);
    expect(net.status(4).conf.learners).toEqual([4]);
  });

  test("§7 a lost snapshot is retried until it is installed", () => {
    const net = Network.cluster({ voters: [1, 2, 3] });
    net.elect(1);
    net.isolate(3);
    for (let i = 0; i < 5; i++) net.propose(1, `z${i}`);
    net.compact(1);
    net.heal();
    let lost = 0;
    net.drop = (m) => {
      if (m.type === "snap" && lost < 2) {
        lost++;
        return true;
      }
      return false;
    };
    for (let i = 0; i < 300 && net.node(3).sm.length < 5; i++) net.tickAll(1);
    expect(lost).toBe(2);
    expect(net.node(3).sm).toEqual(net.node(1).sm);
  });
});
