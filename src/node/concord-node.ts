import { chmod, mkdir, readdir } from "node:fs/promises";
import { join } from "node:path";
import { drizzle } from "drizzle-orm/libsql";
import { ChatStateMachine } from "../chat/chat-state-machine.ts";
import { encodeProposal } from "../chat/command-codec.ts";
import { LibsqlChatQueries } from "../chat/libsql-chat-queries.ts";
import { FileSnapshotStore } from "../storage/file-snapshot-store.ts";
import { LibsqlRaftStorage } from "../storage/libsql-storage.ts";
import { closeNodeDatabase, openNodeDatabase, openReader, type NodeDatabase } from "../storage/node-database.ts";
import { FaultInjectingTransport } from "../transport/fault-injecting-transport.ts";
import { readNatsIdentity } from "../transport/nats-identity.ts";
import { NatsTransport } from "../transport/nats-transport.ts";
import type { Transport } from "../transport/transport.ts";
import { LibsqlStateMachine } from "./libsql-state-machine.ts";
import { AdminGate } from "./admin-gate.ts";
import { withFields, type Logger } from "./logger.ts";
import { NodeChatBackend } from "./node-chat-backend.ts";
import { RaftNode } from "./raft-node.ts";

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
  /** This node's nkey seed file (0600; see nats-identity.ts). Absent: connect anonymously. */
  natsIdentityFile?: string;
  /** The CA (PEM) that signed the NATS server's certificate: connect over TLS. */
  natsCaFile?: string;
  /**
   * The cluster's admin token: seals the admin requests this node forwards to the leader,
   * and checks those forwarded to it (admin-gate.ts). Null or absent: neither.
   */
  adminToken?: string | null;
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
  // Read before anything is opened: a missing or exposed identity stops the start.
  const identity = config.natsIdentityFile !== undefined ? readNatsIdentity(config.natsIdentityFile) : null;
  await secureDataDir(config.dataDir);
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
      ...(identity !== null ? { seed: identity.seed } : {}),
      ...(config.natsCaFile !== undefined ? { tls: { caFile: config.natsCaFile } } : {}),
      // A snapshot from the leader goes to a file in the data directory as it arrives, so
      // its size is bounded by the disk, not by memory.
      openSnapshotSink: (size) => snapshots.incoming(size),
      maxSnapshotBytes: MAX_SNAPSHOT_FILE_BYTES,
      // The transport warns of lost traffic raft will not recover by resending (a bug to
      // see, not noise); the rest is routine loss, at debug.
      logger: withFields(logger, { layer: "transport" }),
    });
    const faults = config.faultInjection === true ? new FaultInjectingTransport(wire) : null;
    const transport = new AdminGate(faults ?? wire, {
      cluster: config.cluster,
      adminToken: config.adminToken ?? null,
      logger: withFields(logger, { layer: "admin" }),
    });
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

/**
 * The data directory and everything in it for this node's user alone (0700 / 0600): it
 * holds message text and password hashes. Files made later are too (the entry point sets
 * umask 077); this also tightens a directory an older version left open.
 */
async function secureDataDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const walk = async (at: string): Promise<void> => {
    await chmod(at, 0o700);
    for (const entry of await readdir(at, { withFileTypes: true })) {
      const path = join(at, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile()) await chmod(path, 0o600);
    }
  };
  await walk(dir);
}
