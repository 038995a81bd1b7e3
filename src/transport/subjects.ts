import type { NodeId } from "../raft/types.ts";

// The NATS subjects of ARCHITECTURE.md, with the sender visible in the subject:
//
//   concord.<cluster>.raft.<to>.<from>   publish, no reply: a batch of raft messages
//   concord.<cluster>.snap.<to>.<from>   request/reply, chunked snapshot transfer
//   concord.<cluster>.rpc.<to>.<from>    request/reply, forwarded proposals and admin
//   _INBOX_<cluster>.<requester>.<responder>.<token>
//                                        the reply to one request, named by both ends
//
// nats-server's permissions (nodePermissions below) let node n publish only subjects
// ending in its own id, and replies only as `_INBOX_<cluster>.*.n.*`; it subscribes only
// to subjects addressed to n and to its own inbox `_INBOX_<cluster>.n.>`. So a receiver
// knows the sender from the subject alone (a payload whose `from` disagrees is dropped),
// and a requester knows a reply on `_INBOX_<cluster>.<me>.<to>.*` came from <to>.
//
// No identity has `allow_responses`: nats-server lets a response go to whatever reply
// subject the request named, past every publish permission and deny entry, so a member
// could name another member's raft subject as the reply of a request to itself, answer
// it, and speak as that member. A responder also answers only when the reply subject is
// its requester's inbox for it (isReplySubject): an honest node relays to nowhere else.
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
 * The inbox prefix of identity `who`: a node id, TOOL_SENDER for the tool, or a test
 * guest's name. Replies to its requests come under `<prefix>.…` (see replySubject), and
 * nats-server lets only `who` subscribe there, so nobody else reads the replies meant for it.
 */
export function inboxPrefix(cluster: string, who: NodeId | string): string {
  return `${inboxRoot(cluster)}.${who}`;
}

/** Under which every inbox of the cluster's identities lies (`<root>.>` covers them all). */
export function inboxRoot(cluster: string): string {
  return `_INBOX_${cluster}`;
}

/**
 * Where `responder` answers one request of `requester`: `_INBOX_<cluster>.<requester>.<responder>.<token>`.
 * The requester token is its sender token in the request's subject (TOOL_SENDER for the
 * tool), so a responder can check the reply subject against the subject it was asked on.
 * Only the requester reads it and only the responder may publish it (nodePermissions).
 * `token` is one subject token: letters and digits.
 */
export function replySubject(cluster: string, requester: NodeId, responder: NodeId, token: string): string {
  if (!REPLY_TOKEN.test(token)) throw new RangeError(`reply token must be letters and digits, got ${JSON.stringify(token)}`);
  return `${replyPrefix(cluster, requester, responder)}${token}`;
}

/** What every reply subject of `requester`'s requests to `responder` starts with. */
function replyPrefix(cluster: string, requester: NodeId, responder: NodeId): string {
  return `${inboxPrefix(cluster, requester)}.${responder}.`;
}

const REPLY_TOKEN = /^[A-Za-z0-9]{1,64}$/;

/**
 * Whether `reply` is a subject `responder` should answer a request from `requester` on:
 * one of `requester`'s reply subjects for it (replySubject). Anything else, a peer's raft
 * subject or another node's inbox, makes the responder a relay for the requester.
 */
export function isReplySubject(reply: string | undefined, cluster: string, requester: NodeId, responder: NodeId): boolean {
  if (reply === undefined) return false;
  const prefix = replyPrefix(cluster, requester, responder);
  return reply.startsWith(prefix) && REPLY_TOKEN.test(reply.slice(prefix.length));
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
  /**
   * Replies to requests it received, once each, to any subject the requester named, past
   * `publish` and `publishDeny`. Never for a cluster identity (see the top of this file);
   * only for test guests that talk among themselves on subjects of their own.
   */
  readonly allowResponses: boolean;
}

/**
 * A member node: publishes only as itself, to any node, and replies only as itself
 * (`_INBOX_<cluster>.*.n.*`, whoever asked); subscribes only to what is addressed to it
 * and to its own inbox. No allow_responses.
 */
export function nodePermissions(cluster: string, nodeId: NodeId): NatsPermissions {
  const channels: Channel[] = ["raft", "snap", "rpc"];
  return {
    publish: [...channels.map((c) => `concord.${cluster}.${c}.*.${nodeId}`), `${inboxRoot(cluster)}.*.${nodeId}.*`],
    subscribe: [...channels.map((c) => inboundSubject(cluster, c, nodeId)), `${inboxPrefix(cluster, nodeId)}.>`],
    allowResponses: false,
  };
}

/**
 * A tool (bench:node): forwarded proposals to any node, as TOOL_SENDER, and the replies
 * to them in its inbox (`_INBOX_<cluster>.<TOOL_SENDER>.>`, where nodes answer as
 * themselves); nothing else.
 */
export function toolPermissions(cluster: string): NatsPermissions {
  return {
    publish: [`concord.${cluster}.rpc.*.${TOOL_SENDER}`],
    subscribe: [`${inboxPrefix(cluster, TOOL_SENDER)}.>`],
    allowResponses: false,
  };
}
