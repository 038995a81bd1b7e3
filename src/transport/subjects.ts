import type { NodeId } from "../raft/types.ts";

// The NATS subjects of ARCHITECTURE.md. One function per subject so a typo cannot
// make a node publish where nobody listens.

/** A cluster name is one subject token: no dots, wildcards or whitespace. */
export function checkClusterName(cluster: string): void {
  if (!/^[A-Za-z0-9_-]+$/.test(cluster)) throw new RangeError(`cluster name must be one NATS subject token, got ${JSON.stringify(cluster)}`);
}

export function raftSubject(cluster: string, nodeId: NodeId): string {
  return `concord.${cluster}.raft.${nodeId}`;
}

export function snapSubject(cluster: string, nodeId: NodeId): string {
  return `concord.${cluster}.snap.${nodeId}`;
}

export function rpcSubject(cluster: string, nodeId: NodeId): string {
  return `concord.${cluster}.rpc.${nodeId}`;
}
