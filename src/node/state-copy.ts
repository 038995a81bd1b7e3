/** Copy the state `tables` (and state_machine_meta) of `source`, a node database, into a new file `target`. */
export interface StateCopyRequest {
  readonly source: string;
  readonly target: string;
  readonly tables: readonly string[];
}

export type StateCopyReply = { readonly ok: true; readonly index: number } | { readonly ok: false; readonly message: string };

/** A copy that takes longer than this is abandoned (the next trigger tries again). */
const COPY_TIMEOUT_MS = 10 * 60_000;

/**
 * Copies the node's database in a worker thread and resolves with the applied index the
 * copy holds. The copy runs on its own connection, so the caller's event loop — raft
 * ticks, heartbeats, applies — is not held up while seconds of I/O go by.
 */
export function copyStateOffThread(source: string, target: string, tables: readonly string[]): Promise<number> {
  const worker = new Worker(new URL("./state-copy-worker.ts", import.meta.url).href);
  return new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => finish(() => reject(new Error(`state copy took over ${COPY_TIMEOUT_MS} ms`))), COPY_TIMEOUT_MS);
    const finish = (settle: () => void) => {
      clearTimeout(timer);
      worker.terminate();
      settle();
    };
    worker.onmessage = (event: MessageEvent<StateCopyReply>) => {
      const reply = event.data;
      finish(() => (reply.ok ? resolve(reply.index) : reject(new Error(`state copy failed: ${reply.message}`))));
    };
    worker.onerror = (event) => finish(() => reject(new Error(`state copy worker failed: ${event.message}`)));
    worker.postMessage({ source, target, tables } satisfies StateCopyRequest);
  });
}
