import { connect, type NatsConnection } from "@nats-io/transport-node";
import { NONE, type ConfChange } from "../raft/types.ts";
import { encodeRpcRequest } from "../transport/codec.ts";
import { unwrapRpcReply } from "../transport/rpc.ts";
import { rpcSubject } from "../transport/subjects.ts";
import { decodeForwardedReply, encodeForwardedRequest, type ForwardedRequest } from "./forwarding.ts";
import { NodeError } from "./node-error.ts";
import { ProposalBatcher } from "./proposal-batcher.ts";
import type { Proposed } from "./raft-node.ts";

export interface NodeRpcClientOptions {
  servers: string | string[];
  cluster: string;
  user?: string;
  pass?: string;
}

/**
 * The node API over NATS, for tools and benchmarks: send a command to any node, which
 * forwards it to the leader and answers once it is applied. No HTTP involved.
 * Proposals made in the same event-loop turn share one request (ProposalBatcher).
 */
export class NodeRpcClient {
  private readonly proposals: ProposalBatcher;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly cluster: string,
  ) {
    this.proposals = new ProposalBatcher((via, request, timeoutMs) => this.exchange(via, request, timeoutMs));
  }

  static async connect(options: NodeRpcClientOptions): Promise<NodeRpcClient> {
    const nc = await connect({
      servers: options.servers,
      ...(options.user !== undefined ? { user: options.user } : {}),
      ...(options.pass !== undefined ? { pass: options.pass } : {}),
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      noAsyncTraces: true,
    });
    return new NodeRpcClient(nc, options.cluster);
  }

  /** Replicate `data` through node `via`; resolves with its log index and the state machine's result. */
  async propose(via: number, data: Uint8Array, timeoutMs: number): Promise<Proposed> {
    let reply;
    try {
      reply = await this.proposals.propose(via, data, Date.now() + timeoutMs);
    } catch (error) {
      throw unanswered(via, error);
    }
    if (!reply.ok) throw new NodeError(reply.code, reply.message);
    return reply.result as Proposed;
  }

  changeMembership(via: number, change: ConfChange, timeoutMs: number): Promise<unknown> {
    return this.send(via, { kind: "confChange", change }, timeoutMs);
  }

  transferLeadership(via: number, to: number, timeoutMs: number): Promise<unknown> {
    return this.send(via, { kind: "transfer", to }, timeoutMs);
  }

  async close(): Promise<void> {
    await this.nc.close();
  }

  private async send(via: number, request: ForwardedRequest, timeoutMs: number): Promise<unknown> {
    let decoded;
    try {
      decoded = decodeForwardedReply(await this.exchange(via, encodeForwardedRequest(request), timeoutMs));
    } catch (error) {
      throw unanswered(via, error);
    }
    if (!decoded.ok) throw new NodeError(decoded.code, decoded.message);
    return decoded.result;
  }

  /** One request/reply with node `via`; the reply's payload, unwrapped. */
  private async exchange(via: number, request: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    const frame = encodeRpcRequest({ from: NONE, payload: request });
    const reply = await this.nc.request(rpcSubject(this.cluster, via), frame, { timeout: timeoutMs });
    return unwrapRpcReply(reply.data);
  }
}

function unanswered(via: number, error: unknown): NodeError {
  return new NodeError("unavailable", `node ${via} did not answer: ${(error as Error).message}`);
}
