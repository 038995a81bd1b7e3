import { ConcordClient } from "../../src/client/concord-client.ts";
import { ConcordError } from "../../src/client/concord-error.ts";
import type { ReadMessage } from "../checkers/history.ts";
import type { HistoryRecorder } from "./history-recorder.ts";
import type { SeededRandom } from "./seeded-random.ts";

export const DEFAULT_OPERATION_DEADLINE_MS = 10_000;
const PASSWORD = "workload-password";
/** Usernames the clients race to create, check and delete (the linearizable register). */
const RACE_NAMES = ["race-a", "race-b", "race-c"];
/** Pages a full read may take (200 messages each) before the workload gives up on it. */
const MAX_READ_PAGES = 100;
const PAGE_LIMIT = 200;

export interface WorkloadOptions {
  /** Operations in total, spread over the clients. */
  readonly count: number;
  readonly clients: number;
  /** One operation's budget, retries included. */
  readonly deadlineMs: number;
}

/** What `expect` compares against. */
export type WorkloadOutcome = "ok" | "unavailable" | "errors";

export interface WorkloadResult {
  readonly outcome: WorkloadOutcome;
  readonly operations: number;
  readonly ok: number;
  readonly failed: number;
  readonly unknown: number;
  /** Error codes seen, with counts (e.g. unavailable: 20). */
  readonly errors: Readonly<Record<string, number>>;
  readonly latencyMsMax: number;
  readonly elapsedMs: number;
}

interface MessageAccount {
  readonly username: string;
  token: string | null;
}

/**
 * Concurrent chat clients driven through the typed client against every node, recording
 * each operation for the checkers: sends with idempotency keys, reads of whole
 * conversations and inboxes, and races on a few usernames (create, check, delete).
 * Accounts persist across the workloads of one scenario so later checks cover earlier
 * writes.
 */
export class ChatWorkload {
  private readonly accounts: MessageAccount[] = [];
  private sendSeq = 0;
  private nodes: readonly string[] = [];
  
  constructor(
    /** The nodes clients may use for the next workload (asked once per run). */
    private readonly nodeUrls: () => Promise<readonly string[]>,
    private readonly recorder: HistoryRecorder,
    private readonly random: SeededRandom,
  ) {}

  /** The message accounts created so far (their sessions stay valid). */
  messageAccounts(): readonly { username: string; token: string | null }[] {
    return this.accounts;
  }

  async run(options: WorkloadOptions): Promise<WorkloadResult> {
    const startedMs = performance.now();
    const tally = new Tally();
    this.nodes = await this.nodeUrls();
    if (this.nodes.length === 0) {
      tally.count("failed", 0, "network", true);
      return tally.result(performance.now() - startedMs, options.deadlineMs);
    }
    await this.ensureAccounts(Math.max(2, options.clients), options.deadlineMs, tally);
    const ready = this.accounts.filter((a) => a.token !== null);
    if (ready.length >= 2) {
      const perClient = Array.from({ length: options.clients }, (_, i) => Math.floor(options.count / options.clients) + (i < options.count % options.clients ? 1 : 0));
      await Promise.all(perClient.map((n, i) => this.clientLoop(i, n, ready, options.deadlineMs, tally)));
    }
    return tally.result(performance.now() - startedMs, options.deadlineMs);
  }

  private client(index: number, deadlineMs: number, token: string | null): ConcordClient {
    const nodes = this.nodes;
    return new ConcordClient({
      nodes,
      preferredNode: nodes[index % nodes.length]!,
      requestTimeoutMs: Math.min(deadlineMs, 5000),
      deadlineMs,
      ...(token !== null ? { token } : {}),
    });
  }

  /** Create and sign in the message accounts m0, m1, … up to `n` (not recorded: setup). */
  private async ensureAccounts(n: number, deadlineMs: number, tally: Tally): Promise<void> {
    while (this.accounts.length < n) this.accounts.push({ username: `m${this.accounts.length}`, token: null });
    await Promise.all(
      this.accounts.map(async (account, i) => {
        if (account.token !== null) return;
        const client = this.client(i, deadlineMs, null);
        const started = performance.now();
        try {
          await client.signup(account.username, PASSWORD, { idempotencyKey: `signup-${account.username}` }).catch((error: unknown) => {
            if (!(error instanceof ConcordError && error.code === "username_taken")) throw error;
          });
          account.token = (await client.login(account.username, PASSWORD)).token;
          tally.count("ok", performance.now() - started);
        } catch (error) {
          tally.count("failed", performance.now() - started, codeOf(error), true);
        }
      }),
    );
  }

