import { join } from "node:path";
import { drizzle } from "drizzle-orm/libsql";
import { ChatStateMachine } from "../chat/chat-state-machine.ts";
import { encodeProposal } from "../chat/command-codec.ts";
import { LibsqlChatQueries } from "../chat/libsql-chat-queries.ts";
import { FileSnapshotStore } from "../storage/file-snapshot-store.ts";
import { LibsqlRaftStorage } from "../storage/libsql-storage.ts";
import { closeNodeDatabase, openNodeDatabase, openReader, type NodeDatabase } from "../storage/node-database.ts";
import { FaultInjectingTransport } from "../transport/fault-injecting-transport.ts";
import { NatsTransport } from "../transport/nats-transport.ts";
import type { Transport } from "../transport/transport.ts";
import { LibsqlStateMachine } from "./libsql-state-machine.ts";
import type { Logger } from "./logger.ts";
import { NodeChatBackend } from "./node-chat-backend.ts";
import { RaftNode } from "./raft-node.ts";

/** Transport events that mean a message can never be delivered (the rest is routine loss). */
const TRANSPORT_WARNINGS = new Set(["message_too_large"]);

/**
 * The largest snapshot a node accepts from its leader. It is written to disk as it
 * arrives, so this only stops a wrong announcement from filling the disk; the state it
 * copies (~270 MB per million messages) stays far below.
 */
const MAX_SNAPSHOT_FILE_BYTES = 64 * 1024 * 1024 * 1024;

export interface ConcordNodeConfig {
  id: number;
  cluster: string;
  dataDir: string;
  natsServers: string[];
  natsUser?: string;
  natsPass?: string;
  /** Voters of a brand-new cluster; null for a node that joins an existing one. */
  bootstrapVoters: number[] | null;
  tickIntervalMs: number;
  electionTimeoutTicks: number;
  heartbeatIntervalTicks: number;
  snapshotEveryEntries: number;
  /** Wrap the transport in a fault hook the harness drives (never in production). */
  faultInjection?: boolean;
}

export interface ConcordNode {
  readonly raft: RaftNode;
  readonly database: NodeDatabase;
  readonly stateMachine: LibsqlStateMachine;
  readonly backend: NodeChatBackend;
  /** The fault hook, when started with faultInjection. */
  readonly faults: FaultInjectingTransport | null;
  stop(options?: { transferLeadership?: boolean }): Promise<void>;
}

/** The chat state machine on a node's database; snapshots are staged in `scratchDir`. */
export function chatStateMachine(database: NodeDatabase, scratchDir: string): { chat: ChatStateMachine; stateMachine: LibsqlStateMachine } {
  const chat = new ChatStateMachine();
  const stateMachine = new LibsqlStateMachine({ database, tables: chat.tables, applyCommand: chat.applyCommand, finishBatch: chat.finishBatch, abortBatch: chat.abortBatch, scratchDir });
  return { chat, stateMachine };
}

/** Open a node's data directory and start its raft driver on NATS, with the chat state machine. */
export async function startConcordNode(
  config: ConcordNodeConfig,
  logger: Logger,
  /** Tests run a real node over an in-process network instead of NATS. */
  overrides: { transport?: Transport } = {},
): Promise<ConcordNode> {
  const path = join(config.dataDir, "node.db");
  const database = await openNodeDatabase({ path, cluster: config.cluster, nodeId: config.id, preallocateWal: true });
  // Queries and status reads get their own connection (see openReader).
  const reader = await openReader(path);
  try {
    const { chat, stateMachine } = chatStateMachine(database, config.dataDir);
    const snapshots = new FileSnapshotStore(config.dataDir);
    await snapshots.removeLeftovers();
    const wire = overrides.transport ?? new NatsTransport({
      servers: config.natsServers,
      cluster: config.cluster,
      nodeId: config.id,
      ...(config.natsUser !== undefined ? { user: config.natsUser } : {}),
      ...(config.natsPass !== undefined ? { pass: config.natsPass } : {}),
      // A snapshot from the leader goes to a file in the data directory as it arrives, so
      // its size is bounded by the disk, not by memory.
      openSnapshotSink: (size) => snapshots.incoming(size),
      maxSnapshotBytes: MAX_SNAPSHOT_FILE_BYTES,
      // Lost traffic that raft will not recover by resending is a bug to see, not noise.
      log: (event, fields) => logger.log(TRANSPORT_WARNINGS.has(event) ? "warn" : "debug", event, { ...fields, layer: "transport" }),
    });
    const faults = config.faultInjection === true ? new FaultInjectingTransport(wire) : null;
    const transport = faults ?? wire;
    let backend: NodeChatBackend | null = null;
    const raft = await RaftNode.start({
      id: config.id,
      storage: new LibsqlRaftStorage(database),
      snapshots,
      transport,
      stateMachine,
      ...(config.bootstrapVoters !== null ? { bootstrap: { voters: config.bootstrapVoters, learners: [] } } : {}),
      tickIntervalMs: config.tickIntervalMs,
      electionTimeoutTicks: config.electionTimeoutTicks,
      heartbeatIntervalTicks: config.heartbeatIntervalTicks,
      snapshotEveryEntries: config.snapshotEveryEntries,
      logger,
      // sentAt and friends are the leader's clock when it proposed (API.md).
      stampProposal: (payload, leaderTimeMs) => encodeProposal(leaderTimeMs, payload),
      // Events leave only after their transaction committed; before the backend
      // exists (replay at start) nobody is subscribed, so they are dropped.
      afterApply: () => {
        const events = chat.drainEvents();
        backend?.publish(events);
      },
    });
    backend = new NodeChatBackend(config.cluster, raft, reader, new LibsqlChatQueries({ client: reader, db: drizzle(reader), path }));
    const started = backend;
    return {
      raft,
      database,
      stateMachine,
      backend: started,
      faults,
      stop: async (options = {}) => {
        await raft.stop(options);
        reader.close();
        await closeNodeDatabase(database);
      },
    };
  } catch (error) {
    reader.close();
    database.client.close();
    throw error;
  }
}
