// The simulated network decides, per message, whether it is lost, duplicated, and
// how long each copy takes; a long-tail delay on a fraction of messages is what
// reorders them. Partitions are sets of blocked directed links, so a symmetric split
// and a one-way cut are the same mechanism, and overlapping partitions compose.

import type { NodeId } from "../../src/raft/types.ts";
import type { SimRandom } from "./sim-random.ts";

export interface NetworkConditions {
  lossRate: number;
  duplicateRate: number;
  minDelayMs: number;
  maxDelayMs: number;
  /** Fraction of messages that take the slow path (reordering past later messages). */
  slowRate: number;
  slowMaxDelayMs: number;
}

export const CALM_NETWORK: NetworkConditions = {
  lossRate: 0,
  duplicateRate: 0,
  minDelayMs: 1,
  maxDelayMs: 3,
  slowRate: 0,
  slowMaxDelayMs: 3,
};

export class SimNetwork {
  conditions: NetworkConditions;
  private readonly blockedLinks = new Map<number, number>(); // link key → how many partitions block it
  private readonly partitions = new Map<number, readonly number[]>(); // partition id → its link keys
  private nextPartitionId = 1;

  constructor(
    conditions: NetworkConditions,
    private readonly rng: SimRandom,
  ) {
    this.conditions = conditions;
  }

  isBlocked(from: NodeId, to: NodeId): boolean {
    return (this.blockedLinks.get(linkKey(from, to)) ?? 0) > 0;
  }

  /** Blocks every listed directed link until `heal(id)`; returns the partition id. */
  partition(links: ReadonlyArray<readonly [NodeId, NodeId]>): number {
    const id = this.nextPartitionId++;
    const keys = links.map(([a, b]) => linkKey(a, b));
    for (const k of keys) this.blockedLinks.set(k, (this.blockedLinks.get(k) ?? 0) + 1);
    this.partitions.set(id, keys);
    return id;
  }

  heal(id: number): void {
    const keys = this.partitions.get(id);
    if (keys === undefined) return;
    this.partitions.delete(id);
    for (const k of keys) {
      const n = (this.blockedLinks.get(k) ?? 0) - 1;
      if (n <= 0) this.blockedLinks.delete(k);
      else this.blockedLinks.set(k, n);
    }
  }

  healAll(): void {
    this.partitions.clear();
    this.blockedLinks.clear();
  }

  /** Delays of the copies that will arrive: [] when lost, two entries when duplicated. */
  deliveryDelaysMs(): number[] {
    const c = this.conditions;
    if (this.rng.chance(c.lossRate)) return [];
    const first = this.oneDelayMs(c);
    if (!this.rng.chance(c.duplicateRate)) return [first];
    return [first, this.oneDelayMs(c)];
  }

  private oneDelayMs(c: NetworkConditions): number {
    if (this.rng.chance(c.slowRate)) return this.rng.between(c.maxDelayMs, Math.max(c.maxDelayMs, c.slowMaxDelayMs));
    return this.rng.between(c.minDelayMs, c.maxDelayMs);
  }
}

function linkKey(from: NodeId, to: NodeId): number {
  return from * 65536 + to;
}
