import type { NodeId } from "../raft/types.ts";

// The NATS subjects of ARCHITECTURE.md, with the sender visible in the subject:
//
//   concord.<cluster>.raft.<to>.<from>   publish, no reply: a batch of raft messages
//   concord.<cluster>.snap.<to>.<from>   request/reply, chunked snapshot transfer
//   concord.<cluster>.rpc.<to>.<from>    request/reply, forwarded proposals and admin
//   _INBOX_<cluster>.<who>.>             the replies to <who>'s requests
//
// nats-server's permissions (natsPermissions below) let node <from> publish only
// subjects ending in its own id and subscribe only to subjects starting with its own
// id, and replies go back through `allow_responses`. So a receiver knows the sender
// from the subject alone; a payload whose `from` disagrees is dropped.
//
// One function per subject so a typo cannot make a node publish where nobody listens.

/** A cluster name is one subject token: no dots, wildcards or whitespace. */
export function checkClusterName(cluster: string): void {
  if (!/^[A-Za-z0-9_-]+$/.test(cluster)) throw new RangeError(`cluster name must be one NATS subject token, got ${JSON.stringify(cluster)}`);
}

export type Channel = "raft" | "snap" | "rpc";

/**
 * The sender token of a tool's requests on the rpc subject (bench:node's identity, which
 * exists only in the cluster that benchmark starts). No production identity may publish
 * it, and only the rpc channel accepts it.
 */
export const TOOL_SENDER = 0;

function subject(cluster: string, channel: Channel, to: NodeId, from: NodeId): string {
  return `concord.${cluster}.${channel}.${to}.${from}`;
}

export function raftSubject(cluster: string, to: NodeId, from: NodeId): string {
  return subject(cluster, "raft", to, from);
}

export function snapSubject(cluster: string, to: NodeId, from: NodeId): string {
  return subject(cluster, "snap", to, from);
}

export function rpcSubject(cluster: string, to: NodeId, from: NodeId): string {
  return subject(cluster, "rpc", to, from);
}

/** What node `nodeId` subscribes to on one channel: its own, from any sender. */
export function inboundSubject(cluster: string, channel: Channel, nodeId: NodeId): string {
  return `concord.${cluster}.${channel}.${nodeId}.*`;
}

/**
 * The inbox prefix of identity `who` (a node id, "tool" or "harness"). nats.js puts the
 * replies to its requests under `<prefix>.…`, and nats-server lets only `who` subscribe
 * there, so nobody else reads the replies meant for it.
 */
export function inboxPrefix(cluster: string, who: NodeId | string): string {
  return `${inboxRoot(cluster)}.${who}`;
}

/** Under which every inbox of the cluster's identities lies (`<root>.>` covers them all). */
export function inboxRoot(cluster: string): string {
  return `_INBOX_${cluster}`;
}

const ID_TOKEN = /^(0|[1-9][0-9]{0,9})$/;

/**
 * The sender of a message on one of `nodeId`'s inbound subjects, from the subject's last
 * token; null if the subject is not one of ours (nothing the server lets through).
 */
export function senderOf(subject: string, cluster: string, channel: Channel, nodeId: NodeId): NodeId | null {
  const prefix = `concord.${cluster}.${channel}.${nodeId}.`;
  if (!subject.startsWith(prefix)) return null;
  const token = subject.slice(prefix.length);
  if (!ID_TOKEN.test(token)) return null;
  const id = Number(token);
  return id <= 0xffffffff ? id : null;
}

/** nats-server permissions, in the shape of its configuration file. */
export interface NatsPermissions {
  /** Subjects it may publish (none: it may publish nothing). */
  readonly publish: readonly string[];
  readonly subscribe: readonly string[];
  /** Taken out of what `publish` allows. */
  readonly publishDeny?: readonly string[];
  readonly subscribeDeny?: readonly string[];
  /** Replies to requests it received, once each, without any publish permission for them. */
  readonly allowResponses: boolean;
}

/**
 * A member node: publishes only as itself, to any node; subscribes only to what is
 * addressed to it and to its own inbox; answers requests through allow_responses.
 */
export function nodePermissions(cluster: string, nodeId: NodeId): NatsPermissions {
  const channels: Channel[] = ["raft", "snap", "rpc"];
  return {
    publish: channels.map((c) => `concord.${cluster}.${c}.*.${nodeId}`),
    subscribe: [...channels.map((c) => inboundSubject(cluster, c, nodeId)), `${inboxPrefix(cluster, nodeId)}.>`],
    allowResponses: true,
  };
}

/** A tool (bench:node): forwarded proposals to any node, as TOOL_SENDER, and nothing else. */
export function toolPermissions(cluster: string): NatsPermissions {
  return {
    publish: [`concord.${cluster}.rpc.*.${TOOL_SENDER}`],
    subscribe: [`${inboxPrefix(cluster, "tool")}.>`],
    allowResponses: false,
  };
}
