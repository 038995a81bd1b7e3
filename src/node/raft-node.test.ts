import { afterEach, describe, expect, test } from "bun:test";
import { readWholeSnapshot, snapshotFromBytes } from "../raft/snapshot-bytes.ts";
import type { Entry, SnapshotBytes, SnapshotMeta } from "../raft/types.ts";
import { MemoryRaftStorage } from "../storage/memory-storage.ts";
import { MemorySnapshotStore } from "../storage/snapshot-store.ts";
import { MemoryNetwork } from "../transport/memory-transport.ts";
import { NodeError } from "./node-error.ts";
import { RaftNode } from "./raft-node.ts";
import type { StateMachine } from "./state-machine.ts";

/** Test state machine: the list of applied commands, as text. */
class ListStateMachine implements StateMachine {
  applied = 0;
  items: string[] = [];
  async appliedIndex(): Promise<number> {
    return this.applied;
  }
  async apply(entries: readonly Entry[]): Promise<unknown[]> {
    const results: unknown[] = [];
    for (const e of entries) {
      if (e.kind === "normal" && e.data.length > 0) this.items.push(new TextDecoder().decode(e.data));
      results.push({ index: e.index, count: this.items.length });
      this.applied = e.index;
    }
    return results;
  }
  async snapshot(): Promise<{ index: number; data: SnapshotBytes }> {
    return { index: this.applied, data: snapshotFromBytes(new TextEncoder().encode(JSON.stringify(this.items))) };
  }
  async verify(_meta: SnapshotMeta, data: SnapshotBytes): Promise<void> {
    JSON.parse(new TextDecoder().decode(await readWholeSnapshot(data)));
  }
  async restore(meta: SnapshotMeta, data: SnapshotBytes): Promise<void> {
    this.items = JSON.parse(new TextDecoder().decode(await readWholeSnapshot(data))) as string[];
    this.applied = meta.index;
  }
}

const encode = (s: string) => new TextEncoder().encode(s);