  private async clientLoop(index: number, operations: number, accounts: readonly MessageAccount[], deadlineMs: number, tally: Tally): Promise<void> {
    const random = this.random.fork(index);
    const me = accounts[index % accounts.length]!;
    const name = `client-${index}`;
    const client = this.client(index, deadlineMs, me.token);
    const sent: number[] = [];
    for (let i = 0; i < operations; i++) {
      const roll = random.below(100);
      const started = performance.now();
      const result =
        roll < 50 ? await this.send(name, client, me, random, accounts, sent)
        : roll < 75 ? await this.read(name, client, me, random, accounts)
        : roll < 80 && sent.length > 0 ? await this.deleteOne(name, client, me, random, sent)
        : await this.race(name, index, random, deadlineMs);
      tally.count(result.outcome, performance.now() - started, result.code, result.write);
    }
  }

  private async send(name: string, client: ConcordClient, me: MessageAccount, random: SeededRandom, accounts: readonly MessageAccount[], sent: number[]): Promise<Step> {
    const others = accounts.filter((a) => a !== me);
    const to = random.pick(others).username;
    const seq = ++this.sendSeq;
    const content = `msg ${seq} from ${me.username} (${random.nextUint32().toString(36)})`;
    const idempotencyKey = `send-${me.username}-${seq}`;
    const op = this.recorder.begin("send", name, { from: me.username, to, content, idempotencyKey });
    try {
      const message = await client.send(to, content, { idempotencyKey });
      op.ok({ messageId: message.id });
      sent.push(message.id);
      return { outcome: "ok", write: true };
    } catch (error) {
      return settleWriteError(op, error);
    }
  }

  private async read(name: string, client: ConcordClient, me: MessageAccount, random: SeededRandom, accounts: readonly MessageAccount[]): Promise<Step> {
    const inbox = random.chance(0.3);
    const peer = inbox ? null : random.pick(accounts.filter((a) => a !== me)).username;
    const op = this.recorder.begin("read", name, { account: me.username, peer });
    try {
      const messages = await readAll((before) => (peer === null ? client.unread({ limit: PAGE_LIMIT, ...before }) : client.conversation(peer, { limit: PAGE_LIMIT, ...before })));
      op.ok({ messages });
      return { outcome: "ok", write: false };
    } catch (error) {
      op.fail(); // a read changes nothing: a failed one simply did not happen
      return { outcome: "failed", code: codeOf(error), write: false };
    }
  }

  /** Delete one of the messages this client sent (gone for both sides). */
  private async deleteOne(name: string, client: ConcordClient, me: MessageAccount, random: SeededRandom, sent: number[]): Promise<Step> {
    const id = sent.splice(random.below(sent.length), 1)[0]!;
    const op = this.recorder.begin("deleteMessages", name, { account: me.username, ids: [id] });
    try {
      const result = await client.deleteMessages([id], { idempotencyKey: `delete-${me.username}-${id}` });
      op.ok({ deleted: result.deleted });
      return { outcome: "ok", write: true };
    } catch (error) {
      return settleWriteError(op, error);
    }
  }

