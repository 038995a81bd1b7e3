import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readWholeSnapshot, snapshotFromBytes } from "../raft/snapshot-bytes.ts";
import type { SnapshotMeta } from "../raft/types.ts";
import { FileSnapshotBytes, FileSnapshotStore } from "./file-snapshot-store.ts";

const meta = (index: number): SnapshotMeta => ({ index, term: 2, conf: { voters: [1, 2, 3], learners: [] } });
const patterned = (size: number) => new Uint8Array(size).map((_, i) => (i * 7) % 251);

describe("FileSnapshotStore", () => {
  let dir = "";
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "concord-snapshots-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test("a snapshot received in chunks, in any order, is kept by renaming its file and read back in pieces", async () => {
    const store = new FileSnapshotStore(dir);
    const data = patterned(10_000);
    const sink = await store.incoming(data.length);
    for (const offset of [6_000, 0, 3_000, 9_000]) await sink.write(offset, data.subarray(offset, Math.min(data.length, offset + 3_000)));
    const received = await sink.finish();
    expect(received).toBeInstanceOf(FileSnapshotBytes);
    const inode = statSync((received as FileSnapshotBytes).path).ino;

    const kept = await store.save(meta(40), received);
    expect(existsSync((received as FileSnapshotBytes).path)).toBe(false);
    expect(statSync((kept as FileSnapshotBytes).path).ino).toBe(inode); // moved, not copied
    const loaded = (await store.load(40))!;
    expect(loaded.size).toBe(data.length);
    expect(await loaded.read(9_990, 100)).toEqual(data.subarray(9_990));
    expect(Buffer.compare(await readWholeSnapshot(loaded), data)).toBe(0);
    // What a store keeps is never deleted by releasing it.
    await loaded.release?.();
    expect(await store.load(40)).not.toBeNull();
    expect(await store.load(39)).toBeNull();
  });

  test("bytes from elsewhere are copied in; the older file stays until pruned, as the log may still point at it", async () => {
    const store = new FileSnapshotStore(dir);
    await store.save(meta(10), snapshotFromBytes(patterned(5)));
    const newer = patterned(3 * 1024 * 1024 + 1);
    const kept = await store.save(meta(20), snapshotFromBytes(newer));
    expect(Buffer.compare(await readWholeSnapshot(kept), newer)).toBe(0);
    // A crash here restarts from the log's record, which still names snapshot 10.
    expect(await store.load(10)).not.toBeNull();
    await store.prune(20);
    expect(await store.load(10)).toBeNull();
    expect(readdirSync(dir)).toEqual(["snapshot-20.bin"]);
  });

  test("a discarded transfer and a crash's leftovers leave no file; a chunk outside the snapshot is refused", async () => {
    const store = new FileSnapshotStore(dir);
    await store.save(meta(7), snapshotFromBytes(patterned(100)));
    const abandoned = await store.incoming(100);
    await abandoned.write(0, patterned(50));
    await expect(abandoned.write(90, patterned(20))).rejects.toThrow(RangeError);
    await abandoned.discard();
    expect(readdirSync(dir)).toEqual(["snapshot-7.bin"]);

    const interrupted = await store.incoming(100);
    await interrupted.write(0, patterned(10));
    writeFileSync(join(dir, "unrelated.txt"), "kept");
    await store.removeLeftovers();
    expect(readdirSync(dir).sort()).toEqual(["snapshot-7.bin", "unrelated.txt"]);
    await interrupted.discard();
  });
});