describe("RaftNode over the memory transport", () => {
  let nodes: RaftNode[] = [];
  afterEach(async () => {
    await Promise.all(nodes.map((n) => n.stop({ transferLeadership: false })));
    nodes = [];
  });

  async function startCluster(count: number, options: { snapshotEveryEntries?: number; applyDeferTicks?: number } = {}, makeMachine: () => ListStateMachine = () => new ListStateMachine()) {
    const network = new MemoryNetwork();
    const voters = Array.from({ length: count }, (_, i) => i + 1);
    const machines = new Map<number, ListStateMachine>();
    const storages = new Map<number, MemoryRaftStorage>();
    const snapshotStores = new Map<number, MemorySnapshotStore>();
    const start = async (id: number) => {
      const sm = machines.get(id) ?? makeMachine();
      machines.set(id, sm);
      const previous = storages.get(id);
      const storage = previous !== undefined ? previous.reopen() : new MemoryRaftStorage();
      storages.set(id, storage);
      const snapshots = snapshotStores.get(id) ?? new MemorySnapshotStore();
      snapshotStores.set(id, snapshots);
      const node = await RaftNode.start({
        id,
        storage,
        snapshots,
        transport: network.endpoint(id),
        stateMachine: sm,
        bootstrap: { voters, learners: [] },
        tickIntervalMs: 10,
        seed: id,
        ...options,
      });
      nodes.push(node);
      return node;
    };
    for (const id of voters) await start(id);
    return { network, machines, start };
  }

  async function leaderOf(candidates: RaftNode[]): Promise<RaftNode> {
    for (;;) {
      const leader = candidates.find((n) => n.status().role === "leader");
      if (leader !== undefined) return leader;
      await new Promise<void>((resolve) => {
        const offs = candidates.map((n) => n.onStatusChange(() => (offs.forEach((off) => off()), resolve())));
      });
    }
  }

  test("five nodes elect one leader, a proposal on a follower is forwarded, and every node applies it", async () => {
    const { machines } = await startCluster(5);
    const leader = await leaderOf(nodes);
    expect(nodes.filter((n) => n.status().role === "leader").length).toBe(1);
    const follower = nodes.find((n) => n !== leader)!;
    const result = (await follower.propose(encode("hello"), 2000)) as { index: number };
    expect(result.index).toBeGreaterThan(1);
    // A linearizable read on any node sees the write.
    const other = nodes.find((n) => n !== leader && n !== follower)!;
    await other.readBarrier(2000);
    expect(machines.get(other.id)!.items).toContain("hello");
  });

  test("a follower holds committed entries back for one larger batch, and applies them at once when a read waits", async () => {
    // Entries held a million ticks: only a waiting read, never the clock, makes the follower apply.
    const { machines } = await startCluster(3, { applyDeferTicks: 1_000_000 });
    const leader = await leaderOf(nodes);
    const follower = nodes.find((n) => n !== leader)!;
    await Promise.all(Array.from({ length: 20 }, (_, i) => leader.propose(encode(`d${i}`), 2000)));
    // The leader applied all of them before answering; the follower knows they are
    // committed (its core handed them out) but holds them.
    await until(() => follower.status().applied + follower.status().applyPending >= leader.status().applied);
    expect(follower.status().applyPending).toBeGreaterThan(0);
    expect(machines.get(follower.id)!.items.length).toBeLessThan(20);
    const batchesBefore = follower.status().io.applyBatches;
    await follower.readBarrier(2000);
    expect(machines.get(follower.id)!.items).toEqual(machines.get(leader.id)!.items);
    expect(follower.status().applyPending).toBe(0);
    // However many Readies brought them, the held entries went in one batch.
    expect(follower.status().io.applyBatches - batchesBefore).toBeLessThanOrEqual(2);
  });

  test("applyHeld applies what a follower holds back, without asking the leader (what /readyz waits for)", async () => {
    const { machines, network } = await startCluster(3, { applyDeferTicks: 1_000_000 });
    const leader = await leaderOf(nodes);
    const follower = nodes.find((n) => n !== leader)!;
    await Promise.all(Array.from({ length: 10 }, (_, i) => leader.propose(encode(`h${i}`), 2000)));
    await until(() => follower.status().applyPending > 0 && follower.status().applied + follower.status().applyPending >= leader.status().applied);
    const held = follower.status().applied + follower.status().applyPending;
    // Cut off from the leader: a read barrier could not finish, applyHeld still does.
    network.cut(leader.id, follower.id);
    await follower.applyHeld(2000);
    expect(follower.status().applied).toBe(held);
    expect(follower.status().applyPending).toBe(0);
    expect(machines.get(follower.id)!.items).toEqual(machines.get(leader.id)!.items);
  });

  test("a follower applies held entries once they are a few ticks old, with nobody waiting", async () => {
    const { machines } = await startCluster(3);
    const leader = await leaderOf(nodes);
    const follower = nodes.find((n) => n !== leader)!;
    await leader.propose(encode("later"), 2000);
    await until(() => machines.get(follower.id)!.items.includes("later"));
    expect(follower.status().applyPending).toBe(0);
  });

  test("many concurrent proposals commit in one order on every node", async () => {
    const { machines } = await startCluster(3);
    const leader = await leaderOf(nodes);
    await Promise.all(Array.from({ length: 500 }, (_, i) => leader.propose(encode(`m${i}`), 5000)));
    for (const n of nodes) await n.readBarrier(2000);
    const sequences = [...machines.values()].map((m) => m.items.join(","));
    expect(new Set(sequences).size).toBe(1);
    expect(machines.get(leader.id)!.items.length).toBe(500);
  });

  test("a stopped leader hands over; the rest elect and keep writing", async () => {
    await startCluster(3);
    const first = await leaderOf(nodes);
    await first.stop();
    const rest = nodes.filter((n) => n !== first);
    const second = await leaderOf(rest);
    expect(second.id).not.toBe(first.id);
    const r = await second.propose(encode("after"), 3000).catch((e) => e);
    // On failure, show what the survivors believed.
    if (r instanceof Error) console.error("survivors:", r.message, JSON.stringify(rest.map((n) => n.status())));
    expect(r).not.toBeInstanceOf(Error);
  });

  test("without a quorum a proposal fails with unavailable within its deadline", async () => {
    const { network } = await startCluster(3);
    const leader = await leaderOf(nodes);
    for (const n of nodes) if (n !== leader) network.cut(leader.id, n.id);
    const started = Date.now();
    const error = await leader.propose(encode("lost?"), 300).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NodeError);
    expect((error as NodeError).code).toBe("unavailable");
    expect(Date.now() - started).toBeLessThan(1000);
  });

  test("a node that was down past compaction catches up by snapshot", async () => {
    const { machines, start } = await startCluster(3, { snapshotEveryEntries: 50 });
    const leader = await leaderOf(nodes);
    const lagging = nodes.find((n) => n !== leader)!;
    await lagging.stop({ transferLeadership: false });
    nodes = nodes.filter((n) => n !== lagging);
    for (let i = 0; i < 200; i++) await leader.propose(encode(`s${i}`), 2000);
    expect(leader.status().snapshotIndex).toBeGreaterThan(100);
    const restarted = await start(lagging.id);
    await restarted.readBarrier(5000);
    expect(machines.get(lagging.id)!.items).toEqual(machines.get(leader.id)!.items);
  });

  test("a follower behind by more than a transport frame of entries catches up by appends", async () => {
    // Appends must fit a frame after encoding: one that does not is dropped by the
    // transport and, resent unchanged, would be dropped forever.
    const { machines, start } = await startCluster(3);
    const leader = await leaderOf(nodes);
    const lagging = nodes.find((n) => n !== leader)!;
    await lagging.stop({ transferLeadership: false });
    nodes = nodes.filter((n) => n !== lagging);
    // Small entries: per-entry framing overhead is what pushes a full append past the frame.
    const filler = "x".repeat(240);
    for (let round = 0; round < 30; round++) {
      await Promise.all(Array.from({ length: 200 }, (_, i) => leader.propose(encode(`${round}.${i}:${filler}`), 10_000)));
    }
    const restarted = await start(lagging.id);
    await restarted.readBarrier(5000);
    expect(machines.get(lagging.id)!.items.length).toBe(machines.get(leader.id)!.items.length);
  });

  test("a snapshot copied while entries keep applying compacts the log, and a lagging node installs it", async () => {
    // The copy reflects the moment it began; the node applies on meanwhile (background
    // snapshot). The snapshot's term comes from the entries applied since.
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    class SlowSnapshots extends ListStateMachine {
      /** Where each copy began (every node snapshots; the test follows the leader's). */
      readonly copies: number[] = [];
      override async snapshot(): Promise<{ index: number; data: SnapshotBytes }> {
        const index = this.applied;
        const data = snapshotFromBytes(new TextEncoder().encode(JSON.stringify(this.items)));
        this.copies.push(index);
        await gate;
        return { index, data };
      }
    }
    const { machines, start } = await startCluster(3, { snapshotEveryEntries: 50 }, () => new SlowSnapshots());
    const leader = await leaderOf(nodes);
    const lagging = nodes.find((n) => n !== leader)!;
    await lagging.stop({ transferLeadership: false });
    nodes = nodes.filter((n) => n !== lagging);
    for (let i = 0; i < 60; i++) await leader.propose(encode(`a${i}`), 2000);
    const copiedAt = (machines.get(leader.id) as SlowSnapshots).copies[0]!;
    expect(copiedAt).toBeGreaterThanOrEqual(50);
    // The driver goes on applying while the copy is held back.
    for (let i = 0; i < 40; i++) await leader.propose(encode(`b${i}`), 2000);
    expect(leader.status().applied).toBeGreaterThan(copiedAt + 30);
    expect(leader.status().snapshotIndex).toBe(0);
    release();
    // The held copy lands at its own index (a newer one may follow at once: applied
    // has moved 50 entries past it meanwhile).
    await until(() => leader.status().snapshotIndex >= copiedAt);
    const restarted = await start(lagging.id);
    await restarted.readBarrier(5000);
    expect(machines.get(lagging.id)!.items).toEqual(machines.get(leader.id)!.items);
  });
});

/** Poll a condition in-process (the snapshot finishes on its own schedule). */
async function until(done: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
