import {
  ACCOUNT_TOTAL_MAX,
  CONTENT_MAX_CHARS,
  CONVERSATIONS_MAX,
  IDEMPOTENCY_RECORDS_PER_ACCOUNT_MAX,
  IDEMPOTENCY_RETENTION_MS,
  IDS_PER_COMMAND_MAX,
  MARK_READ_RANGE_MAX,
  PAGE_LIMIT_MAX,
  PASSWORD_HASH_MAX_CHARS,
  SESSION_ABSOLUTE_LIFETIME_MS,
  SESSION_IDLE_LIFETIME_MS,
  SESSIONS_PER_ACCOUNT_MAX,
  USERNAME_PATTERN,
} from "../../chat/chat-limits.ts";
import type { AccountPage, ChatQueries, Conversation, EventsAfter, MessagePage, SessionRecord } from "../../chat/chat-queries.ts";
import type { AccountView, ApplyResult, ChatCommand, ChatEvent, ChatMessage } from "../../chat/commands.ts";
import type { NodeMetrics } from "../../node/node-metrics.ts";
import type { ChatBackend } from "../../node/chat-backend.ts";

// A one-node "cluster" held in memory, for API tests. It follows API.md's semantics the
// way the replicated state machine does (ids are log indexes, idempotency keys return the
// first result, deleted senders stay visible), and it can be told to misbehave the way a
// real node does: no quorum, overload, an apply that lags the commit, pruned history.

/** The shape of src/node's NodeError: the API matches on `code`, not on the class. */
export class FakeNodeError extends Error {
  override readonly name = "NodeError";
  constructor(
    readonly code: "unavailable" | "overloaded" | "stopped" | "invalid",
    message: string,
  ) {
    super(message);
  }
}

interface StoredAccount {
  readonly username: string;
  readonly createdAt: string;
  passwordHash: string;
}

interface StoredSession {
  readonly username: string;
  readonly createdAt: string;
  lastSeenAt: string;
}

interface StoredIdempotency {
  readonly result: ApplyResult;
  readonly digest: string | undefined;
  readonly atMs: number;
}

interface StoredMessage {
  readonly id: number;
  readonly from: string;
  fromDeleted: boolean;
  readonly to: string;
  readonly content: string;
  readonly sentAt: string;
  readAt: string | null;
}

interface Pending {
  readonly index: number;
  readonly command: ChatCommand;
  readonly leaderTimeMs: number;
  readonly done: (result: ApplyResult) => void;
}

type NodeStatus = ReturnType<ChatBackend["status"]>;

export interface MemoryBackendOptions {
  /** The "leader's clock" stamped on commands (createdAt, sentAt, readAt). */
  now?: () => number;
}


export class MemoryBackend implements ChatBackend {
  readonly cluster = "memory";
  readonly queries: ChatQueries;

  /** Admin calls received, in order ("add 4 voter", "remove 4", "transfer 2"). */
  readonly adminCalls: string[] = [];

  private readonly now: () => number;
  private lastIndex = 0;
  private commit = 0;
  private applied = 0;
  private digest = 0x811c9dc5;
  private leader = 1;
  private readonly voters = new Set<number>([1]);
  private readonly learners = new Set<number>();
  private readonly pending: Pending[] = [];

  private readonly accounts = new Map<string, StoredAccount>();
  private readonly sessions = new Map<string, StoredSession>();
  private readonly messages = new Map<number, StoredMessage>();
  private readonly events: ChatEvent[] = [];
  private prunedThrough = 0;
  /** Per account, its records in the order written (the oldest go first past the cap). */
  private readonly idempotency = new Map<string, Map<string, StoredIdempotency>>();

  private readonly eventListeners = new Set<(event: ChatEvent) => void>();
  private readonly statusListeners = new Set<() => void>();
  private readonly progressWaiters = new Set<() => void>();

  private unavailableAfterMs: number | null = null;
  private overloaded = false;
  private applyPaused = false;

