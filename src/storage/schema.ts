import { blob, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

// One libSQL file per node holds the raft tables and the state machine's tables, so a
// snapshot and the applied index live beside the log they came from.

/** Who this data directory belongs to; a node refuses to start on someone else's. */
export const nodeIdentity = sqliteTable("node_identity", {
  singleton: integer("singleton").primaryKey(),
  cluster: text("cluster").notNull(),
  nodeId: integer("node_id").notNull(),
  createdAt: text("created_at").notNull(),
});

/** Raft's durable vote and term (one row). */
export const raftHardState = sqliteTable("raft_hard_state", {
  singleton: integer("singleton").primaryKey(),
  term: integer("term").notNull(),
  vote: integer("vote").notNull(),
  commitIndex: integer("commit_index").notNull(),
});

/** Entries after the latest snapshot. */
export const raftLog = sqliteTable("raft_log", {
  index: integer("idx").primaryKey(),
  term: integer("term").notNull(),
  kind: integer("kind").notNull(), // 0 normal, 1 conf
  data: blob("data", { mode: "buffer" }).notNull(),
});

/** The latest snapshot's metadata; its bytes are a file beside the database. */
export const raftSnapshot = sqliteTable("raft_snapshot", {
  singleton: integer("singleton").primaryKey(),
  index: integer("idx").notNull(),
  term: integer("term").notNull(),
  voters: text("voters").notNull(), // JSON array of node ids
  learners: text("learners").notNull(),
});

/** How far the state machine has applied; written in the same transaction as its effects. */
export const stateMachineMeta = sqliteTable("state_machine_meta", {
  singleton: integer("singleton").primaryKey(),
  appliedIndex: integer("applied_index").notNull(),
  /** SHA-256 chained over every applied entry (hex): equal on nodes that applied the same sequence. */
  digest: text("digest").notNull().default(""),
});
