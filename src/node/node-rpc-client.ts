import { connect, type NatsConnection } from "@nats-io/transport-node";
import { NONE, type ConfChange } from "../raft/types.ts";
import { encodeRpcRequest } from "../transport/codec.ts";
import { unwrapRpcReply } from "../transport/rpc.ts";
import { rpcSubject } from "../transport/subjects.ts";
import { decodeForwardedReply, encodeForwardedRequest, type ForwardedRequest } from "./forwarding.ts";
import { NodeError } from "./node-error.ts";
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
 */
export class NodeRpcClient {
  private constructor(
    private readonly nc: NatsConnection,
    private readonly cluster: string,
  ) {}

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
    return (await this.send(via, { kind: "propose", data }, timeoutMs)) as Proposed;
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
    const frame = encodeRpcRequest({ from: NONE, payload: encodeForwardedRequest(request) });
    let reply;
    try {
      reply = await this.nc.request(rpcSubject(this.cluster, via), frame, { timeout: timeoutMs });
    } catch (error) {
      throw new NodeError("unavailable", `node ${via} did not answer: ${(error as Error).message}`);
    }
    let decoded;
    try {
      decoded = decodeForwardedReply(unwrapRpcReply(reply.data));
    } catch (error) {
      throw new NodeError("unavailable", `node ${via}: ${(error as Error).message}`);
    }
    if (!decoded.ok) throw new NodeError(decoded.code, decoded.message);
    return decoded.result;
  }
}
