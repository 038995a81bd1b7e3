import type { SqlConnection } from "./sql-connection.ts";

/**
 * Run `body` on the synchronous writer connection with `synchronous=NORMAL`: its commit
 * is atomic but not fsync'd.
 *
 * Why that is safe for what we use it for: in WAL mode frames are appended in order
 * and a crash keeps a prefix of them. So a relaxed transaction survives whenever any
 * later fsync'd one does, and if it is lost, so is everything after it. We relax only
 * writes that can be redone: applying committed entries (replayed from the durable log).
 * Log entries, votes, terms and snapshots always go through synchronous=FULL.
 *
 * The node's single connection runs one transaction at a time (the driver loop), so the
 * mode cannot leak into another writer.
 */
export function withRelaxedDurabilitySync<T>(connection: SqlConnection, body: () => T): T {
  connection.exec("PRAGMA synchronous=NORMAL");
  try {
    return body();
  } finally {
    connection.exec("PRAGMA synchronous=FULL");
  }
}
