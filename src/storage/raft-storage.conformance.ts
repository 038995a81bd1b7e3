import { describe, expect, test } from "bun:test";
import type { Entry, SnapshotMeta } from "../raft/types.ts";
import type { RaftStorage } from "./raft-storage.ts";
import { StorageError } from "./storage-error.ts";

export interface StorageUnderTest {
  storage: RaftStorage;
  /** Close and open the same durable state again (a restart). */
  reopen(): Promise<RaftStorage>;
  cleanup(): Promise<void>;
}

function entry(index: number, term: number, text = `e${index}`): Entry {
  return { index, term, kind: "normal", data: new TextEncoder().encode(text) };
}

const conf = { voters: [1, 2, 3], learners: [4] };

/** One suite for every RaftStorage implementation. */
export function describeRaftStorage(name: string, open: () => Promise<StorageUnderTest>): void {
  describe(`RaftStorage conformance: ${name}`, () => {
    async function withStorage(body: (s: StorageUnderTest) => Promise<void>): Promise<void> {
      const s = await open();
      try {
        await body(s);
      } finally {
        await s.cleanup();
      }
    }

    test("a new store is empty", () =>
      withStorage(async ({ storage }) => {
        const state = await storage.load();
        expect(state.hardState).toEqual({ term: 0, vote: 0, commit: 0 });
        expect(state.snapshot).toBeNull();
        expect(state.entries).toEqual([]);
      }));

    test("entries and hard state survive a restart, bytes exact", () =>
      withStorage(async (s) => {
        const binary: Entry = { index: 3, term: 2, kind: "conf", data: new Uint8Array([0, 255, 0, 7]) };
        await s.storage.write({ hardState: { term: 2, vote: 1, commit: 2 }, snapshot: null, entries: [entry(1, 1), entry(2, 2), binary] });
        const again = await s.reopen();
        const state = await again.load();
        expect(state.hardState).toEqual({ term: 2, vote: 1, commit: 2 });
        expect(state.entries.map((e) => [e.index, e.term, e.kind])).toEqual([[1, 1, "normal"], [2, 2, "normal"], [3, 2, "conf"]]);
        expect([...state.entries[2]!.data]).toEqual([0, 255, 0, 7]);
      }));

    test("a write from a conflicting index replaces the stored suffix", () =>
      withStorage(async ({ storage }) => {
        await storage.write({ hardState: null, snapshot: null, entries: [entry(1, 1), entry(2, 1), entry(3, 1)] });
        await storage.write({ hardState: null, snapshot: null, entries: [entry(2, 2, "new")] });
        const state = await storage.load();
        expect(state.entries.map((e) => `${e.index}/${e.term}`)).toEqual(["1/1", "2/2"]);
      }));

    test("a write that would leave a hole is refused with log_gap and changes nothing", () =>
      withStorage(async ({ storage }) => {
        await storage.write({ hardState: { term: 1, vote: 1, commit: 0 }, snapshot: null, entries: [entry(1, 1)] });
        const refused = storage.write({ hardState: { term: 9, vote: 9, commit: 0 }, snapshot: null, entries: [entry(3, 1)] });
        await expect(refused).rejects.toBeInstanceOf(StorageError);
        await expect(refused).rejects.toMatchObject({ code: "log_gap" });
        const state = await storage.load();
        expect(state.hardState.term).toBe(1);
        expect(state.entries.length).toBe(1);
      }));

    test("compaction drops entries up to the snapshot and keeps the rest", () =>
      withStorage(async (s) => {
        await s.storage.write({ hardState: null, snapshot: null, entries: [1, 2, 3, 4, 5].map((i) => entry(i, 1)) });
        const meta: SnapshotMeta = { index: 3, term: 1, conf };
        await s.storage.compact(meta);
        await s.storage.write({ hardState: null, snapshot: null, entries: [entry(6, 2)] });
        const state = await (await s.reopen()).load();
        expect(state.snapshot).toEqual(meta);
        expect(state.entries.map((e) => e.index)).toEqual([4, 5, 6]);
      }));

    test("installing a leader's snapshot replaces the whole log", () =>
      withStorage(async ({ storage }) => {
        await storage.write({ hardState: null, snapshot: null, entries: [entry(1, 1), entry(2, 1)] });
        const meta: SnapshotMeta = { index: 10, term: 3, conf };
        await storage.write({ hardState: { term: 3, vote: 0, commit: 10 }, snapshot: meta, entries: [entry(11, 3)] });
        const state = await storage.load();
        expect(state.snapshot).toEqual(meta);
        expect(state.entries.map((e) => e.index)).toEqual([11]);
        expect(state.hardState.commit).toBe(10);
      }));

    test("a write that only moves the commit index is skipped (no fsync); term and vote changes are synced", () =>
      withStorage(async (s) => {
        await s.storage.write({ hardState: { term: 1, vote: 1, commit: 0 }, snapshot: null, entries: [entry(1, 1)] });
        await s.storage.write({ hardState: { term: 1, vote: 1, commit: 1 }, snapshot: null, entries: [] });
        expect(s.storage.syncedWrites()).toBe(1);
        await s.storage.write({ hardState: { term: 2, vote: 0, commit: 1 }, snapshot: null, entries: [] });
        expect(s.storage.syncedWrites()).toBe(2);
        const state = await (await s.reopen()).load();
        expect(state.hardState).toEqual({ term: 2, vote: 0, commit: 1 });
      }));

    test("a closed store refuses work with code closed", () =>
      withStorage(async ({ storage }) => {
        await storage.close();
        await expect(storage.load()).rejects.toMatchObject({ code: "closed" });
      }));
  });
}
