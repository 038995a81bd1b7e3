// Chat clients of the simulated cluster, calling the node API the HTTP layer calls:
// RaftNode.propose with real chat commands (accounts first, then messages carrying
// idempotency keys, some retried after an unknown outcome) and readBarrier before a
// read. What they were told is checked: an acknowledged message is in every node's
// final state exactly once, no key is applied twice, and a linearizable read sees every
// message acknowledged before it began.

import { encodeCommand } from "../../../src/chat/command-codec.ts";
import type { ApplyResult, ChatCommand } from "../../../src/chat/commands.ts";
import type { NodeId } from "../../../src/raft/types.ts";
import type { SimRandom } from "../sim-random.ts";
import { RuleBroken } from "../violation.ts";
import type { Machine, NodeWorld } from "./world.ts";

const ACCOUNTS = ["ann", "bob", "cid", "dee"] as const;
const REQUEST_TIMEOUT_MS = 2000;

export interface WorkloadStats {
  sent: number;
  acknowledged: number;
  failed: number;
  retried: number;
  reads: number;
  readsChecked: number;
}

export class ChatWorkload {
  readonly stats: WorkloadStats = { sent: 0, acknowledged: 0, failed: 0, retried: 0, reads: 0, readsChecked: 0 };
  /** Message content → the index its acknowledgement named. */
  private readonly acked = new Map<string, number>();
  /** Keys whose outcome is unknown (503, timeout, lost leadership), to retry. */
  private readonly unknown: { key: string; from: string; to: string }[] = [];
  private readonly accountsCreated = new Set<string>();
  private nextKey = 1;

  constructor(
    private readonly world: NodeWorld,
    private readonly rng: SimRandom,
  ) {}

  private target(): Machine | null {
    const running = this.world.running();
    return running.length === 0 ? null : this.rng.pick(running);
  }

  /** Create the accounts (idempotently: re-run until one round has all of them). */
  setUp(): void {
    const m = this.target();
    if (m === null) return;
    for (const username of ACCOUNTS) {
      if (this.accountsCreated.has(username)) continue;
      const command: ChatCommand = { type: "createAccount", username, passwordHash: "argon2-stand-in", idempotency: { account: username, key: "signup" } };
      m.node!.propose(encodeCommand(command), REQUEST_TIMEOUT_MS).then(
        (p) => {
          const result = p.result as ApplyResult;
          if (result.ok || result.code === "username_taken") this.accountsCreated.add(username);
        },
        () => {},
      );
    }
  }

  send(): void {
    if (this.accountsCreated.size < ACCOUNTS.length) return this.setUp();
    const m = this.target();
    if (m === null) return;
    let key: string;
    let from: string;
    let to: string;
    const retry = this.unknown.length > 0 && this.rng.chance(0.3) ? this.unknown.splice(this.rng.int(this.unknown.length), 1)[0]! : null;
    if (retry !== null) {
      ({ key, from, to } = retry);
      this.stats.retried++;
    } else {
      key = `m${this.nextKey++}`;
      [from, to] = this.rng.sample(ACCOUNTS, 2) as [string, string];
    }
    this.stats.sent++;
    const command: ChatCommand = { type: "sendMessage", from, to, content: key, idempotency: { account: from, key } };
    const node = m.node!;
    this.world.traceNode(m.id, `client: send ${key}${retry !== null ? " (retry)" : ""}`);
    node.propose(encodeCommand(command), REQUEST_TIMEOUT_MS).then(
      this.world.guarded((p) => {
        const result = p.result as ApplyResult;
        if (!result.ok || result.type !== "messageSent") {
          this.stats.failed++;
          return; // refused by the state machine (e.g. an account not there yet): nothing applied
        }
        const index = result.message.id;
        const before = this.acked.get(key);
        if (before !== undefined && before !== index) {
          throw new RuleBroken("exactly once", `message ${key} acknowledged at ${index}, and before at ${before}`);
        }
        this.acked.set(key, index);
        this.stats.acknowledged++;
        this.world.traceNode(m.id, `client: acked ${key} at ${index}`);
      }),
      (error: unknown) => {
        this.stats.failed++;
        this.world.traceNode(m.id, `client: ${key} failed: ${(error as Error).message}`);
        if (this.unknown.length < 64) this.unknown.push({ key, from, to });
      },
    );
  }

  /** A linearizable read: everything acknowledged before it began must be visible. */
  read(): void {
    const m = this.target();
    if (m === null) return;
    const expected = [...this.acked.keys()];
    const incarnation = m.incarnation;
    const node = m.node!;
    this.stats.reads++;
    node.readBarrier(REQUEST_TIMEOUT_MS).then(
      this.world.guarded((index: number) => {
        if (m.incarnation !== incarnation) return;
        this.stats.readsChecked++;
        const seen = this.contents(m);
        const missing = expected.filter((key) => !seen.has(key));
        if (missing.length > 0) {
          throw new RuleBroken("linearizable read", `n${m.id} read at ${index} lacks acknowledged ${missing.slice(0, 5).join(", ")} (of ${missing.length})`);
        }
      }),
      () => {},
    );
  }

  private contents(m: Machine): Map<string, number> {
    const seen = new Map<string, number>();
    for (const [content, count] of m.disk.state.all("SELECT content, COUNT(*) FROM messages GROUP BY content")) {
      seen.set(String(content), Number(count));
    }
    return seen;
  }

  /** At the end: every acknowledged message exactly once on every node, and no message twice anywhere. */
  checkFinal(nodes: readonly Machine[]): void {
    for (const m of nodes) {
      const seen = this.contents(m);
      for (const [content, count] of seen) {
        if (count > 1) throw new RuleBroken("exactly once", `n${m.id} holds message ${content} ${count} times`);
      }
      for (const [key, index] of this.acked) {
        if (!seen.has(key)) throw new RuleBroken("acknowledged write lost", `n${m.id} lacks message ${key}, acknowledged at ${index}`);
      }
      const rows = m.disk.state.all("SELECT id, content FROM messages");
      for (const [id, content] of rows) {
        const index = this.acked.get(String(content));
        if (index !== undefined && index !== Number(id)) {
          throw new RuleBroken("acknowledged write moved", `n${m.id} holds ${String(content)} as message ${Number(id)}, acknowledged as ${index}`);
        }
      }
    }
  }

  get acknowledgedCount(): number {
    return this.acked.size;
  }

  ids(): NodeId[] {
    return this.world.running().map((m) => m.id);
  }
}
