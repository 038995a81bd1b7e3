import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LibsqlStateMachine } from "../../node/libsql-state-machine.ts";
import type { Entry } from "../../raft/types.ts";
import { openNodeDatabase, type NodeDatabase } from "../../storage/node-database.ts";
import { ChatStateMachine } from "../chat-state-machine.ts";
import { encodeCommand, encodeProposal } from "../command-codec.ts";
import type { ApplyResult, ChatCommand } from "../commands.ts";
import { LibsqlChatQueries } from "../libsql-chat-queries.ts";

// Test support: a chat state machine on a real node database in a temp dir, fed
// encoded log entries the way the node feeds it.

/** Leader times in tests: a fixed epoch plus one second per index, so results are stable. */
export const TEST_EPOCH_MS = Date.UTC(2026, 0, 1);
export const timeAt = (index: number): number => TEST_EPOCH_MS + index * 1000;
export const isoAt = (index: number): string => new Date(timeAt(index)).toISOString();

export function entryOf(index: number, command: ChatCommand | Uint8Array, leaderTimeMs = timeAt(index)): Entry {
  const data = command instanceof Uint8Array ? command : encodeProposal(leaderTimeMs, encodeCommand(command));
  return { index, term: 1, kind: "normal", data };
}

/**
 * Where replicas live: in memory (tmpfs) when the machine has it. These tests check what
 * apply computes, not that it survives power loss (the crash tests do, on disk), yet every
 * apply batch commits with fsync; on a CI disk with slow fsync the batch-split property
 * (~1,600 fsyncs, 2 s here) once took 57 s and timed out.
 */
const REPLICA_ROOT = existsSync("/dev/shm") ? "/dev/shm" : tmpdir();

/** A temp dir that `cleanup` removes with every replica opened in it. */
export class ReplicaDir {
  readonly path = mkdtempSync(join(REPLICA_ROOT, "concord-chat-"));
  private readonly opened: ChatReplica[] = [];
  private count = 0;

  async open(): Promise<ChatReplica> {
    const database = await openNodeDatabase({ path: join(this.path, `replica-${++this.count}.db`), cluster: "test", nodeId: 1 });
    const replica = new ChatReplica(database, this.path);
    this.opened.push(replica);
    return replica;
  }

  cleanup(): void {
    for (const { database, queries } of this.opened.splice(0)) {
      queries.close();
      database.writer.close();
      database.client.close();
    }
    rmSync(this.path, { recursive: true, force: true });
  }
}

export class ChatReplica {
  readonly chat = new ChatStateMachine();
  readonly machine: LibsqlStateMachine;
  readonly queries: LibsqlChatQueries;
  /** The index the next `run` uses. */
  nextIndex = 1;

  constructor(
    readonly database: NodeDatabase,
    scratchDir: string,
  ) {
    this.machine = new LibsqlStateMachine({ database, tables: this.chat.tables, applyCommand: this.chat.applyCommand, finishBatch: this.chat.finishBatch, abortBatch: this.chat.abortBatch, scratchDir });
    this.queries = new LibsqlChatQueries(database);
  }

  /** Apply commands (or raw entry bytes) at the next indexes, in one batch. */
  async run(...commands: (ChatCommand | Uint8Array)[]): Promise<ApplyResult[]> {
    const entries = commands.map((command) => entryOf(this.nextIndex++, command));
    return (await this.machine.apply(entries)) as ApplyResult[];
  }

  async one(command: ChatCommand | Uint8Array): Promise<ApplyResult> {
    const [result] = await this.run(command);
    return result!;
  }

  /** Apply at a chosen index (later than any applied), e.g. to jump past a retention window. */
  async runAt(index: number, command: ChatCommand | Uint8Array, leaderTimeMs = timeAt(index)): Promise<ApplyResult> {
    this.nextIndex = index + 1;
    const [result] = (await this.machine.apply([entryOf(index, command, leaderTimeMs)])) as ApplyResult[];
    return result!;
  }

  /** Every row of every chat table, in primary-key order: equal on replicas with equal state. */
  async tableContents(): Promise<Record<string, unknown[][]>> {
    const contents: Record<string, unknown[][]> = {};
    for (const table of this.chat.tables) {
      const rows = await this.database.client.execute(`SELECT * FROM ${table} ORDER BY 1, 2, 3`);
      contents[table] = rows.rows.map((row) => Array.from(row));
    }
    return contents;
  }

  async count(table: string, where = "1"): Promise<number> {
    const rows = await this.database.client.execute(`SELECT count(*) FROM ${table} WHERE ${where}`);
    return Number(rows.rows[0]?.[0] ?? 0);
  }
}
