import { join } from "node:path";
import type { Transaction } from "@libsql/client";
import { FileSnapshotStore } from "../storage/file-snapshot-store.ts";
import { LibsqlRaftStorage } from "../storage/libsql-storage.ts";
import { closeNodeDatabase, openNodeDatabase, type NodeDatabase } from "../storage/node-database.ts";
import { NatsTransport } from "../transport/nats-transport.ts";
import { LibsqlStateMachine } from "./libsql-state-machine.ts";
import type { Logger } from "./logger.ts";
import { RaftNode } from "./raft-node.ts";

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
}

export interface ConcordNode {
  readonly raft: RaftNode;
  readonly database: NodeDatabase;
  readonly stateMachine: LibsqlStateMachine;
  stop(options?: { transferLeadership?: boolean }): Promise<void>;
}

// Until the chat state machine lands, commands are opaque: applying one records
// nothing but the digest, which is enough to prove every node applied the same log.
const applyOpaque = async (_tx: Transaction, index: number): Promise<unknown> => ({ index });

/** Open a node's data directory and start its raft driver on NATS. */
export async function startConcordNode(config: ConcordNodeConfig, logger: Logger): Promise<ConcordNode> {
  const database = await openNodeDatabase({ path: join(config.dataDir, "node.db"), cluster: config.cluster, nodeId: config.id });
  try {
    const stateMachine = new LibsqlStateMachine({ database, tables: [], applyCommand: applyOpaque, scratchDir: config.dataDir });
    const transport = new NatsTransport({
      servers: config.natsServers,
      cluster: config.cluster,
      nodeId: config.id,
      ...(config.natsUser !== undefined ? { user: config.natsUser } : {}),
      ...(config.natsPass !== undefined ? { pass: config.natsPass } : {}),
      log: (event, fields) => logger.log("debug", event, { ...fields, layer: "transport" }),
    });
    const raft = await RaftNode.start({
      id: config.id,
      storage: new LibsqlRaftStorage(database),
      snapshots: new FileSnapshotStore(config.dataDir),
      transport,
      stateMachine,
      ...(config.bootstrapVoters !== null ? { bootstrap: { voters: config.bootstrapVoters, learners: [] } } : {}),
      tickIntervalMs: config.tickIntervalMs,
      electionTimeoutTicks: config.electionTimeoutTicks,
      heartbeatIntervalTicks: config.heartbeatIntervalTicks,
      snapshotEveryEntries: config.snapshotEveryEntries,
      logger,
    });
    return {
      raft,
      database,
      stateMachine,
      stop: async (options = {}) => {
        await raft.stop(options);
        await closeNodeDatabase(database);
      },
    };
  } catch (error) {
    database.client.close();
    throw error;
  }
}
