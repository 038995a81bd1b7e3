import { randomUUID } from "node:crypto";
import { type FileHandle, open, readdir, rename, rm, stat } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { assertChunkInside } from "../raft/snapshot-bytes.ts";
import type { SnapshotBytes, SnapshotMeta, SnapshotSink } from "../raft/types.ts";
import type { SnapshotStore } from "./snapshot-store.ts";

const PREFIX = "snapshot-";
/** Snapshots on their way in, and state copies not yet kept: temporary, gone after a restart. */
const TEMPORARY_PREFIX = "snapshot-tmp-";
/** Bytes copied per read when a snapshot from elsewhere is kept. */
const COPY_CHUNK_BYTES = 1024 * 1024;

/**
 * A fresh name for a temporary snapshot file in `dir` (a node's data directory: there
 * save() can keep it by renaming, and removeLeftovers() deletes it after a crash).
 */
export function temporarySnapshotPath(dir: string): string {
  return join(dir, `${TEMPORARY_PREFIX}${randomUUID()}`);
}

/** A snapshot in a file, read a piece at a time; `release` deletes it when it is temporary. */
export class FileSnapshotBytes implements SnapshotBytes {
  constructor(
    readonly path: string,
    readonly size: number,
    /** Owned by its holder, deleted on release, and free to be moved by save(). */
    readonly temporary: boolean,
  ) {}

  static async of(path: string, temporary: boolean): Promise<FileSnapshotBytes> {
    return new FileSnapshotBytes(path, (await stat(path)).size, temporary);
  }

  /** Opened per read: a kept file replaced meanwhile fails this transfer, and raft sends the newer one. */
  async read(offset: number, length: number): Promise<Uint8Array> {
    const handle = await open(this.path, "r");
    try {
      const out = new Uint8Array(Math.max(0, Math.min(length, this.size - offset)));
      let filled = 0;
      while (filled < out.length) {
        const { bytesRead } = await handle.read(out, filled, out.length - filled, offset + filled);
        if (bytesRead === 0) throw new Error(`${this.path} ends at ${offset + filled}, before its ${this.size} bytes`);
        filled += bytesRead;
      }
      return out;
    } finally {
      await handle.close();
    }
  }

  async release(): Promise<void> {
    if (this.temporary) await rm(this.path, { force: true });
  }
}

/**
 * Snapshot bytes as `snapshot-<index>.bin` in the node's data directory, fsync'd. They
 * never pass through memory whole: a state copy or a received snapshot is written to a
 * temporary file here and kept by renaming it.
 */
export class FileSnapshotStore implements SnapshotStore {
  constructor(private readonly dir: string) {}

  /** Delete temporary files a crash left behind (call before the node starts). */
  async removeLeftovers(): Promise<void> {
    for (const name of await readdir(this.dir)) {
      if (name.startsWith(TEMPORARY_PREFIX)) await rm(join(this.dir, name), { force: true });
    }
  }

  async save(meta: SnapshotMeta, data: SnapshotBytes): Promise<SnapshotBytes> {
    const final = join(this.dir, `${PREFIX}${meta.index}.bin`);
    if (data instanceof FileSnapshotBytes && data.temporary && resolve(dirname(data.path)) === resolve(this.dir)) {
      await syncFile(data.path);
      await rename(data.path, final);
    } else {
      const temporary = temporarySnapshotPath(this.dir);
      await writeSnapshotFile(temporary, data);
      await rename(temporary, final);
      await data.release?.();
    }
    // Rename is atomic: a crash leaves either no file or a whole one.
    await syncFile(this.dir);
    return new FileSnapshotBytes(final, data.size, false);
  }

  async prune(keepIndex: number): Promise<void> {
    const keep = `${PREFIX}${keepIndex}.bin`;
    let removed = false;
    for (const name of await readdir(this.dir)) {
      if (name.startsWith(PREFIX) && !name.startsWith(TEMPORARY_PREFIX) && name.endsWith(".bin") && name !== keep) {
        await rm(join(this.dir, name), { force: true });
        removed = true;
      }
    }
    if (removed) await syncFile(this.dir);
  }

  async load(index: number): Promise<SnapshotBytes | null> {
    try {
      return await FileSnapshotBytes.of(join(this.dir, `${PREFIX}${index}.bin`), false);
    } catch {
      return null;
    }
  }

  async incoming(size: number): Promise<SnapshotSink> {
    const path = temporarySnapshotPath(this.dir);
    const handle = await open(path, "w");
    let closed = false;
    const close = async (): Promise<void> => {
      if (closed) return;
      closed = true;
      await handle.close();
    };
    return {
      write: async (offset, chunk) => {
        assertChunkInside(size, offset, chunk);
        await writeFully(handle, chunk, offset);
      },
      finish: async () => {
        await handle.sync();
        await close();
        return new FileSnapshotBytes(path, size, true);
      },
      discard: async () => {
        await close();
        await rm(path, { force: true });
      },
    };
  }
}

async function writeFully(handle: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let written = 0;
  while (written < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, written, bytes.length - written, position + written);
    written += bytesWritten;
  }
}

/** Write snapshot bytes from anywhere into a new file, a piece at a time, fsync'd. */
export async function writeSnapshotFile(path: string, data: SnapshotBytes): Promise<void> {
  const handle = await open(path, "w");
  try {
    for (let offset = 0; offset < data.size; offset += COPY_CHUNK_BYTES) {
      await writeFully(handle, await data.read(offset, COPY_CHUNK_BYTES), offset);
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function syncFile(path: string): Promise<void> {
  const handle = await open(path, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
