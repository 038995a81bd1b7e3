// The typed client for API.md. It knows every node and fails over between them (see
// http-transport.ts), so callers never deal with "which node": a write is sent with one
// Idempotency-Key for all its attempts and so is applied once, whichever node answers.
// Web standards only (fetch, streams, crypto.randomUUID): the browser page uses it too.

import {
  type AccountPage,
  type AccountView,
  asArray,
  asConversationList,
  asIdList,
  asMessage,
  asMessagePage,
  asObject,
  type ChatMessage,
  type ClusterStatus,
  type ConversationList,
  type DeleteMessagesResult,
  type MarkReadResult,
  type MessagePage,
  type Session,
} from "./api-types.ts";
import { type ChatEventSubscription, type ChatEventsOptions, openChatEvents } from "./chat-events.ts";
import { ConcordError } from "./concord-error.ts";
import { type Answer, type FetchLike, HttpTransport, type RequestSpec } from "./http-transport.ts";
import { NodePool, normalizeBaseUrl } from "./node-pool.ts";
import { openSseStream, type StreamHandle, type StreamStatus } from "./sse-stream.ts";

export const DEFAULT_REQUEST_TIMEOUT_MS = 5000;
/** Longer than the server's own 5 s deadline, so a node's 503 arrives before we give up on it. */
export const DEFAULT_EVENT_IDLE_TIMEOUT_MS = 30_000;
const MAX_TIMEOUT_MS = 10 * 60_000;
const MAX_ATTEMPTS = 100;
/** API.md: "any string up to 64 chars". */
const MAX_IDEMPOTENCY_KEY_CHARS = 64;

export interface ConcordClientOptions {
  /** Base URLs of every node, e.g. "http://127.0.0.1:8081". */
  readonly nodes: readonly string[];
  /** A session token from an earlier login. */
  readonly token?: string;
  /** The cluster admin token, for addMember, removeMember and transferLeadership. */
  readonly adminToken?: string;
  /** One attempt on one node (default 5000). */
  readonly requestTimeoutMs?: number;
  /** All attempts of one call together (default 3 × requestTimeoutMs). */
  readonly deadlineMs?: number;
  /** Attempts per call (default two passes over the nodes, at least 3, at most 20). */
  readonly maxAttempts?: number;
  /** Start with this node (e.g. the one that last worked in a previous process). */
  readonly preferredNode?: string;
  /** An event stream silent for this long is presumed dead (default 30 000). */
  readonly eventIdleTimeoutMs?: number;
  readonly fetch?: FetchLike;
}

export interface WriteOptions {
  /**
   * Defaults to a fresh random key per call. Pass your own to retry a logical write across
   * calls (after a ConcordError, its `idempotencyKey` is the one to reuse).
   */
  readonly idempotencyKey?: string;
}

export interface PageOptions {
  /** 1–200 (server default 50). */
  readonly limit?: number;
  /** Only messages with a smaller id: the previous page's `nextBefore`. */
  readonly before?: number;
}

export interface ListAccountsOptions {
  /** Glob with `*` and `?` (server default `*`). */
  readonly pattern?: string;
  readonly limit?: number;
  readonly cursor?: string;
}

export type MarkReadTarget = readonly number[] | { readonly with: string; readonly upTo: number };

export interface ClusterEventsOptions {
  /** Watch this node; omitted, the stream starts at the preferred node and moves on failure. */
  readonly node?: string;
  readonly onUpdate: (status: ClusterStatus) => void;
  readonly onStatus?: (status: StreamStatus) => void;
}

export class ConcordClient {
  readonly #pool: NodePool;
  readonly #transport: HttpTransport;
  readonly #fetch: FetchLike;
  readonly #requestTimeoutMs: number;
  readonly #eventIdleTimeoutMs: number;
  readonly #adminToken: string | null;
  #token: string | null;

