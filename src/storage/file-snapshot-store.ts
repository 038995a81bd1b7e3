import { open, readFile, readdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import type { SnapshotMeta } from "../raft/types.ts";
import type { SnapshotStore } from "./snapshot-store.ts";

const PREFIX = "snapshot-";

/** Snapshot bytes as `snapshot-<index>.bin` in the node's data directory, fsync'd. */
export class FileSnapshotStore implements SnapshotStore {
  constructor(private readonly dir: string) {}

  async save(meta: SnapshotMeta, data: Uint8Array): Promise<void> {
    const final = join(this.dir, `${PREFIX}${meta.index}.bin`);
    const temporary = `${final}.tmp`;
    const handle = await open(temporary, "w");
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    // Rename is atomic: a crash leaves either no file or a whole one.
    await rename(temporary, final);
    await this.syncDir();
    for (const name of await readdir(this.dir)) {
      if (name.startsWith(PREFIX) && name !== `${PREFIX}${meta.index}.bin`) await rm(join(this.dir, name), { force: true });
    }
  }

  async load(index: number): Promise<Uint8Array | null> {
    try {
      return new Uint8Array(await readFile(join(this.dir, `${PREFIX}${index}.bin`)));
    } catch {
      return null;
    }
  }

  private async syncDir(): Promise<void> {
    const handle = await open(this.dir, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
}
