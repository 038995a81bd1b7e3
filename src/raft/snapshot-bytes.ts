import type { SnapshotBytes, SnapshotSink } from "./types.ts";

// Snapshot bytes held in memory: the simulator, tests and in-process transports. Nodes
// keep theirs in files (storage/file-snapshot-store.ts).

export function snapshotFromBytes(data: Uint8Array): SnapshotBytes {
  return {
    size: data.length,
    read: async (offset, length) => data.subarray(offset, Math.min(data.length, offset + length)),
  };
}

/** Read a whole snapshot into memory (for states that live in memory anyway). */
export async function readWholeSnapshot(bytes: SnapshotBytes): Promise<Uint8Array> {
  return bytes.read(0, bytes.size);
}

/** A sink's guard: a chunk must lie within the snapshot's announced size. */
export function assertChunkInside(size: number, offset: number, chunk: Uint8Array): void {
  if (offset < 0 || offset + chunk.length > size) throw new RangeError(`chunk at ${offset} (${chunk.length} bytes) lies outside a ${size}-byte snapshot`);
}

/** A sink that assembles the snapshot in one buffer of its announced size. */
export function memorySnapshotSink(size: number): SnapshotSink {
  const data = new Uint8Array(size);
  return {
    write: async (offset, chunk) => {
      assertChunkInside(size, offset, chunk);
      data.set(chunk, offset);
    },
    finish: async () => snapshotFromBytes(data),
    discard: async () => {},
  };
}
