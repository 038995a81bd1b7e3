// The measuring part of bench:node and bench:http: after a warm-up, a window of
// `seconds` during which the caller's clients record what they see, with the CPU every
// process used and the fsyncs and apply batches every node made meanwhile.
import { type ClusterView, LocalCluster } from "../../harness/cluster/local-cluster.ts";
import { cpuWindow } from "../../harness/bench/proc-stats.ts";

export interface Window {
  elapsedS: number;
  /** CPU milliseconds by process name, and the kernel's part of them. */
  cpuMs: Record<string, number>;
  sysMs: Record<string, number>;
  /** Over every running node. */
  fsyncs: number;
  applyBatches: number;
}

async function ioTotals(cluster: LocalCluster): Promise<{ fsyncs: number; applyBatches: number }> {
  const views = (await Promise.all(cluster.running().map((id) => cluster.view(id)))) as ClusterView[];
  return { fsyncs: views.reduce((sum, v) => sum + v.io.fsyncs, 0), applyBatches: views.reduce((sum, v) => sum + v.io.applyBatches, 0) };
}

/** `measuring(true)` when the window opens and `measuring(false)` when it closes: clients count only in between. */
export async function measuredWindow(
  cluster: LocalCluster,
  pids: Readonly<Record<string, number>>,
  warmupMs: number,
  seconds: number,
  measuring: (on: boolean) => void,
): Promise<Window> {
  await Bun.sleep(warmupMs);
  const ioBefore = await ioTotals(cluster);
  const cpuUsed = cpuWindow(pids);
  measuring(true);
  const startedAt = performance.now();
  await Bun.sleep(seconds * 1000);
  measuring(false);
  const elapsedS = (performance.now() - startedAt) / 1000;
  const used = cpuUsed();
  const ioAfter = await ioTotals(cluster);
  return { elapsedS, cpuMs: used.cpuMs, sysMs: used.sysMs, fsyncs: ioAfter.fsyncs - ioBefore.fsyncs, applyBatches: ioAfter.applyBatches - ioBefore.applyBatches };
}
