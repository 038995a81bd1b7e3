// The data the Raft core consumes and produces. Plain objects with a fixed shape
// (every field always present) so the hot path stays monomorphic.

export type NodeId = number;
/** `vote` and `leader` use 0 for "none"; node ids start at 1. */
export const NONE: NodeId = 0;

export type EntryKind = "normal" | "conf";

export interface Entry {
  readonly index: number;
  readonly term: number;
  readonly kind: EntryKind;
  /** For "normal": the application's command (empty for the leader's no-op).
   *  For "conf": an encoded ConfChange (see confchange.ts). */
  readonly data: Uint8Array;
}

/** What must be durable before a vote or an acknowledgement leaves this node. */
export interface HardState {
  readonly term: number;
  readonly vote: NodeId;
  readonly commit: number;
}

export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

/** The core reasons about snapshot metadata only; the bytes travel beside it
 *  (the driver attaches them when sending and stages them when receiving). */
export interface SnapshotMeta {
  readonly index: number;
  readonly term: number;
  readonly conf: ConfState;
}

/**
 * A snapshot's bytes, read a piece at a time. The core never sees them; this is the
 * vocabulary the layers above share (state machine, snapshot store, transport). On a
 * node they stay in a file: a large state's snapshot (hundreds of MB) is never in memory
 * whole, only the chunks on their way.
 */
export interface SnapshotBytes {
  readonly size: number;
  /** `length` bytes from `offset`, fewer only where the snapshot ends. */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** The holder is done with them: a temporary file goes. Absent for bytes a store keeps. */
  release?(): Promise<void>;
}

/** Where an incoming snapshot's chunks are written, in any order, each once. */
export interface SnapshotSink {
  write(offset: number, chunk: Uint8Array): Promise<void>;
  /** Every byte was written: the snapshot, durable and readable. */
  finish(): Promise<SnapshotBytes>;
  /** The transfer was abandoned: whatever it took is freed. */
  discard(): Promise<void>;
}

export type ConfChangeType = "addVoter" | "addLearner" | "removeNode";
export interface ConfChange {
  readonly type: ConfChangeType;
  readonly nodeId: NodeId;
}

export type MessageType =
  | "app" // leader → follower: entries after (index, logTerm), leader commit
  | "appResp" // follower → leader: match index, or reject with a conflict hint
  | "heartbeat" // leader → follower: commit, read round in `context`
  | "heartbeatResp"
  | "vote" // candidate → voter: (index, logTerm) is the candidate's last entry
  | "voteResp"
  | "preVote" // like vote, for term+1, without changing anybody's term
  | "preVoteResp"
  | "snap" // leader → follower: install the snapshot described by `snapshot`
  | "timeoutNow" // leader → transferee: campaign now, ignoring leases
  | "readIndex" // follower → leader: a linearizable read, `context` identifies it
  | "readIndexResp"; // leader → follower: `index` is the read index for `context`

export interface Message {
  type: MessageType;
  from: NodeId;
  to: NodeId;
  term: number;
  /** app: term of the entry before `entries`; vote/preVote: term of the last entry;
   *  appResp reject: term of the follower's entry at `rejectHint` (conflict hint). */
  logTerm: number;
  /** app: index of the entry before `entries`; vote/preVote: last index;
   *  appResp: highest index known to match (accept) or the rejected index (reject);
   *  readIndexResp: the read index. */
  index: number;
  entries: Entry[];
  commit: number;
  reject: boolean;
  /** appResp reject: the follower's best guess of where the logs may agree. */
  rejectHint: number;
  /** heartbeat(Resp): read round; readIndex(Resp): the caller's request id;
   *  vote/preVote: 1 when the election is a leadership transfer. */
  context: number;
  snapshot: SnapshotMeta | null;
}

export type Role = "follower" | "preCandidate" | "candidate" | "leader";

export interface ReadState {
  /** Linearizable once the local state machine has applied `index`. */
  readonly index: number;
  /** The request id given to `readIndex`. */
  readonly context: number;
}

export interface SoftState {
  readonly role: Role;
  readonly leader: NodeId;
}

/**
 * Everything the driver must do, in this order:
 *  1. install `snapshot` (if any), append `entries` (replacing any stored suffix from
 *     entries[0].index on) and write `hardState` (if any) — durably, in one batch;
 *     `messages` may be sent while this happens (leader replication runs in parallel
 *     with its own disk write);
 *  2. send `messagesAfterPersist` (acks and votes: they promise durability);
 *  3. apply `committedEntries` in order and hand `readStates` to waiting readers;
 *  4. call `advance()`.
 */
export interface Ready {
  readonly softState: SoftState | null;
  /** Set when it changed, and always beside entries or a snapshot (they are written with the commit index known then). */
  readonly hardState: HardState | null;
  readonly snapshot: SnapshotMeta | null;
  readonly entries: readonly Entry[];
  readonly messages: readonly Message[];
  readonly messagesAfterPersist: readonly Message[];
  readonly committedEntries: readonly Entry[];
  readonly readStates: readonly ReadState[];
}

/** A node's durable state as loaded at start (empty for a brand-new node). */
export interface RestoredState {
  readonly hardState: HardState;
  readonly snapshot: SnapshotMeta | null;
  /** Entries after the snapshot, contiguous. */
  readonly entries: readonly Entry[];
  /** The last index the state machine has durably applied (>= snapshot index). */
  readonly applied: number;
}

export type ProgressState = "probe" | "replicate" | "snapshot";

export interface ProgressStatus {
  readonly id: NodeId;
  readonly voter: boolean;
  readonly match: number;
  readonly next: number;
  readonly state: ProgressState;
  /** Ticks since the leader last heard from this peer. */
  readonly lastContactTicks: number;
}

export interface Status {
  readonly id: NodeId;
  readonly role: Role;
  readonly term: number;
  readonly vote: NodeId;
  readonly leader: NodeId;
  readonly commit: number;
  readonly applied: number;
  readonly lastIndex: number;
  readonly snapshotIndex: number;
  readonly conf: ConfState;
  readonly transferee: NodeId;
  /** Only on a leader. */
  readonly progress: readonly ProgressStatus[];
}

/** The only randomness the core sees; seeded by the caller. */
export interface Rng {
  /** An integer in [0, bound). */
  nextInt(bound: number): number;
}