  constructor(options: ConcordClientOptions) {
    this.#pool = new NodePool(options.nodes, options.preferredNode);
    // Bound to globalThis: a browser's fetch throws "Illegal invocation" when called as a method.
    this.#fetch = options.fetch ?? ((url, init) => fetch(url, init));
    this.#requestTimeoutMs = boundedInt(options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS, 1, MAX_TIMEOUT_MS, "requestTimeoutMs");
    this.#eventIdleTimeoutMs = boundedInt(options.eventIdleTimeoutMs ?? DEFAULT_EVENT_IDLE_TIMEOUT_MS, 1, MAX_TIMEOUT_MS, "eventIdleTimeoutMs");
    const deadlineMs = boundedInt(options.deadlineMs ?? 3 * this.#requestTimeoutMs, 1, MAX_TIMEOUT_MS, "deadlineMs");
    const defaultAttempts = Math.min(20, Math.max(3, 2 * this.#pool.nodes.length));
    const maxAttempts = boundedInt(options.maxAttempts ?? defaultAttempts, 1, MAX_ATTEMPTS, "maxAttempts");
    this.#transport = new HttpTransport({ pool: this.#pool, fetch: this.#fetch, requestTimeoutMs: this.#requestTimeoutMs, deadlineMs, maxAttempts });
    this.#token = options.token ?? null;
    this.#adminToken = options.adminToken ?? null;
  }

  /** The session token, set by login and cleared by logout and deleteAccount. */
  get token(): string | null {
    return this.#token;
  }

  set token(token: string | null) {
    this.#token = token;
  }

  get nodes(): readonly string[] {
    return this.#pool.nodes;
  }

  /** The node requests go to first: the one that last answered. */
  get currentNode(): string {
    return this.#pool.current;
  }

  /** Calls `listener` with the new node whenever currentNode changes; returns an unsubscribe function. */
  onNodeChange(listener: (node: string) => void): () => void {
    return this.#pool.subscribe(listener);
  }

  // Accounts and sessions

  async signup(username: string, password: string, options: WriteOptions = {}): Promise<AccountView> {
    const answer = await this.#write({ method: "POST", path: "/v1/accounts", body: { username, password }, bearer: null }, options);
    return asAccount(json(answer));
  }

  /**
   * Signs in and keeps the token for the following calls. No Idempotency-Key: the
   * server keeps only a hash of each token, so a replay could not return the first
   * one; a retried login simply opens another session, which is harmless.
   */
  async login(username: string, password: string): Promise<Session> {
    const answer = await this.#request({ method: "POST", path: "/v1/sessions", body: { username, password }, bearer: null });
    const o = asObject(json(answer), "session");
    if (typeof o["token"] !== "string" || typeof o["username"] !== "string") throw new ConcordError("bad_response", "session without token or username");
    const session: Session = { token: o["token"], username: o["username"], unread: typeof o["unread"] === "number" ? o["unread"] : 0 };
    this.#token = session.token;
    return session;
  }

  /** Revokes the token on every node. A token the server no longer knows counts as logged out. */
  async logout(options: WriteOptions = {}): Promise<void> {
    try {
      await this.#write({ method: "DELETE", path: "/v1/sessions/current", bearer: this.#token }, options);
    } catch (error) {
      if (!(error instanceof ConcordError && error.status === 401)) throw error;
    }
    this.#token = null;
  }

  /** Signs out every session of this account, on every node, this one included; resolves with how many ended. */
  async logoutEverywhere(options: WriteOptions = {}): Promise<number> {
    const o = asObject(json(await this.#write({ method: "DELETE", path: "/v1/sessions", bearer: this.#token }, options)), "answer");
    this.#token = null;
    return typeof o["revoked"] === "number" ? o["revoked"] : 0;
  }

  /** Sets a new password (the current one is needed); this session stays, every other ends. Resolves with how many ended. */
  async changePassword(currentPassword: string, newPassword: string, options: WriteOptions = {}): Promise<number> {
    const answer = await this.#write({ method: "PUT", path: "/v1/accounts/me/password", body: { currentPassword, newPassword }, bearer: this.#token }, options);
    const o = asObject(json(answer), "answer");
    return typeof o["revoked"] === "number" ? o["revoked"] : 0;
  }

  async getAccount(username: string): Promise<AccountView> {
    return asAccount(json(await this.#read(`/v1/accounts/${encodeURIComponent(username)}`)));
  }

  async listAccounts(options: ListAccountsOptions = {}): Promise<AccountPage> {
    const o = asObject(json(await this.#read(withQuery("/v1/accounts", { ...options }))), "account page");
    return {
      accounts: asArray(o["accounts"], "accounts").map(asAccount),
      total: typeof o["total"] === "number" ? o["total"] : 0,
      totalCapped: o["totalCapped"] === true,
      nextCursor: typeof o["nextCursor"] === "string" && o["nextCursor"] !== "" ? o["nextCursor"] : null,
    };
  }

  /** Deletes the signed-in account (its sessions too), so the token is dropped. */
  async deleteAccount(password: string, options: WriteOptions = {}): Promise<void> {
    await this.#write({ method: "DELETE", path: "/v1/accounts/me", body: { password }, bearer: this.#token }, options);
    this.#token = null;
  }

  // Messages

  async send(to: string, content: string, options: WriteOptions = {}): Promise<ChatMessage> {
    return asMessage(json(await this.#write({ method: "POST", path: "/v1/messages", body: { to, content }, bearer: this.#token }, options)));
  }

  /** Both directions of the conversation with `other`, newest first. */
  async conversation(other: string, page: PageOptions = {}): Promise<MessagePage> {
    return asMessagePage(json(await this.#read(withQuery("/v1/messages", { with: other, ...page }))));
  }

  /** My unread inbox, newest first. Reading it marks nothing; see markRead. */
  async unread(page: PageOptions = {}): Promise<MessagePage> {
    return asMessagePage(json(await this.#read(withQuery("/v1/messages", { unread: "true", ...page }))));
  }

  async conversations(): Promise<ConversationList> {
    return asConversationList(json(await this.#read("/v1/conversations")));
  }

  /** Marks the given ids, or every message from `with` up to `upTo` (inclusive), as read. */
  async markRead(target: MarkReadTarget, options: WriteOptions = {}): Promise<MarkReadResult> {
    const body = isIdList(target) ? { ids: checkIds(target) } : { with: target.with, upTo: target.upTo };
    const o = asObject(json(await this.#write({ method: "POST", path: "/v1/messages/read", body, bearer: this.#token }, options)), "answer");
    return { marked: typeof o["marked"] === "number" ? o["marked"] : 0 };
  }

  /** Deletes messages I sent or received, for both sides. */
  async deleteMessages(ids: readonly number[], options: WriteOptions = {}): Promise<DeleteMessagesResult> {
    const answer = await this.#write({ method: "DELETE", path: "/v1/messages", body: { ids: checkIds(ids) }, bearer: this.#token }, options);
    const o = asObject(json(answer), "answer");
    return { deleted: asIdList(o["deleted"], "deleted"), notFound: asIdList(o["notFound"] ?? [], "notFound") };
  }

  /** Live events of the signed-in account, each delivered once across reconnects and failovers. */
  events(options: ChatEventsOptions): ChatEventSubscription {
    return openChatEvents(options, {
      fetch: this.#fetch,
      bearer: () => this.#token,
      nextNode: (previous) => (previous === null ? this.#pool.current : this.#pool.at(this.#pool.nodes.indexOf(previous) + 1)),
      nodeCount: this.#pool.nodes.length,
      connectTimeoutMs: this.#requestTimeoutMs,
      idleTimeoutMs: this.#eventIdleTimeoutMs,
    });
  }

  // Cluster

  /** One node's view of the group: `node` if given, else whichever node answers. */
  async cluster(options: { readonly node?: string } = {}): Promise<ClusterStatus> {
    return asObject(json(await this.#read("/v1/cluster", options.node)), "cluster status") as unknown as ClusterStatus;
  }

  /** The status stream of GET /v1/cluster/events (the dashboard). */
  clusterEvents(options: ClusterEventsOptions): StreamHandle {
    const pinned = options.node === undefined ? null : normalizeBaseUrl(options.node);
    return openSseStream({
      fetch: this.#fetch,
      path: "/v1/cluster/events",
      bearer: () => this.#token,
      lastEventId: () => null,
      nextNode: (previous) => pinned ?? (previous === null ? this.#pool.current : this.#pool.at(this.#pool.nodes.indexOf(previous) + 1)),
      nodeCount: pinned === null ? this.#pool.nodes.length : 1,
      connectTimeoutMs: this.#requestTimeoutMs,
      idleTimeoutMs: this.#eventIdleTimeoutMs,
      onMessage: (message) => {
        let data: unknown;
        try {
          data = JSON.parse(message.data);
        } catch {
          throw new ConcordError("bad_response", "cluster event data is not JSON");
        }
        options.onUpdate(asObject(data, "cluster status") as unknown as ClusterStatus);
      },
      ...(options.onStatus !== undefined ? { onStatus: options.onStatus } : {}),
    });
  }

  /** GET /healthz on one node: true while its process runs; false when it does not answer. */
  async health(node: string = this.currentNode): Promise<boolean> {
    return this.#probe("/healthz", node);
  }

  /** GET /readyz on one node: true when it knows a leader and has applied what it knows is committed. */
  async ready(node: string = this.currentNode): Promise<boolean> {
    return this.#probe("/readyz", node);
  }

  /** One node's Prometheus text. */
  async metrics(node: string = this.currentNode): Promise<string> {
    return (await this.#request({ method: "GET", path: "/metrics", bearer: null, node: normalizeBaseUrl(node) })).text;
  }

  /** Admin: a new member joins as a learner, catches up, then becomes a voter. */
  async addMember(id: number, voter: boolean, options: WriteOptions = {}): Promise<void> {
    await this.#write({ method: "POST", path: "/v1/cluster/members", body: { id: checkNodeId(id), voter }, bearer: this.#admin() }, options);
  }

  async removeMember(id: number, options: WriteOptions = {}): Promise<void> {
    await this.#write({ method: "DELETE", path: `/v1/cluster/members/${checkNodeId(id)}`, bearer: this.#admin() }, options);
  }

  async transferLeadership(to: number, options: WriteOptions = {}): Promise<void> {
    await this.#write({ method: "POST", path: "/v1/cluster/leader", body: { to: checkNodeId(to) }, bearer: this.#admin() }, options);
  }

  // Plumbing

  #read(path: string, node?: string): Promise<Answer> {
    return this.#request({ method: "GET", path, bearer: this.#token, ...(node !== undefined ? { node: normalizeBaseUrl(node) } : {}) });
  }

  /** Every write gets one key for all its attempts: that is what makes failover safe. */
  async #write(spec: Omit<RequestSpec, "idempotencyKey">, options: WriteOptions): Promise<Answer> {
    const key = options.idempotencyKey ?? newIdempotencyKey();
    if (key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY_CHARS) {
      throw new ConcordError("invalid_argument", `an Idempotency-Key has 1–${MAX_IDEMPOTENCY_KEY_CHARS} characters, got ${key.length}`);
    }
    return this.#request({ ...spec, idempotencyKey: key });
  }

  #request(spec: RequestSpec): Promise<Answer> {
    return this.#transport.request(spec);
  }

  async #probe(path: string, node: string): Promise<boolean> {
    try {
      const answer = await this.#request({ method: "GET", path, bearer: null, node: normalizeBaseUrl(node), answerStatuses: [503] });
      return answer.status >= 200 && answer.status < 300;
    } catch (error) {
      if (error instanceof ConcordError && error.transient) return false;
      throw error;
    }
  }

  #admin(): string {
    if (this.#adminToken === null) throw new ConcordError("invalid_argument", "admin calls need the adminToken option");
    return this.#adminToken;
  }
}

/**
 * crypto.randomUUID exists only in secure contexts: a page served over plain http from a
 * LAN address has getRandomValues but not randomUUID. Both give 122+ random bits.
 */
function newIdempotencyKey(): string {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}

function json(answer: Answer): unknown {
  if (answer.text === "") return null;
  try {
    return JSON.parse(answer.text);
  } catch {
    throw new ConcordError("bad_response", `${answer.node} answered ${answer.status} with a body that is not JSON`, answer.status);
  }
}

function asAccount(value: unknown): AccountView {
  const o = asObject(value, "account");
  if (typeof o["username"] !== "string") throw new ConcordError("bad_response", "account without username");
  return { username: o["username"], createdAt: typeof o["createdAt"] === "string" ? o["createdAt"] : "" };
}

function withQuery(path: string, params: Readonly<Record<string, string | number | undefined>>): string {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value !== undefined) query.set(name, String(value));
  const text = query.toString();
  return text === "" ? path : `${path}?${text}`;
}

function isIdList(target: MarkReadTarget): target is readonly number[] {
  return Array.isArray(target);
}

function checkIds(ids: readonly number[]): readonly number[] {
  for (const id of ids) if (!Number.isSafeInteger(id) || id <= 0) throw new ConcordError("invalid_argument", `message ids are positive integers, got ${id}`);
  return ids;
}

function checkNodeId(id: number): number {
  if (!Number.isSafeInteger(id) || id <= 0) throw new ConcordError("invalid_argument", `node ids are positive integers, got ${id}`);
  return id;
}

function boundedInt(value: number, min: number, max: number, name: string): number {
  if (!Number.isInteger(value) || value < min || value > max) throw new ConcordError("invalid_argument", `${name} must be an integer in ${min}..${max}, got ${value}`);
  return value;
}
