import { connect, nkeyAuthenticator, type NatsConnection } from "@nats-io/transport-node";
import { encodeRpcRequest } from "../transport/codec.ts";
import { ReplyInbox } from "../transport/reply-inbox.ts";
import { unwrapRpcReply } from "../transport/rpc.ts";
import { TOOL_SENDER, inboxPrefix, rpcSubject } from "../transport/subjects.ts";
import { NodeError } from "../node/node-error.ts";
import { ProposalBatcher } from "../node/proposal-batcher.ts";
import type { Proposed } from "../node/request-router.ts";

export interface NodeRpcClientOptions {
  servers: string | string[];
  cluster: string;
  /** The tool identity's nkey seed: a guest with toolPermissions (subjects.ts). */
  seed: Uint8Array;
  tls?: { caFile: string };
}

/**
 * The node API over NATS, for the developers' raft benchmarks and process tests: send a
 * proposal to any node, which forwards it to the leader and answers once it is applied.
 * No HTTP involved. It needs the tool identity, which exists only in clusters a benchmark
 * or test starts for itself (never `cluster up`'s): tools and people come in through
 * HTTP. It proposes and nothing else: nodes refuse admin requests from it (admin-gate.ts).
 * Proposals made in the same event-loop turn share one request (ProposalBatcher).
 */
export class NodeRpcClient {
  private readonly proposals: ProposalBatcher;
  /** Replies come to `_INBOX_<cluster>.<TOOL_SENDER>.<node>.…`, where only that node may answer. */
  private readonly inbox: ReplyInbox;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly cluster: string,
  ) {
    this.inbox = new ReplyInbox(nc, cluster, TOOL_SENDER);
    this.inbox.start();
    this.proposals = new ProposalBatcher((via, request, timeoutMs) => this.exchange(via, request, timeoutMs));
  }

  static async connect(options: NodeRpcClientOptions): Promise<NodeRpcClient> {
    const nc = await connect({
      servers: options.servers,
      authenticator: nkeyAuthenticator(options.seed),
      inboxPrefix: inboxPrefix(options.cluster, TOOL_SENDER),
      ...(options.tls !== undefined ? { tls: { caFile: options.tls.caFile } } : {}),
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

  async close(): Promise<void> {
    await this.nc.close();
    this.inbox.close();
  }

  /** One request/reply with node `via`, as the tool sender; the reply's payload, unwrapped. */
  private async exchange(via: number, request: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    const frame = encodeRpcRequest({ from: TOOL_SENDER, payload: request });
    return unwrapRpcReply(await this.inbox.request(rpcSubject(this.cluster, via, TOOL_SENDER), via, frame, timeoutMs));
  }
}

function unanswered(via: number, error: unknown): NodeError {
  return new NodeError("unavailable", `node ${via} did not answer: ${(error as Error).message}`);
}