  constructor(options: MemoryBackendOptions = {}) {
    this.now = options.now ?? Date.now;
    this.queries = this.createQueries();
  }

  // ---- fault knobs ---------------------------------------------------------------

  /** No leader or no quorum: execute and readBarrier reject with `unavailable` after `delayMs` (capped by their timeout); null heals. */
  setUnavailable(delayMs: number | null): void {
    this.unavailableAfterMs = delayMs;
  }

  setOverloaded(on: boolean): void {
    this.overloaded = on;
  }

  /** Commands still commit, but this node stops applying them: local reads fall behind. */
  pauseApply(): void {
    this.applyPaused = true;
  }

  resumeApply(): void {
    this.applyPaused = false;
    this.applyCommitted();
  }

  /** Forget events up to and including `index`, as retention does; replays from before it are incomplete. */
  pruneEvents(index: number): void {
    this.prunedThrough = Math.max(this.prunedThrough, index);
    while (this.events.length > 0 && this.events[0]!.index <= this.prunedThrough) this.events.shift();
  }

  // ---- ChatBackend ---------------------------------------------------------------

  async execute(command: ChatCommand, timeoutMs: number): Promise<ApplyResult> {
    await this.refuseIfFaulty(timeoutMs);
    // Copy: the caller may not mutate what is now "in the log".
    const entry = structuredClone(command);
    return new Promise<ApplyResult>((resolve, reject) => {
      const timer = setTimeout(() => reject(new FakeNodeError("unavailable", `not applied within ${timeoutMs} ms`)), timeoutMs);
      this.lastIndex++;
      this.pending.push({
        index: this.lastIndex,
        command: entry,
        leaderTimeMs: this.now(),
        done: (result) => {
          clearTimeout(timer);
          resolve(result);
        },
      });
      this.commit = this.lastIndex;
      this.notifyStatus();
      this.applyCommitted();
    });
  }

  /** Entries apply as they commit here: nothing is ever held back. */
  async applyHeld(_timeoutMs: number): Promise<void> {}

