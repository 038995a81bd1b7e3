// Regressions for driver bugs that lost committed writes or killed a node; each failed on
// the driver before its fix. The whole-node simulator re-creates each one behind a
// test-only switch (test/sim/node/cli.ts --unsafe …) and must catch it too.

import { describe, expect, test } from "bun:test";
import { encodeConfChange, encodeConfSet } from "../raft/confchange.ts";
import { blankMessage } from "../raft/message.ts";
import { readWholeSnapshot, snapshotFromBytes } from "../raft/snapshot-bytes.ts";
import type { Entry, Message, NodeId, SnapshotBytes, SnapshotMeta } from "../raft/types.ts";
import { MemoryRaftStorage } from "../storage/memory-storage.ts";
import type { RaftWrite } from "../storage/raft-storage.ts";
import { MemorySnapshotStore } from "../storage/snapshot-store.ts";
import { StorageError } from "../storage/storage-error.ts";
import type { Transport, TransportHandlers } from "../transport/transport.ts";
import type { Logger } from "./logger.ts";
import { type DriverTestingFaults, RaftNode, type RaftNodeOptions } from "./raft-node.ts";
import type { StateMachine } from "./state-machine.ts";

class CountingStateMachine implements StateMachine {
  constructor(public applied = 0) {}
  async appliedIndex(): Promise<number> {
    return this.applied;
  }
  async apply(entries: readonly Entry[]): Promise<unknown[]> {
    this.applied = entries[entries.length - 1]?.index ?? this.applied;
    return entries.map(() => null);
  }
  async snapshot(): Promise<{ index: number; data: SnapshotBytes }> {
    return { index: this.applied, data: snapshotFromBytes(new TextEncoder().encode(String(this.applied))) };
  }
  async verify(meta: SnapshotMeta, data: SnapshotBytes): Promise<void> {
    const held = Number(new TextDecoder().decode(await readWholeSnapshot(data)));
    if (held !== meta.index) throw new Error(`bytes hold ${held}, not ${meta.index}`);
  }
  async restore(meta: SnapshotMeta, data: SnapshotBytes): Promise<void> {
    expect(Number(new TextDecoder().decode(await readWholeSnapshot(data)))).toBe(meta.index);
    this.applied = meta.index;
  }
}

/** Applies wait while held: a slow apply, as the first one after a restart reads the applied state. */
class HeldStateMachine extends CountingStateMachine {
  private held: Promise<void> | null = null;
  private release: () => void = () => {};
  private started: () => void = () => {};
  /** Applies from now on wait for letGo(); resolves when the first of them has begun. */
  hold(): Promise<void> {
    this.held = new Promise((resolve) => (this.release = resolve));
    return new Promise((resolve) => (this.started = resolve));
  }
  letGo(): void {
    this.held = null;
    this.release();
  }
  override async apply(entries: readonly Entry[]): Promise<unknown[]> {
    this.started();
    if (this.held !== null) await this.held;
    return super.apply(entries);
  }
}

/** A transport that connects to nothing and hands its handlers to the test. */
class HandTransport implements Transport {
  handlers: TransportHandlers | null = null;
  constructor(readonly nodeId: NodeId) {}
  async start(handlers: TransportHandlers): Promise<void> {
    this.handlers = handlers;
  }
  send(_messages: readonly Message[]): void {}
  flush(): void {}
  async sendSnapshot(): Promise<void> {}
  async request(): Promise<Uint8Array> {
    throw new Error("no peers");
  }
  async close(): Promise<void> {}
}

function snapMessage(from: NodeId, term: number, index: number): Message {
  const snapshot: SnapshotMeta = { index, term, conf: { voters: [1, 2, 3], learners: [] } };
  return { type: "snap", from, to: 1, term, logTerm: 0, index: 0, entries: [], commit: index, reject: false, rejectHint: 0, context: 0, snapshot };
}

function entry(index: number, term: number): Entry {
  return { index, term, kind: "normal", data: new Uint8Array([index]) };
}

