import { closeSync, fdatasyncSync, fstatSync, openSync, writeSync } from "node:fs";

/** Zeros written per call while extending. */
const WRITE_CHUNK_BYTES = 1024 * 1024;

/**
 * Extend a database's write-ahead log file with zeros up to `bytes`, so that SQLite's
 * commits overwrite blocks the file already has instead of growing it (etcd preallocates
 * its WAL segments for the same reason). An fsync that extends a file must also commit
 * the filesystem's journal, and the nodes of a cluster on one disk queue on that journal:
 * with five processes fsyncing at once, an overwrite's fsync took 175–208 µs here and an
 * append's 365 µs. Written zeros, not fallocate: an allocated but unwritten extent still
 * needs a journal commit when first written.
 *
 * Safe because SQLite reads WAL frames only up to the first whose salt and checksum do
 * not match its header's; a zero frame never matches. That is the state SQLite leaves
 * itself after every WAL restart, when new frames overwrite a longer file's old ones.
 *
 * Call it only while nothing else writes the database (the file is extended past its
 * end, where SQLite would append). A missing WAL file is left alone.
 */
export function preallocateWal(databasePath: string, bytes: number): void {
  let fd: number;
  try {
    fd = openSync(`${databasePath}-wal`, "r+");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
    throw error;
  }
  try {
    let size = fstatSync(fd).size;
    if (size >= bytes) return;
    const zeros = new Uint8Array(WRITE_CHUNK_BYTES);
    while (size < bytes) {
      size += writeSync(fd, zeros, 0, Math.min(zeros.length, bytes - size), size);
    }
    fdatasyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