  async readBarrier(timeoutMs: number): Promise<void> {
    await this.refuseIfFaulty(timeoutMs);
    const readIndex = this.commit;
    const deadline = Date.now() + timeoutMs;
    while (this.applied < readIndex) {
      const left = deadline - Date.now();
      if (left <= 0) throw new FakeNodeError("unavailable", `not caught up to ${readIndex} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, left);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.progressWaiters.add(done);
      });
    }
  }

  onEvent(listener: (event: ChatEvent) => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  onStatusChange(listener: () => void): () => void {
    this.statusListeners.add(listener);
    return () => this.statusListeners.delete(listener);
  }

  status(): NodeStatus {
    const voters = [...this.voters].sort((a, b) => a - b);
    const learners = [...this.learners].sort((a, b) => a - b);
    return {
      id: 1,
      role: this.leader === 1 ? "leader" : "follower",
      term: 1,
      vote: 1,
      leader: this.leader,
      commit: this.commit,
      applied: this.applied,
      lastIndex: this.lastIndex,
      snapshotIndex: 0,
      conf: { voters, learners },
      transferee: 0,
      progress:
        this.leader === 1
          ? [...voters.map((id) => ({ id, voter: true })), ...learners.map((id) => ({ id, voter: false }))].map(({ id, voter }) => ({
              id,
              voter,
              match: id === 1 ? this.lastIndex : 0,
              next: this.lastIndex + 1,
              state: id === 1 ? ("replicate" as const) : ("probe" as const),
              lastContactTicks: 0,
            }))
          : [],
      applyPending: 0,
      tickIntervalMs: 20,
      io: { raftWrites: this.lastIndex, fsyncs: 0, applyBatches: this.applied, entriesApplied: this.applied },
    };
  }

  async appliedState(): Promise<{ index: number; digest: string }> {
    return { index: this.applied, digest: this.digest.toString(16).padStart(8, "0") };
  }

  async addMember(id: number, voter: boolean, timeoutMs: number): Promise<void> {
    await this.refuseIfFaulty(timeoutMs);
    this.adminCalls.push(`add ${id} ${voter ? "voter" : "learner"}`);
    if (!this.voters.has(id)) {
      this.learners.add(id);
      if (voter) {
        this.learners.delete(id);
        this.voters.add(id);
      }
    }
    this.notifyStatus();
  }

  async removeMember(id: number, timeoutMs: number): Promise<void> {
    await this.refuseIfFaulty(timeoutMs);
    this.adminCalls.push(`remove ${id}`);
    if (!this.voters.has(id) && !this.learners.has(id)) throw new FakeNodeError("invalid", `node ${id} is not a member`);
    if (this.voters.has(id) && this.voters.size === 1) throw new FakeNodeError("invalid", "cannot remove the last voter");
    this.voters.delete(id);
    this.learners.delete(id);
    this.notifyStatus();
  }

  async transferLeadership(to: number, timeoutMs: number): Promise<void> {
    await this.refuseIfFaulty(timeoutMs);
    this.adminCalls.push(`transfer ${to}`);
    if (!this.voters.has(to)) throw new FakeNodeError("invalid", `node ${to} is not a voter`);
    this.leader = to;
    this.notifyStatus();
  }

  nodeMetrics(): NodeMetrics {
    const noLatencies = { buckets: [], count: 0, sumSeconds: 0 };
    return {
      term: 1,
      isLeader: true,
      commit: this.commit,
      applied: this.applied,
      lastIndex: this.commit,
      snapshotIndex: 0,
      leaderChanges: 1,
      fsyncs: 0,
      entriesApplied: this.applied,
      proposalLatency: noLatencies,
      raftWriteLatency: noLatencies,
    };
  }

  // ---- the log ----------------------------------------------------------------

  private async refuseIfFaulty(timeoutMs: number): Promise<void> {
    if (this.overloaded) throw new FakeNodeError("overloaded", "too many requests in flight");
    if (this.unavailableAfterMs !== null) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(this.unavailableAfterMs ?? 0, timeoutMs)));
      throw new FakeNodeError("unavailable", "no leader");
    }
  }

  private applyCommitted(): void {
    while (!this.applyPaused && this.pending.length > 0) {
      const entry = this.pending.shift()!;
      const result = this.applyDeduplicated(entry);
      this.applied = entry.index;
      this.digest = fnv1a(this.digest, `${entry.index}:${JSON.stringify(entry.command)}`);
      entry.done(result);
      for (const waiter of [...this.progressWaiters]) waiter();
      this.progressWaiters.clear();
      this.notifyStatus();
    }
  }

  /** The state machine's retention rules, without its chunking: everything expired goes at once. */
  private expire(leaderTimeMs: number): void {
    for (const [account, records] of this.idempotency) {
      for (const [key, record] of records) if (record.atMs < leaderTimeMs - IDEMPOTENCY_RETENTION_MS) records.delete(key);
      if (records.size === 0) this.idempotency.delete(account);
    }
    const absolute = new Date(leaderTimeMs - SESSION_ABSOLUTE_LIFETIME_MS).toISOString();
    const idle = new Date(leaderTimeMs - SESSION_IDLE_LIFETIME_MS).toISOString();
    for (const [hash, session] of this.sessions) if (session.createdAt < absolute || session.lastSeenAt < idle) this.sessions.delete(hash);
  }

  private applyDeduplicated(entry: Pending): ApplyResult {
    this.expire(entry.leaderTimeMs);
    const key = entry.command.idempotency;
    const records = key === undefined ? undefined : (this.idempotency.get(key.account) ?? new Map<string, StoredIdempotency>());
    if (key !== undefined && records !== undefined) {
      const first = records.get(key.key);
      if (first !== undefined) {
        if (first.digest !== undefined && key.digest !== undefined && first.digest !== key.digest) {
          return { ok: false, code: "idempotency_key_mismatch", message: "this Idempotency-Key was first used with a different request; use a new key for a new request" };
        }
        return first.result;
      }
    }
    const result = this.apply(entry.index, entry.command, new Date(entry.leaderTimeMs).toISOString());
    if (key !== undefined && records !== undefined) {
      records.set(key.key, { result, digest: key.digest, atMs: entry.leaderTimeMs });
      if (records.size > IDEMPOTENCY_RECORDS_PER_ACCOUNT_MAX) records.delete(records.keys().next().value!);
      this.idempotency.set(key.account, records);
    }
    return result;
  }

  private apply(index: number, command: ChatCommand, time: string): ApplyResult {
    const emitted: ChatEvent[] = [];
    const emit = (event: ChatEvent) => {
      if (this.accounts.has(event.account)) emitted.push(event);
    };
    const result = this.applyCommand(index, command, time, emit);
    for (const event of emitted) this.events.push(event);
    for (const event of emitted) for (const listener of [...this.eventListeners]) listener(event);
    return result;
  }

  private applyCommand(index: number, command: ChatCommand, time: string, emit: (event: ChatEvent) => void): ApplyResult {
    const refuse = (code: Extract<ApplyResult, { ok: false }>["code"], message: string): ApplyResult => ({ ok: false, code, message });
    switch (command.type) {
      case "createAccount": {
        if (!USERNAME_PATTERN.test(command.username)) return refuse("invalid_command", "invalid username");
        if (command.passwordHash === "" || command.passwordHash.length > PASSWORD_HASH_MAX_CHARS) return refuse("invalid_command", "invalid password hash");
        if (this.accounts.has(command.username)) return refuse("username_taken", `the username '${command.username}' is taken`);
        const account = { username: command.username, createdAt: time, passwordHash: command.passwordHash };
        this.accounts.set(account.username, account);
        return { ok: true, type: "accountCreated", account: { username: account.username, createdAt: account.createdAt } };
      }
      case "deleteAccount": {
        const name = command.username;
        if (!this.accounts.has(name)) return refuse("no_such_account", `no account named '${name}'`);
        const partners = new Set<string>();
        for (const m of this.messages.values()) {
          if (m.from === name && !m.fromDeleted && m.to !== name) partners.add(m.to);
          if (m.to === name && m.from !== name) partners.add(m.from);
        }
        for (const [id, m] of this.messages) {
          if (m.to === name) this.messages.delete(id);
          else if (m.from === name) m.fromDeleted = true;
        }
        for (const [hash, session] of this.sessions) if (session.username === name) this.sessions.delete(hash);
        this.accounts.delete(name);
        for (const partner of partners) emit({ index, account: partner, type: "account_deleted", data: { username: name } });
        return { ok: true, type: "accountDeleted", username: name };
      }
      case "createSession": {
        if (!this.accounts.has(command.username)) return refuse("no_such_account", `no account named '${command.username}'`);
        this.sessions.set(command.tokenHash, { username: command.username, createdAt: time, lastSeenAt: time });
        // Evict the oldest sessions past the cap (Map keeps insertion order).
        const mine = [...this.sessions].filter(([, session]) => session.username === command.username);
        for (const [hash] of mine.slice(0, Math.max(0, mine.length - SESSIONS_PER_ACCOUNT_MAX))) this.sessions.delete(hash);
        return { ok: true, type: "sessionCreated", username: command.username, unread: this.unreadOf(command.username).length };
      }
      case "revokeSessions": {
        if (command.tokenHash === null) {
          if (!this.accounts.has(command.username)) return refuse("no_such_account", `no account named '${command.username}'`);
          let count = 0;
          for (const [hash, session] of this.sessions) if (session.username === command.username && this.sessions.delete(hash)) count++;
          return { ok: true, type: "sessionsRevoked", count };
        }
        if (this.sessions.get(command.tokenHash)?.username !== command.username) return refuse("no_such_session", "no such session");
        this.sessions.delete(command.tokenHash);
        return { ok: true, type: "sessionsRevoked", count: 1 };
      }
      case "touchSession": {
        const session = this.sessions.get(command.tokenHash);
        const touched = session !== undefined && session.username === command.username;
        if (touched) session.lastSeenAt = time;
        return { ok: true, type: "sessionTouched", touched };
      }
      case "changePassword": {
        const account = this.accounts.get(command.username);
        if (account === undefined) return refuse("no_such_account", `no account named '${command.username}'`);
        if (command.passwordHash === "" || command.passwordHash.length > PASSWORD_HASH_MAX_CHARS) return refuse("invalid_command", "invalid password hash");
        account.passwordHash = command.passwordHash;
        let revoked = 0;
        for (const [hash, session] of this.sessions) {
          if (session.username === command.username && hash !== command.keepTokenHash && this.sessions.delete(hash)) revoked++;
        }
        return { ok: true, type: "passwordChanged", revoked };
      }
      case "sendMessage": {
        const content = command.content.trim();
        if (content === "" || [...content].length > CONTENT_MAX_CHARS) return refuse("invalid_command", "invalid content");
        if (!this.accounts.has(command.from)) return refuse("no_such_account", `no account named '${command.from}'`);
        if (!this.accounts.has(command.to)) return refuse("no_such_recipient", `no account named '${command.to}'`);
        const message: StoredMessage = { id: index, from: command.from, fromDeleted: false, to: command.to, content, sentAt: time, readAt: null };
        this.messages.set(index, message);
        for (const account of new Set([command.from, command.to])) emit({ index, account, type: "message", data: view(message) });
        return { ok: true, type: "messageSent", message: view(message) };
      }
      case "markRead": {
        const byIds = command.ids !== null;
        if (byIds === (command.with !== null && command.upTo !== null) || (command.ids?.length ?? 0) > IDS_PER_COMMAND_MAX) return refuse("invalid_command", "ids or with+upTo");
        const wanted = new Set(command.ids ?? []);
        const marked = this.unreadOf(command.username)
          .filter((m) => (byIds ? wanted.has(m.id) : m.from === command.with && m.id <= (command.upTo ?? 0)))
          .sort((a, b) => a.id - b.id)
          .slice(0, MARK_READ_RANGE_MAX);
        for (const m of marked) m.readAt = time;
        const ids = marked.map((m) => m.id);
        if (ids.length > 0) emit({ index, account: command.username, type: "messages_read", data: { ids, by: command.username } });
        for (const sender of new Set(marked.map((m) => m.from))) {
          if (sender === command.username) continue;
          emit({ index, account: sender, type: "messages_read", data: { ids: marked.filter((m) => m.from === sender).map((m) => m.id), by: command.username } });
        }
        return { ok: true, type: "messagesMarked", marked: ids.length, ids };
      }
      case "deleteMessages": {
        if (command.ids.length === 0 || command.ids.length > IDS_PER_COMMAND_MAX) return refuse("invalid_command", "1-1000 ids");
        const deleted: StoredMessage[] = [];
        const notFound: number[] = [];
        for (const id of new Set(command.ids)) {
          const m = this.messages.get(id);
          if (m !== undefined && ((m.from === command.username && !m.fromDeleted) || m.to === command.username)) {
            this.messages.delete(id);
            deleted.push(m);
          } else notFound.push(id);
        }
        const parties = new Set(deleted.flatMap((m) => [m.from, m.to]));
        for (const party of parties) {
          const ids = deleted.filter((m) => m.from === party || m.to === party).map((m) => m.id);
          emit({ index, account: party, type: "messages_deleted", data: { ids } });
        }
        return { ok: true, type: "messagesDeleted", deleted: deleted.map((m) => m.id), notFound };
      }
    }
  }

  private unreadOf(username: string): StoredMessage[] {
    return [...this.messages.values()].filter((m) => m.to === username && m.readAt === null);
  }

  private notifyStatus(): void {
    for (const listener of [...this.statusListeners]) listener();
  }

  // ---- queries (the local copy: only what has been applied) ----------------------

  private createQueries(): ChatQueries {
    const accountView = (a: StoredAccount): AccountView => ({ username: a.username, createdAt: a.createdAt });
    const newestFirst = (list: StoredMessage[], limit: number, before: number | null): MessagePage => {
      const older = list.filter((m) => before === null || m.id < before).sort((a, b) => b.id - a.id);
      const page = older.slice(0, clamp(limit));
      return { messages: page.map(view), nextBefore: older.length > page.length ? (page.at(-1)?.id ?? null) : null };
    };
    return {
      account: async (username) => {
        const a = this.accounts.get(username);
        return a === undefined ? null : accountView(a);
      },
      passwordHash: async (username) => this.accounts.get(username)?.passwordHash ?? null,
      listAccounts: async (pattern, limit, cursor): Promise<AccountPage> => {
        const glob = new RegExp(`^${[...pattern].map((ch) => (ch === "*" ? ".*" : ch === "?" ? "." : ch.replace(/[\\^$.|+()[\]{}]/g, "\\$&"))).join("")}$`, "s");
        const matching = [...this.accounts.keys()].filter((name) => glob.test(name)).sort(compareNames);
        const after = matching.filter((name) => cursor === null || compareNames(name, cursor) > 0);
        const page = after.slice(0, clamp(limit));
        return {
          accounts: page.map((name) => accountView(this.accounts.get(name)!)),
          total: Math.min(matching.length, ACCOUNT_TOTAL_MAX),
          totalCapped: matching.length > ACCOUNT_TOTAL_MAX,
          nextCursor: after.length > page.length ? (page.at(-1) ?? null) : null,
        };
      },
      sessionAccount: async (tokenHash) => this.sessions.get(tokenHash)?.username ?? null,
      session: async (tokenHash): Promise<SessionRecord | null> => {
        const session = this.sessions.get(tokenHash);
        return session === undefined ? null : { account: session.username, createdAt: session.createdAt, lastSeenAt: session.lastSeenAt };
      },
      conversation: async (username, other, limit, before) =>
        newestFirst(
          [...this.messages.values()].filter((m) => (m.from === username && m.to === other && !m.fromDeleted) || (m.from === other && m.to === username)),
          limit,
          before,
        ),
      unread: async (username, limit, before) => newestFirst(this.unreadOf(username), limit, before),
      unreadCount: async (username) => this.unreadOf(username).length,
      conversations: async (username): Promise<readonly Conversation[]> => {
        const byPartner = new Map<string, { last: StoredMessage; unread: number }>();
        for (const m of [...this.messages.values()].sort((a, b) => a.id - b.id)) {
          const partner = m.from === username && !m.fromDeleted ? m.to : m.to === username ? m.from : null;
          if (partner === null) continue;
          const entry = byPartner.get(partner) ?? { last: m, unread: 0 };
          entry.last = m;
          if (m.to === username && m.readAt === null) entry.unread++;
          byPartner.set(partner, entry);
        }
        return [...byPartner]
          .sort(([, a], [, b]) => b.last.id - a.last.id)
          .slice(0, CONVERSATIONS_MAX)
          .map(([partner, { last, unread }]) => ({ with: partner, lastMessage: view(last), unread }));
      },
      eventsAfter: async (account, afterIndex, limit): Promise<EventsAfter> => ({
        events: this.events.filter((e) => e.account === account && e.index > afterIndex).slice(0, clamp(limit)),
        complete: afterIndex >= this.prunedThrough,
      }),
    };
  }
}

function view(m: StoredMessage): ChatMessage {
  return { id: m.id, from: m.from, fromDeleted: m.fromDeleted, to: m.to, content: m.content, sentAt: m.sentAt, readAt: m.readAt };
}

function clamp(limit: number): number {
  return Math.max(1, Math.min(PAGE_LIMIT_MAX, Math.floor(limit)));
}

/** Byte order, like SQLite's default collation, so cursors mean the same as on a real node. */
function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function fnv1a(seed: number, text: string): number {
  let hash = seed;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}
