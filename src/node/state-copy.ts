import type { InStatement } from "@libsql/client";

/**
 * Work on a node database that takes seconds for a large state, done in a worker thread
 * on a connection of its own so that the caller's event loop — raft ticks, heartbeats,
 * applies, HTTP — is not held up meanwhile:
 * - copy: the state `tables` (and state_machine_meta) of `source` into a new file `target`;
 * - restore: run `statements` in one write transaction on `database` with the snapshot
 *   file attached as `snap`.
 */
export type StateWorkerRequest =
  | { readonly kind: "copy"; readonly source: string; readonly target: string; readonly tables: readonly string[] }
  | { readonly kind: "restore"; readonly database: string; readonly snapshotFile: string; readonly statements: readonly InStatement[] }
  | { readonly kind: "verify"; readonly snapshotFile: string };

/** `index`: the applied index of the copy (copy) or of the snapshot (verify), or 0 (restore). */
export type StateWorkerReply = { readonly ok: true; readonly index: number } | { readonly ok: false; readonly message: string };

/** A copy or restore that takes longer than this is abandoned. */
const WORK_TIMEOUT_MS = 10 * 60_000;

/** Copies the state tables into `target` and resolves with the applied index the copy holds. */
export function copyStateOffThread(source: string, target: string, tables: readonly string[]): Promise<number> {
  return runStateWorker({ kind: "copy", source, target, tables });
}

/** Runs a snapshot's restore statements in one transaction, `snapshotFile` attached as `snap`. */
export async function restoreStateOffThread(database: string, snapshotFile: string, statements: readonly InStatement[]): Promise<void> {
  await runStateWorker({ kind: "restore", database, snapshotFile, statements });
}

/**
 * Checks a snapshot file before the node acts on it: SQLite's quick_check of every page
 * and b-tree, and the applied index it holds. Resolves with that index; rejects when the
 * file is torn, corrupt or not a state copy.
 */
export function verifySnapshotOffThread(snapshotFile: string): Promise<number> {
  return runStateWorker({ kind: "verify", snapshotFile });
}

function runStateWorker(request: StateWorkerRequest): Promise<number> {
  const worker = new Worker(new URL("./state-copy-worker.ts", import.meta.url).href);
  return new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => finish(() => reject(new Error(`state ${request.kind} took over ${WORK_TIMEOUT_MS} ms`))), WORK_TIMEOUT_MS);
    const finish = (settle: () => void) => {
      clearTimeout(timer);
      worker.terminate();
      settle();
    };
    worker.onmessage = (event: MessageEvent<StateWorkerReply>) => {
      const reply = event.data;
      finish(() => (reply.ok ? resolve(reply.index) : reject(new Error(`state ${request.kind} failed: ${reply.message}`))));
    };
    worker.onerror = (event) => finish(() => reject(new Error(`state ${request.kind} worker failed: ${event.message}`)));
    worker.postMessage(request);
  });
}