/** A logger that resolves `taken` at the first snapshot_taken (a snapshot is no Ready: no progress event follows it). */
function snapshotWatch(): { logger: Logger; taken: Promise<number> } {
  let resolve: (index: number) => void = () => {};
  const taken = new Promise<number>((r) => (resolve = r));
  return { logger: { log: (_level, event, fields) => (event === "snapshot_taken" ? resolve(Number(fields?.index)) : undefined) }, taken };
}

/** Node 1 of {1,2,3} on fresh memory stores; its ticks are slow, the test steps it by hand. */
function startFirstOfThree(transport: Transport, stateMachine: StateMachine, extra: Partial<RaftNodeOptions> = {}): Promise<RaftNode> {
  return RaftNode.start({ id: 1, storage: new MemoryRaftStorage(), snapshots: new MemorySnapshotStore(), transport, stateMachine, bootstrap: { voters: [1, 2, 3], learners: [] }, tickIntervalMs: 1000, seed: 1, ...extra });
}

/** Resolves once `condition` holds after some Ready. */
function progressUntil(node: RaftNode, condition: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    if (condition()) return resolve();
    const off = node.onProgress(() => {
      if (!condition()) return;
      off();
      resolve();
    });
  });
}

describe("RaftNode safety regressions", () => {
  test("a snapshot taken right after a restart records the applied entry's term, not the last snapshot's", async () => {
    // Durable: snapshot 5 from term 1, entries 6..8 from term 2, all applied.
    const storage = new MemoryRaftStorage();
    await storage.write({ hardState: { term: 2, vote: 1, commit: 8 }, snapshot: { index: 5, term: 1, conf: { voters: [1], learners: [] } }, entries: [] });
    await storage.write({ hardState: null, snapshot: null, entries: [entry(6, 2), entry(7, 2), entry(8, 2)] });
    const snapshots = new MemorySnapshotStore();
    await snapshots.save({ index: 5, term: 1, conf: { voters: [1], learners: [] } }, snapshotFromBytes(new TextEncoder().encode("5")));
    const watch = snapshotWatch();
    const node = await RaftNode.start({ id: 1, storage, snapshots, transport: new HandTransport(1), stateMachine: new CountingStateMachine(8), snapshotEveryEntries: 1, tickIntervalMs: 5, seed: 1, logger: watch.logger });
    try {
      // Nothing was applied since the last snapshot's size was counted: one is taken at once.
      expect(await watch.taken).toBeGreaterThanOrEqual(8);
      const stored = await storage.reopen().load();
      expect(stored.snapshot?.index).toBeGreaterThanOrEqual(8);
      expect(stored.snapshot?.term).toBe(2);
    } finally {
      await node.stop({ transferLeadership: false });
    }
  });

  /** A current snapshot and a deposed leader's older one, arriving in one turn: what became of the node. */
  async function twoSnapshotsInOneTurn(faults: DriverTestingFaults): Promise<{ failures: Error[]; applied: number; snapshotIndex: number }> {
    const transport = new HandTransport(1);
    const failures: Error[] = [];
    let failed: () => void = () => {};
    const failure = new Promise<void>((resolve) => (failed = resolve));
    // Both checks end together, as two transfers finishing in one turn would.
    let checked: () => void = () => {};
    const bothChecked = new Promise<void>((resolve) => (checked = resolve));
    const stateMachine = new (class extends CountingStateMachine {
      override async verify(meta: SnapshotMeta, data: SnapshotBytes): Promise<void> {
        await bothChecked;
        return super.verify(meta, data);
      }
    })();
    const node = await startFirstOfThree(transport, stateMachine, {
      unsafeTestingFaults: faults,
      onFatal: (error) => {
        failures.push(error);
        failed();
      },
    });
    try {
      const bytes = (index: number) => snapshotFromBytes(new TextEncoder().encode(String(index)));
      const current = transport.handlers!.onSnapshot({ message: snapMessage(2, 3, 10), meta: snapMessage(2, 3, 10).snapshot!, data: bytes(10) });
      const stale = transport.handlers!.onSnapshot({ message: snapMessage(3, 2, 8), meta: snapMessage(3, 2, 8).snapshot!, data: bytes(8) });
      checked();
      await Promise.all([current, stale]);
      await Promise.race([progressUntil(node, () => node.status().applied >= 10), failure]);
      return { failures, applied: stateMachine.applied, snapshotIndex: node.status().snapshotIndex };
    } finally {
      await node.stop({ transferLeadership: false });
    }
  }

  test("a deposed leader's older snapshot arriving in the same turn as the current one neither replaces it nor kills the node", async () => {
    const { failures, applied, snapshotIndex } = await twoSnapshotsInOneTurn({});
    expect(applied).toBe(10);
    expect(snapshotIndex).toBe(10);
    expect(failures).toEqual([]);
  });

  test("snapshot bytes that fail the state machine's check never reach the core", async () => {
    const transport = new HandTransport(1);
    const failures: Error[] = [];
    const node = await startFirstOfThree(transport, new CountingStateMachine(), {
      onFatal: (error) => failures.push(error),
    });
    try {
      const message = snapMessage(2, 3, 10);
      // The bytes say 7: not the state at 10 (as a torn or mixed-up file would not be).
      // Refused, the transfer fails (the sender tries again later).
      await expect(transport.handlers!.onSnapshot({ message, meta: message.snapshot!, data: snapshotFromBytes(new TextEncoder().encode("7")) })).rejects.toThrow("bytes hold 7");
      expect(node.status().snapshotIndex).toBe(0);
      expect(node.status().commit).toBeLessThan(10);
      expect(failures).toEqual([]);
    } finally {
      await node.stop({ transferLeadership: false });
    }
  });

  test("a snapshot whose message names another receiver is dropped, on the quick path and after its bytes check: the node lives", async () => {
    const transport = new HandTransport(1);
    const failures: Error[] = [];
    const stateMachine = new CountingStateMachine();
    const node = await startFirstOfThree(transport, stateMachine, {
      onFatal: (error) => failures.push(error),
    });
    try {
      const bytes = (index: number) => snapshotFromBytes(new TextEncoder().encode(String(index)));
      // Nothing this node lacks (index 1 is committed): the quick path, no bytes check.
      const stale = { ...snapMessage(2, 3, 1), to: 3 };
      await transport.handlers!.onSnapshot({ message: stale, meta: stale.snapshot!, data: bytes(1) });
      // Good bytes for a snapshot it lacks, sent to the wrong node.
      const fresh = { ...snapMessage(2, 3, 10), to: 3 };
      await transport.handlers!.onSnapshot({ message: fresh, meta: fresh.snapshot!, data: bytes(10) });
      expect(failures).toEqual([]);
      expect(node.status().snapshotIndex).toBe(0);
      expect(stateMachine.applied).toBeLessThan(10);
    } finally {
      await node.stop({ transferLeadership: false });
    }
  });

  test("read contexts start at random in each process: a leader's late answer to the previous process's read cannot settle a new one", async () => {
    const firstContexts: number[] = [];
    const storage = new MemoryRaftStorage();
    for (let run = 0; run < 2; run++) {
      const sent: Message[] = [];
      const transport = new HandTransport(3);
      transport.send = (messages: readonly Message[]) => {
        sent.push(...messages);
      };
      const node = await RaftNode.start({ id: 3, storage: storage.reopen(), snapshots: new MemorySnapshotStore(), transport, stateMachine: new CountingStateMachine(), bootstrap: { voters: [1, 2, 3], learners: [] }, tickIntervalMs: 1_000_000 });
      try {
        transport.handlers!.onMessages([{ ...blankMessage("heartbeat", 1, 3, 2), commit: 0 }]);
        // Nobody answers: the read ends at its deadline.
        const read = node.readBarrier(50).catch(() => -1);
        await progressUntil(node, () => sent.some((m) => m.type === "readIndex"));
        firstContexts.push(sent.find((m) => m.type === "readIndex")!.context);
        expect(await read).toBe(-1);
      } finally {
        await node.stop({ transferLeadership: false });
      }
    }
    expect(firstContexts[0]).not.toBe(firstContexts[1]);
    expect(firstContexts).not.toContain(1);
  });

  test("a snap message in a plain batch (no bytes beside it) is not stepped: the node neither restores nor dies", async () => {
    const transport = new HandTransport(1);
    const failures: Error[] = [];
    const node = await startFirstOfThree(transport, new CountingStateMachine(), {
      onFatal: (error) => failures.push(error),
    });
    try {
      transport.handlers!.onMessages([snapMessage(2, 3, 10)]);
      await new Promise<void>((resolve) => setImmediate(resolve));
      expect(node.status().snapshotIndex).toBe(0);
      expect(failures).toEqual([]);
    } finally {
      await node.stop({ transferLeadership: false });
    }
  });

  test("installing a snapshot deletes the bytes of the ones before it", async () => {
    const transport = new HandTransport(1);
    const snapshots = new MemorySnapshotStore();
    const stateMachine = new CountingStateMachine();
    const node = await RaftNode.start({ id: 1, storage: new MemoryRaftStorage(), snapshots, transport, stateMachine, bootstrap: { voters: [1, 2, 3], learners: [] }, tickIntervalMs: 1000, seed: 1 });
    try {
      for (const index of [10, 20, 30]) {
        const message = snapMessage(2, 3, index);
        await transport.handlers!.onSnapshot({ message, meta: message.snapshot!, data: snapshotFromBytes(new TextEncoder().encode(String(index))) });
        await progressUntil(node, () => stateMachine.applied >= index);
      }
      expect(await snapshots.load(30)).not.toBeNull();
      expect(await snapshots.load(20)).toBeNull();
      expect(await snapshots.load(10)).toBeNull();
    } finally {
      await node.stop({ transferLeadership: false });
    }
  });

  test("a driver loop that fails stops the node and says so, instead of living on without raft", async () => {
    const failures: Error[] = [];
    class RefusingStorage extends MemoryRaftStorage {
      override async write(_write: RaftWrite): Promise<void> {
        throw new StorageError("log_gap", "refused for the test");
      }
    }
    const node = await RaftNode.start({
      id: 1,
      storage: new RefusingStorage(),
      snapshots: new MemorySnapshotStore(),
      transport: new HandTransport(1),
      stateMachine: new CountingStateMachine(),
      bootstrap: { voters: [1], learners: [] },
      tickIntervalMs: 2,
      seed: 1,
      onFatal: (error) => failures.push(error),
    });
    // The bootstrap Ready's write is refused at once.
    await new Promise<void>((resolve) => {
      const poll = (): void => (failures.length > 0 ? resolve() : void setTimeout(poll, 2));
      poll();
    });
    expect(failures[0]?.message).toContain("refused for the test");
    await expect(node.propose(new Uint8Array([1]), 100)).rejects.toMatchObject({ code: "stopped" });
    await node.stop({ transferLeadership: false });
  });

  test("the previous snapshot's bytes are deleted only after the log's snapshot record has moved", async () => {
    const order: string[] = [];
    class WatchedStorage extends MemoryRaftStorage {
      override async compact(snapshot: SnapshotMeta): Promise<void> {
        order.push(`compact ${snapshot.index}`);
        return super.compact(snapshot);
      }
    }
    class WatchedSnapshots extends MemorySnapshotStore {
      override async save(meta: SnapshotMeta, data: SnapshotBytes): Promise<SnapshotBytes> {
        order.push(`save ${meta.index}`);
        return super.save(meta, data);
      }
      override async prune(keepIndex: number): Promise<void> {
        order.push(`prune to ${keepIndex}`);
        return super.prune(keepIndex);
      }
    }
    const watch = snapshotWatch();
    const node = await RaftNode.start({
      id: 1,
      logger: watch.logger,
      storage: new WatchedStorage(),
      snapshots: new WatchedSnapshots(),
      transport: new HandTransport(1),
      stateMachine: new CountingStateMachine(),
      bootstrap: { voters: [1], learners: [] },
      snapshotEveryEntries: 1,
      tickIntervalMs: 2,
      seed: 1,
    });
    try {
      await watch.taken;
      const saveAt = order.findIndex((step) => step.startsWith("save "));
      const index = order[saveAt]!.slice("save ".length);
      expect(order.slice(saveAt)).toEqual([`save ${index}`, `compact ${index}`, `prune to ${index}`]);
    } finally {
      await node.stop({ transferLeadership: false });
    }
  });

  test("entries are written with the commit index known when they arrived: a restart does not forget that conf entries were committed", async () => {
    // Follower 3 of {1,2,3}; leader 1 in term 2 grows the cluster by two voters.
    const addVoter = (index: number, id: NodeId): Entry => ({ index, term: 2, kind: "conf", data: encodeConfChange({ type: "addVoter", nodeId: id }) });
    const append = (prev: number, prevTerm: number, entries: Entry[], commit: number): Message => ({ ...blankMessage("app", 1, 3, 2), index: prev, logTerm: prevTerm, entries, commit });
    const storage = new MemoryRaftStorage();
    const write = storage.write.bind(storage);
    let writtenIndex = 0;
    storage.write = async (w: RaftWrite) => {
      await write(w);
      writtenIndex = Math.max(writtenIndex, w.entries.at(-1)?.index ?? 0);
    };
    const stateMachine = new HeldStateMachine();
    const transport = new HandTransport(3);
    // Entries are applied as they commit (applyDeferTicks 0): the slow apply below is what lets
    // the next append arrive mid-apply; held back, nothing would be applied at all.
    const options = { id: 3, snapshots: new MemorySnapshotStore(), tickIntervalMs: 1_000_000, seed: 3, applyDeferTicks: 0, raftTuning: { maxCommittedBytesPerReady: 1 } } as const;
    const node = await RaftNode.start({ ...options, storage, transport, stateMachine, bootstrap: { voters: [1, 2, 3], learners: [] } });
    try {
      transport.handlers!.onMessages([append(1, 1, [entry(2, 2), entry(3, 2), addVoter(4, 4)], 1)]);
      await progressUntil(node, () => writtenIndex === 4 && node.status().applied === 1);
      // The commit of addVoter 4 arrives alone (a commit-only change, never synced), and
      // the apply of what it commits is slow: the next entries are stepped meanwhile.
      const applyBegun = stateMachine.hold();
      transport.handlers!.onMessages([{ ...blankMessage("heartbeat", 1, 3, 2), commit: 4 }]);
      await applyBegun;
      transport.handlers!.onMessages([append(4, 2, [addVoter(5, 5), entry(6, 2)], 4)]);
      stateMachine.letGo();
      await progressUntil(node, () => node.status().applied === 4);
      const durable = await storage.reopen().load();
      expect(durable.entries.at(-1)?.index).toBe(6);
      // Restarted with the state machine before addVoter 4, the node must know both
      // additions are committed (so it will not campaign on {1,2,3}).
      expect(durable.hardState.commit).toBeGreaterThanOrEqual(4);
    } finally {
      await node.stop({ transferLeadership: false });
    }
  });
  test("a follower holding committed entries back takes no snapshot with the configuration they bring", async () => {
    // Follower 3 restarts (killed while it held entries back): its state machine is at 5,
    // its log 1..8 committed to 8, and entry 6 adds voter 4. The core counts 6..8 applied
    // (conf included) once it hands them out; a snapshot of the state at 5 must still
    // record the configuration in force at 5.
    const storage = new MemoryRaftStorage();
    const addVoter4: Entry = { index: 6, term: 2, kind: "conf", data: encodeConfChange({ type: "addVoter", nodeId: 4 }) };
    const bootstrap: Entry = { index: 1, term: 1, kind: "conf", data: encodeConfSet({ voters: [1, 2, 3], learners: [] }) };
    await storage.write({ hardState: { term: 2, vote: 0, commit: 8 }, snapshot: null, entries: [bootstrap, entry(2, 2), entry(3, 2), entry(4, 2), entry(5, 2), addVoter4, entry(7, 2), entry(8, 2)] });
    const watch = snapshotWatch();
    const node = await RaftNode.start({ id: 3, storage, snapshots: new MemorySnapshotStore(), transport: new HandTransport(3), stateMachine: new CountingStateMachine(5), snapshotEveryEntries: 1, tickIntervalMs: 5, seed: 3, logger: watch.logger });
    try {
      const index = await watch.taken;
      const stored = (await storage.reopen().load()).snapshot!;
      expect(stored.index).toBe(index);
      // Taken once 6..8 were applied, with the configuration they bring.
      expect(index).toBe(8);
      expect([...stored.conf.voters].sort()).toEqual([1, 2, 3, 4]);
    } finally {
      await node.stop({ transferLeadership: false });
    }
  });
});