  /** One operation on a contested username: create, check or delete it. */
  private async race(name: string, index: number, random: SeededRandom, deadlineMs: number): Promise<Step> {
    const username = random.pick(RACE_NAMES);
    const client = this.client(index, deadlineMs, null);
    const roll = random.below(10);
    if (roll < 4) {
      const op = this.recorder.begin("createAccount", name, { username });
      try {
        await client.signup(username, PASSWORD);
        op.ok({ result: "ok" });
        return { outcome: "ok", write: true };
      } catch (error) {
        if (error instanceof ConcordError && error.code === "username_taken") {
          op.ok({ result: "taken" });
          return { outcome: "ok", write: true };
        }
        return settleWriteError(op, error);
      }
    }
    if (roll < 7) {
      const op = this.recorder.begin("checkAccount", name, { username });
      try {
        await client.getAccount(username);
        op.ok({ result: "exists" });
      } catch (error) {
        if (!(error instanceof ConcordError && error.code === "not_found")) {
          op.fail();
          return { outcome: "failed", code: codeOf(error), write: false };
        }
        op.ok({ result: "missing" });
      }
      return { outcome: "ok", write: false };
    }
    // Delete: sign in as the account, then delete it. A refused sign-in or a revoked
    // session (someone else deleted it in between) both mean it was missing.
    const op = this.recorder.begin("deleteAccount", name, { username });
    try {
      await client.login(username, PASSWORD);
    } catch (error) {
      if (error instanceof ConcordError && error.code === "bad_credentials") {
        op.ok({ result: "missing" });
        return { outcome: "ok", write: true };
      }
      op.fail(); // no session was made, so nothing was deleted
      return { outcome: "failed", code: codeOf(error), write: true };
    }
    try {
      await client.deleteAccount(PASSWORD);
      op.ok({ result: "ok" });
      return { outcome: "ok", write: true };
    } catch (error) {
      // 401: our session went with an account someone else deleted; 404: that delete
      // committed between our sign-in and ours. Either way it was already gone.
      if (error instanceof ConcordError && (error.status === 401 || error.status === 404)) {
        op.ok({ result: "missing" });
        return { outcome: "ok", write: true };
      }
      return settleWriteError(op, error);
    }
  }
}

interface Step {
  readonly outcome: "ok" | "failed" | "unknown";
  readonly code?: string;
  readonly write: boolean;
}

/**
 * A write that ended in an error: a definite refusal (4xx) did not take effect; anything
 * else (no answer, 503 after the deadline, a reset) may have.
 */
function settleWriteError(op: { fail(): void; unknown(): void }, error: unknown): Step {
  const code = codeOf(error);
  if (error instanceof ConcordError && error.status !== null && error.status >= 400 && error.status < 500 && error.status !== 408 && error.status !== 429) {
    op.fail();
    return { outcome: "failed", code, write: true };
  }
  op.unknown();
  return { outcome: "unknown", code, write: true };
}

function codeOf(error: unknown): string {
  return error instanceof ConcordError ? error.code : error instanceof Error ? error.name : "error";
}

/** Every page of a newest-first listing, as one read. */
export async function readAll(page: (before: { before?: number }) => Promise<{ messages: readonly ReadMessage[]; nextBefore: number | null }>): Promise<ReadMessage[]> {
  const messages: ReadMessage[] = [];
  let before: number | null = null;
  for (let pages = 0; pages < MAX_READ_PAGES; pages++) {
    const result = await page(before === null ? {} : { before });
    for (const m of result.messages) messages.push({ id: m.id, from: m.from, to: m.to, content: m.content });
    if (result.nextBefore === null) return messages;
    before = result.nextBefore;
  }
  throw new RangeError(`a read took more than ${MAX_READ_PAGES} pages`);
}

/** Counts outcomes and decides what `expect` sees. */
class Tally {
  private ok = 0;
  private failed = 0;
  private unknown = 0;
  private writesOk = 0;
  private unavailable = 0;
  private latencyMsMax = 0;
  private readonly errors: Record<string, number> = {};

  count(outcome: "ok" | "failed" | "unknown", latencyMs: number, code?: string, write = false): void {
    if (outcome === "ok") this.ok++;
    else if (outcome === "failed") this.failed++;
    else this.unknown++;
    if (write && outcome === "ok") this.writesOk++;
    if (outcome !== "ok" && code === "unavailable") this.unavailable++;
    if (code !== undefined) this.errors[code] = (this.errors[code] ?? 0) + 1;
    this.latencyMsMax = Math.max(this.latencyMsMax, latencyMs);
  }

  result(elapsedMs: number, deadlineMs: number): WorkloadResult {
    const operations = this.ok + this.failed + this.unknown;
    const errors = this.failed + this.unknown;
    // "unavailable": no write succeeded, every failure was a clear 503 (not a hang, not a
    // reset), and none took longer than its deadline.
    const unavailable = this.writesOk === 0 && errors > 0 && this.unavailable === errors && this.latencyMsMax <= deadlineMs + 500;
    const outcome: WorkloadOutcome = errors === 0 ? "ok" : unavailable ? "unavailable" : "errors";
    return { outcome, operations, ok: this.ok, failed: this.failed, unknown: this.unknown, errors: { ...this.errors }, latencyMsMax: Math.round(this.latencyMsMax), elapsedMs: Math.round(elapsedMs) };
  }
}
