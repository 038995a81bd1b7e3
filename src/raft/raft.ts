import { confAfter, encodeConfChange, encodeConfSet } from "./confchange.ts";
import { RaftError, invariant } from "./errors.ts";
import { RaftLog } from "./log.ts";
import { MAX_INDEX, MAX_TERM, blankMessage } from "./message.ts";
import { Progress } from "./progress.ts";
import { ReadRounds } from "./read-rounds.ts";
import {
  NONE,
  type ConfChange,
  type ConfState,
  type Entry,
  type HardState,
  type Message,
  type MessageType,
  type NodeId,
  type ProgressStatus,
  type ReadState,
  type Ready,
  type RestoredState,
  type Rng,
  type Role,
  type SnapshotMeta,
  type SoftState,
  type Status,
} from "./types.ts";

export { RaftError } from "./errors.ts";

export interface RaftConfig {
  id: NodeId;
  rng: Rng;
  /** A follower campaigns after [t, 2t) ticks without hearing from a leader. */
  electionTimeoutTicks?: number;
  heartbeatIntervalTicks?: number;
  /** §9.6: ask for votes without bumping terms first, so a rejoining node cannot disrupt. */
  preVote?: boolean;
  /** §6.2: a leader that has not heard from a quorum for an election timeout steps down. */
  checkQuorum?: boolean;
  maxMsgBytes?: number;
  maxInflightMsgs?: number;
  maxInflightBytes?: number;
  maxUncommittedBytes?: number;
  maxCommittedBytesPerReady?: number;
  /** A snapshot not acknowledged within this many ticks is sent again. */
  snapshotTimeoutTicks?: number;
  /**
   * Send a new commit index on its own only on ticks; otherwise it rides on the next
   * append. Saves a message, a Ready and an ack per follower per commit under load, at
   * the price of followers applying up to one tick later when idle. Default false.
   */
  deferCommitUpdates?: boolean;
  /** The configuration of a brand-new cluster; ignored when there is restored state. */
  bootstrap?: ConfState;
  /**
   * Deliberate bugs for proving that the simulator finds them. Never set in production.
   * Each re-creates a bug this core once had; the unit tests named after each switch
   * show the wrong outcome with it on and the right one with it off.
   */
  unsafeTestingFaults?: {
    /** Commit an earlier term's entry by counting replicas (Figure 8). */
    commitPreviousTermByCount?: boolean;
    /** Send a vote grant before the vote is durable. */
    voteBeforePersist?: boolean;
    /** Campaign while a committed conf entry is not yet applied (votes tallied against a stale configuration). */
    campaignWithUnappliedConf?: boolean;
    /** Every transferLeader call, a repeat to the same node included, restarts the leader's election counter. */
    transferExtendsLeaderLease?: boolean;
    /** In probe, an ack equal to the follower's match does not move it to replicate. */
    probeIgnoresEqualAck?: boolean;
    /** Accept acks beyond the last index, responses from non-members and malformed appends. */
    trustImpossibleMessages?: boolean;
  };
}

export type ProposeResult = { index: number; term: number } | RaftError;

const EMPTY: Uint8Array = new Uint8Array(0);

/** A non-negative integer no larger than `max` (NaN and fractions fail). */
function inRange(n: number, max: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= max;
}

export function emptyRestoredState(): RestoredState {
  return { hardState: { term: 0, vote: NONE, commit: 0 }, snapshot: null, entries: [], applied: 0 };
}

/** Messages that promise durability: they wait until the Ready is persisted. */
function waitsForPersist(type: MessageType): boolean {
  return type === "appResp" || type === "vote" || type === "voteResp";
}

interface LeaderRead {
  index: number;
  context: number;
  from: NodeId;
  round: number;
}

interface ReadyInFlight {
  lastEntryIndex: number;
  lastEntryTerm: number;
  appliedTo: number;
  snapshot: SnapshotMeta | null;
  hardState: HardState;
  softState: SoftState;
}

/**
 * One Raft peer as a deterministic state machine. Inputs: tick, step, propose,
 * proposeConfChange, readIndex, transferLeader. Output: a Ready, which the driver
 * persists, sends and applies before calling advance().
 *
 * Invariants (checked by assertions and by the simulator):
 *   snapshotIndex <= applied <= commit <= lastIndex
 *   at most one leader per term; a vote is durable before it is sent
 *   a leader commits by counting replicas only for entries of its own term
 */
export class Raft {
  readonly id: NodeId;
  private readonly rng: Rng;
  private readonly electionTimeoutTicks: number;
  private readonly heartbeatIntervalTicks: number;
  private readonly preVote: boolean;
  private readonly checkQuorum: boolean;
  private readonly maxMsgBytes: number;
  private readonly maxInflightMsgs: number;
  private readonly maxInflightBytes: number;
  private readonly maxUncommittedBytes: number;
  private readonly maxCommittedBytesPerReady: number;
  private readonly snapshotTimeoutTicks: number;
  private readonly deferCommitUpdates: boolean;
  private readonly faultCommitPreviousTerm: boolean;
  private readonly faultVoteBeforePersist: boolean;
  private readonly faultCampaignWithUnappliedConf: boolean;
  private readonly faultTransferExtendsLease: boolean;
  private readonly faultProbeIgnoresEqualAck: boolean;
  private readonly faultTrustImpossibleMessages: boolean;

  private term = 0;
  private vote: NodeId = NONE;
  private role: Role = "follower";
  private leader: NodeId = NONE;
  private readonly log: RaftLog;
  private applied: number;

  private voters = new Set<NodeId>();
  private learners = new Set<NodeId>();

  /**
   * Ticks since a follower last heard from its leader; on a leader, since the last
   * check-quorum round. Nothing but those events and role changes resets it, so a
   * leader cut off from its quorum steps down on schedule whatever its callers do.
   */
  private electionElapsedTicks = 0;
  private heartbeatElapsedTicks = 0;
  private randomizedElectionTimeoutTicks = 0;

  /**
   * Committed entries up to here were either applied or scanned for conf entries, the
   * highest one scanned being at `lastCommittedConfIndex`. Committed entries never
   * change, so no entry is scanned twice (see hasUnappliedConfChanges).
   */
  private confScannedTo = 0;
  private lastCommittedConfIndex = 0;

  // Candidate state.
  private readonly votes = new Map<NodeId, boolean>();

  // Leader state.
  private readonly progress = new Map<NodeId, Progress>();
  private transferee: NodeId = NONE;
  /** Ticks since the pending transfer started; it is abandoned after an election timeout. */
  private transferElapsedTicks = 0;
  /** No new membership change until the state machine has applied this index. */
  private pendingConfIndex = 0;
  private uncommittedBytes = 0;
  /** Something may need sending to followers; done once per Ready, which batches. */
  private needsBroadcast = false;
  private readonly reads = new ReadRounds();
  private pendingReads: LeaderRead[] = [];
  /** Reads that arrived before this leader committed an entry of its own term. */
  private readsBeforeTermCommit: { context: number; from: NodeId }[] = [];
  private readonly matchScratch: number[] = [];

  // Output buffers.
  private msgs: Message[] = [];
  private msgsAfterPersist: Message[] = [];
  private readStates: ReadState[] = [];
  private prevHardState: HardState;
  private prevSoftState: SoftState = { role: "follower", leader: NONE };
  private inFlight: ReadyInFlight | null = null;

  constructor(config: RaftConfig, restored: RestoredState) {
    invariant(config.id > 0, "node ids start at 1");
    this.id = config.id;
    this.rng = config.rng;
    this.electionTimeoutTicks = config.electionTimeoutTicks ?? 10;
    this.heartbeatIntervalTicks = config.heartbeatIntervalTicks ?? 1;
    invariant(this.heartbeatIntervalTicks < this.electionTimeoutTicks, "heartbeat interval must be below the election timeout");
    this.preVote = config.preVote ?? true;
    this.checkQuorum = config.checkQuorum ?? true;
    this.maxMsgBytes = config.maxMsgBytes ?? 1 << 20;
    this.maxInflightMsgs = config.maxInflightMsgs ?? 256;
    this.maxInflightBytes = config.maxInflightBytes ?? 32 << 20;
    this.maxUncommittedBytes = config.maxUncommittedBytes ?? 64 << 20;
    this.maxCommittedBytesPerReady = config.maxCommittedBytesPerReady ?? 4 << 20;
    this.snapshotTimeoutTicks = config.snapshotTimeoutTicks ?? this.electionTimeoutTicks * 5;
    this.deferCommitUpdates = config.deferCommitUpdates ?? false;
    this.faultCommitPreviousTerm = config.unsafeTestingFaults?.commitPreviousTermByCount ?? false;
    this.faultVoteBeforePersist = config.unsafeTestingFaults?.voteBeforePersist ?? false;
    this.faultCampaignWithUnappliedConf = config.unsafeTestingFaults?.campaignWithUnappliedConf ?? false;
    this.faultTransferExtendsLease = config.unsafeTestingFaults?.transferExtendsLeaderLease ?? false;
    this.faultProbeIgnoresEqualAck = config.unsafeTestingFaults?.probeIgnoresEqualAck ?? false;
    this.faultTrustImpossibleMessages = config.unsafeTestingFaults?.trustImpossibleMessages ?? false;

    const isEmpty = restored.hardState.term === 0 && restored.snapshot === null && restored.entries.length === 0;
    if (isEmpty && config.bootstrap !== undefined) {
      // Entry 1 of every bootstrapped member is the same conf entry at term 1, so their
      // logs agree from the start and a member that joins later learns the
      // configuration from the log like everything else.
      invariant(config.bootstrap.voters.length > 0, "bootstrap needs at least one voter");
      const first: Entry = { index: 1, term: 1, kind: "conf", data: encodeConfSet(config.bootstrap) };
      this.log = new RaftLog(null, [], 0);
      this.log.mergeFromLeader(0, [first]);
      this.log.commitTo(1);
      this.term = 1;
      this.applied = 0;
      this.setConf(config.bootstrap);
      // Entry 1's configuration is in force from the start, not waiting to be applied.
      this.confScannedTo = 1;
      this.prevHardState = { term: 0, vote: NONE, commit: 0 };
    } else {
      const { hardState, snapshot, entries, applied } = restored;
      // No message beyond MAX_TERM is accepted, so a larger durable term was written by
      // something else (or by a core from before the bound): refuse to run on it rather
      // than send terms no peer will take.
      invariant(hardState.term <= MAX_TERM, () => `restored term ${hardState.term} exceeds the largest term ${MAX_TERM}`);
      this.log = new RaftLog(snapshot, entries, hardState.commit);
      this.term = hardState.term;
      this.vote = hardState.vote;
      this.applied = applied;
      invariant(
        this.log.snapshotIndex() <= applied && applied <= this.log.committed,
        () => `restored applied ${applied} outside [snapshot ${this.log.snapshotIndex()}, commit ${this.log.committed}]`,
      );
      if (snapshot !== null) this.setConf(snapshot.conf);
      // Configuration takes effect when applied; replay what the state machine applied.
      for (let i = this.log.firstIndex(); i <= applied; i++) {
        const entry = this.log.entryAt(i);
        if (entry.kind === "conf") this.applyConfEntry(entry);
      }
      this.prevHardState = { term: hardState.term, vote: hardState.vote, commit: hardState.commit };
    }
    this.resetElectionTimer();
  }

  // ───────────────────────────── inputs ─────────────────────────────

  tick(): void {
    if (this.role === "leader") {
      this.tickLeader();
      return;
    }
    this.electionElapsedTicks++;
    if (this.electionElapsedTicks >= this.randomizedElectionTimeoutTicks && this.isPromotable()) {
      // Held back by a conf entry not yet applied: keep counting, so the node campaigns
      // on the first tick after the driver has applied it.
      if (!this.mayCampaign()) return;
      this.electionElapsedTicks = 0;
      this.startElection(this.preVote ? "preVote" : "vote", false);
    }
  }

  /** Start an election now (tests and operators); pre-vote still applies. */
  campaign(): void {
    if (this.role === "leader" || !this.mayCampaign()) return;
    this.startElection(this.preVote ? "preVote" : "vote", false);
  }

  step(m: Message): void {
    invariant(m.to === this.id, () => `message for ${m.to} delivered to ${this.id}`);
    if (!this.admissible(m)) return;
    if (m.term > this.term) {
      if (m.type === "vote" || m.type === "preVote") {
        const forced = m.context === 1;
        // §4.2.3: while we hear from a live leader, ignore candidates; this keeps a
        // node that was partitioned away from deposing a healthy leader.
        const inLease = this.checkQuorum && this.leader !== NONE && this.electionElapsedTicks < this.electionTimeoutTicks;
        if (inLease && !forced) return;
      }
      if (m.type === "preVote") {
        // A pre-vote asks about a future term; it changes nothing here.
      } else if (m.type === "preVoteResp" && !m.reject) {
        // A grant carries the term we asked about; we move there only when we win.
      } else if (m.type === "app" || m.type === "heartbeat" || m.type === "snap") {
        this.becomeFollower(m.term, m.from);
      } else if (m.type === "vote" && this.role === "follower" && !this.log.isUpToDate(m.index, m.logTerm)) {
        // A candidate whose log is behind ours moves our term but gets no vote, and, as in
        // the Raft paper (§5.2: a follower's timer restarts on a leader's word or a vote
        // granted), does not restart our election timer: with pre-vote off, candidates
        // that cannot win would otherwise keep every up-to-date node from ever campaigning
        // (whole-node seed 163509: no leader for 800 ticks after healing).
        const elapsedTicks = this.electionElapsedTicks;
        const timeoutTicks = this.randomizedElectionTimeoutTicks;
        this.becomeFollower(m.term, NONE);
        this.electionElapsedTicks = elapsedTicks;
        this.randomizedElectionTimeoutTicks = timeoutTicks;
      } else {
        this.becomeFollower(m.term, NONE);
      }
    } else if (m.term < this.term) {
      if ((this.checkQuorum || this.preVote) && (m.type === "app" || m.type === "heartbeat")) {
        // A stale leader may be cut off from everyone but us; tell it our term so it
        // steps down (with pre-vote its followers' terms would never reach it).
        this.send(this.message("appResp", m.from));
      } else if (m.type === "preVote" || m.type === "vote") {
        // §5.1: refuse, with our term. A candidate that hears nothing back never learns
        // how far behind its term is: two candidates, one of them unelectable (its log
        // is stale) and asking voters the other never reaches, can then duel forever,
        // the electable one always a term behind.
        const resp = this.message(m.type === "preVote" ? "preVoteResp" : "voteResp", m.from);
        resp.reject = true;
        this.send(resp);
      }
      return;
    }

    if (m.type === "vote" || m.type === "preVote") {
      this.handleVoteRequest(m);
      return;
    }
    switch (this.role) {
      case "leader":
        this.stepLeader(m);
        break;
      case "candidate":
      case "preCandidate":
        this.stepCandidate(m);
        break;
      case "follower":
        this.stepFollower(m);
        break;
    }
  }

  /**
   * Drops what no correct peer could have sent, before it can move our term or state.
   * Always: numbers beyond MAX_TERM / MAX_INDEX, a sender that is nobody (0) or us, a
   * "snap" without its snapshot. Unless the trustImpossibleMessages fault is on, also:
   *
   * Who may send what. The configuration we know may lag the cluster's (entries not yet
   * received or applied; a brand-new --join node knows none), so the rule must not
   * depend on a member being known where Raft needs its messages:
   *  - responses (appResp, heartbeatResp, voteResp, preVoteResp) answer what we asked,
   *    and we ask only members; from anyone else they are dropped, so an outsider's
   *    higher term cannot depose a leader or a candidate. A leader serves readIndex only
   *    to members too.
   *  - app, heartbeat and snap are taken from any sender: a lagging node (or a new one)
   *    must follow a leader its configuration does not name yet. This is safe because a
   *    term has at most one leader, and a removed server cannot win one: the entry
   *    removing it was committed by a quorum of the configuration it still believes in,
   *    whose logs are then more up to date than its own.
   *  - readIndexResp and timeoutNow come from the leader we follow, or a member.
   *  - vote and preVote from a non-member are dropped when its log is not as up to date
   *    as ours: we would refuse it anyway, and dropping it keeps a removed server that
   *    still campaigns from raising our term. A candidate with a more up-to-date log
   *    may be a voter our configuration does not know yet, so it is heard.
   * And the shape of what we are asked to store: an append's entries must follow its
   * index one by one, in non-decreasing terms from its logTerm, none above its term; a
   * heartbeat cannot commit beyond our log (the leader sends min(match, commit)); a
   * snapshot's term is at most its sender's and its configuration has a voter.
   */
  private admissible(m: Message): boolean {
    if (m.from === NONE || m.from === this.id) return false;
    if (!inRange(m.term, MAX_TERM) || !inRange(m.logTerm, MAX_TERM)) return false;
    if (!inRange(m.index, MAX_INDEX) || !inRange(m.commit, MAX_INDEX) || !inRange(m.rejectHint, MAX_INDEX)) return false;
    const snapshot = m.snapshot;
    if (m.type === "snap" && snapshot === null) return false;
    if (snapshot !== null && (!inRange(snapshot.index, MAX_INDEX) || !inRange(snapshot.term, MAX_TERM))) return false;
    const trust = this.faultTrustImpossibleMessages;
    if (m.type === "app") {
      const entries = m.entries;
      let prevTerm = m.logTerm;
      for (let i = 0; i < entries.length; i++) {
        const e = entries[i]!;
        if (!inRange(e.index, MAX_INDEX) || !inRange(e.term, MAX_TERM)) return false;
        if (!trust && (e.index !== m.index + 1 + i || e.term < prevTerm || e.term > m.term)) return false;
        prevTerm = e.term;
      }
    }
    if (trust) return true;
    const member = this.voters.has(m.from) || this.learners.has(m.from);
    switch (m.type) {
      case "appResp":
      case "heartbeatResp":
      case "voteResp":
      case "preVoteResp":
      case "readIndex":
        return member;
      case "readIndexResp":
      case "timeoutNow":
        return member || m.from === this.leader;
      case "vote":
      case "preVote":
        return member || this.log.isUpToDate(m.index, m.logTerm);
      case "app":
        return m.logTerm <= m.term;
      case "heartbeat":
        return m.commit <= this.log.lastIndex();
      case "snap":
        return snapshot!.term <= m.term && snapshot!.conf.voters.length > 0;
    }
  }

  propose(data: Uint8Array): ProposeResult {
    const refusal = this.proposalRefusal(data.length);
    if (refusal !== null) return refusal;
    return this.appendAsLeader("normal", data);
  }

  proposeConfChange(change: ConfChange): ProposeResult {
    const refusal = this.proposalRefusal(6);
    if (refusal !== null) return refusal;
    if (this.pendingConfIndex > this.applied) {
      return new RaftError("conf_change_pending", `membership change at ${this.pendingConfIndex} is not applied yet`);
    }
    const invalid = this.validateConfChange(change);
    if (invalid !== null) return invalid;
    const result = this.appendAsLeader("conf", encodeConfChange(change));
    this.pendingConfIndex = result.index;
    return result;
  }

  /** Ask for a linearizable read; the answer arrives as a ReadState with this context. */
  readIndex(context: number): RaftError | null {
    if (this.role === "leader") {
      this.leaderRead(context, this.id);
      return null;
    }
    if (this.leader === NONE) return new RaftError("no_leader", "no leader is known");
    const m = this.message("readIndex", this.leader);
    m.context = context;
    this.send(m);
    return null;
  }

  /**
   * §3.10: hand leadership to `to` once its log is up to date. A transfer must finish
   * within an election timeout or it is abandoned; until then proposals are refused.
   *   - a repeat for the pending transferee changes nothing (it neither extends the
   *     transfer nor the leader's hold on its role: callers retry, and a leader cut off
   *     from its quorum must still step down on schedule);
   *   - `to` = this leader cancels a pending transfer;
   *   - another voter replaces the pending transfer.
   */
  transferLeader(to: NodeId): RaftError | null {
    if (this.role !== "leader") return new RaftError("not_leader", `node ${this.id} is not the leader`);
    if (to !== this.id && !this.voters.has(to)) return new RaftError("invalid_conf_change", `node ${to} is not a voter`);
    if (to === this.transferee && !this.faultTransferExtendsLease) {
      // The timeoutNow may have been lost: sending it again is harmless (a transferee
      // that already campaigned is in a later term and drops it).
      const pr = this.progressOf(to);
      if (pr.match === this.log.lastIndex()) this.send(this.message("timeoutNow", to));
      return null;
    }
    this.transferee = NONE;
    if (to === this.id) return null;
    // The old bug: the transfer's timeout was the election counter that also times
    // check-quorum, so every request, repeats included, postponed the step-down.
    if (this.faultTransferExtendsLease) this.electionElapsedTicks = 0;
    this.transferee = to;
    this.transferElapsedTicks = 0;
    const pr = this.progressOf(to);
    if (pr.match === this.log.lastIndex()) {
      this.send(this.message("timeoutNow", to));
    } else {
      // Catch it up; handleAppendResponse sends timeoutNow once it holds our last entry.
      // A follower we think has everything we sent (replicate, next past our log) gets
      // an empty append at our last index now, whose answer tells us where it really
      // stands. Anything else waits for the Ready's flush: a snapshot must be named
      // when the Ready is taken, as the driver may compact (and drop the one we hold
      // now) before then.
      if (pr.state === "replicate" && pr.next > this.log.lastIndex() && !pr.paused()) this.sendAppend(pr);
      this.needsBroadcast = true;
    }
    return null;
  }

  /** The driver snapshotted its state machine at `snapshot.index`: forget the log below. */
  compact(snapshot: SnapshotMeta): void {
    invariant(snapshot.index <= this.applied, () => `compaction at ${snapshot.index} beyond applied ${this.applied}`);
    this.log.compact(snapshot);
  }

  // ───────────────────────────── output ─────────────────────────────

  hasReady(): boolean {
    if (this.inFlight !== null) return false;
    // Turn pending broadcasts into messages now, so "ready" never means "nothing to do".
    if (this.role === "leader") this.flushLeaderSends();
    return (
      this.msgs.length > 0 ||
      this.msgsAfterPersist.length > 0 ||
      this.readStates.length > 0 ||
      this.log.hasUnstable() ||
      this.log.pendingSnapshot !== null ||
      this.log.committed > this.applied ||
      this.hardStateChanged() ||
      this.softStateChanged()
    );
  }

  ready(): Ready {
    invariant(this.inFlight === null, "ready() called again before advance()");
    if (this.role === "leader") this.flushLeaderSends();

    const hardState: HardState = { term: this.term, vote: this.vote, commit: this.log.committed };
    const softState: SoftState = { role: this.role, leader: this.leader };
    const snapshot = this.log.pendingSnapshot;
    const entries = this.log.unstableEntries();
    const applyFrom = (snapshot !== null ? snapshot.index : this.applied) + 1;
    const committedEntries =
      applyFrom <= this.log.committed ? this.log.slice(applyFrom, this.log.committed, this.maxCommittedBytesPerReady) : [];
    const last = entries[entries.length - 1];
    const lastCommitted = committedEntries[committedEntries.length - 1];

    const ready: Ready = {
      softState: this.softStateChanged() ? softState : null,
      // Entries (or a snapshot) go to disk with the commit index known now, changed or not.
      // A commit-only change is never synced, so without this a follower that learned of
      // a committed conf entry by a heartbeat, then wrote later entries, restarts with a
      // commit below that entry: blind to the change, it may campaign on a configuration
      // two voter additions old, whose quorum need not overlap the committed one.
      hardState: this.hardStateChanged() || entries.length > 0 || snapshot !== null ? hardState : null,
      snapshot,
      entries,
      messages: this.msgs,
      messagesAfterPersist: this.msgsAfterPersist,
      committedEntries,
      readStates: this.readStates,
    };
    this.msgs = [];
    this.msgsAfterPersist = [];
    this.readStates = [];
    this.inFlight = {
      lastEntryIndex: last?.index ?? 0,
      lastEntryTerm: last?.term ?? 0,
      appliedTo: lastCommitted?.index ?? (snapshot !== null ? snapshot.index : this.applied),
      snapshot,
      hardState,
      softState,
    };
    return ready;
  }

  /** The last Ready is persisted, its messages sent and its entries applied. */
  advance(): void {
    const done = this.inFlight;
    invariant(done !== null, "advance() without a Ready");
    this.inFlight = null;
    this.prevHardState = done.hardState;
    this.prevSoftState = done.softState;
    if (done.snapshot !== null && this.log.pendingSnapshot === done.snapshot) {
      this.log.pendingSnapshot = null;
    }
    if (done.lastEntryIndex > 0) {
      this.log.stableTo(done.lastEntryIndex, done.lastEntryTerm);
      if (this.role === "leader") {
        // The leader counts its own copy only once it is durable.
        this.progressOf(this.id).maybeUpdate(this.log.stableIndex());
        this.maybeCommit();
      }
    }
    if (done.appliedTo > this.applied) {
      for (let i = Math.max(this.applied + 1, this.log.firstIndex()); i <= done.appliedTo; i++) {
        const entry = this.log.entryAt(i);
        if (entry.kind === "conf") this.applyConfEntry(entry);
      }
      this.applied = done.appliedTo;
    }
    // A snapshot that arrived after ready() is not applied yet; it comes in the next Ready.
    const appliedFloor = this.log.pendingSnapshot !== null ? this.applied : this.log.snapshotIndex();
    invariant(
      appliedFloor <= this.applied && this.applied <= this.log.committed && this.log.committed <= this.log.lastIndex(),
      () => `invariant snapshot ${this.log.snapshotIndex()} <= applied ${this.applied} <= commit ${this.log.committed} <= last ${this.log.lastIndex()} broken`,
    );
  }

  /** Role and leader, cheaply (status() builds the whole picture). */
  softState(): SoftState {
    return { role: this.role, leader: this.leader };
  }

  status(): Status {
    const progress: ProgressStatus[] = [];
    if (this.role === "leader") {
      for (const pr of this.progress.values()) {
        progress.push({
          id: pr.id,
          voter: pr.voter,
          match: pr.match,
          next: pr.next,
          state: pr.state,
          lastContactTicks: pr.id === this.id ? 0 : pr.lastContactTicks,
        });
      }
    }
    return {
      id: this.id,
      role: this.role,
      term: this.term,
      vote: this.vote,
      leader: this.leader,
      commit: this.log.committed,
      applied: this.applied,
      lastIndex: this.log.lastIndex(),
      snapshotIndex: this.log.snapshotIndex(),
      conf: this.confState(),
      transferee: this.transferee,
      progress,
    };
  }

  // ───────────────────────────── roles ─────────────────────────────

  private becomeFollower(term: number, leader: NodeId): void {
    if (term !== this.term) {
      invariant(term > this.term, "terms never go backwards");
      this.term = term;
      this.vote = NONE;
    }
    this.role = "follower";
    this.leader = leader;
    this.resetRoleState();
  }

  private becomeLeader(): void {
    invariant(this.role === "candidate", "only a candidate becomes leader");
    this.role = "leader";
    this.leader = this.id;
    this.resetRoleState();
    const last = this.log.lastIndex();
    for (const id of this.voters) this.progress.set(id, this.newProgress(id, true, last + 1));
    for (const id of this.learners) this.progress.set(id, this.newProgress(id, false, last + 1));
    const self = this.progress.get(this.id);
    invariant(self !== undefined, "a leader is a voter");
    self.match = this.log.stableIndex();
    self.becomeReplicate();
    self.recentActive = true;
    // A change proposed before our term may be in the log uncommitted; wait until it is
    // applied before accepting another (at most one pending change).
    this.pendingConfIndex = last;
    // The no-op lets us commit everything before our term (§5.4.2) and serve reads (§6.4).
    this.appendAsLeader("normal", EMPTY);
  }

  private resetRoleState(): void {
    this.electionElapsedTicks = 0;
    this.heartbeatElapsedTicks = 0;
    this.resetElectionTimer();
    this.votes.clear();
    this.progress.clear();
    this.transferee = NONE;
    this.uncommittedBytes = 0;
    this.needsBroadcast = false;
    this.pendingReads = [];
    this.readsBeforeTermCommit = [];
    this.reads.reset();
  }

  private resetElectionTimer(): void {
    this.randomizedElectionTimeoutTicks = this.electionTimeoutTicks + this.rng.nextInt(this.electionTimeoutTicks);
  }

  private isPromotable(): boolean {
    return this.voters.has(this.id);
  }

  /**
   * May this node start an election now? Only a voter, and not while a committed conf
   * entry waits to be applied: until then it would count votes against a configuration
   * the cluster has left (grown from 3 voters to 5, a node that had applied neither
   * addition won with 2 votes while the other 3 elected a leader of the same term).
   * And never past MAX_TERM, which no peer would accept.
   */
  private mayCampaign(): boolean {
    if (!this.isPromotable() || this.term >= MAX_TERM) return false;
    return this.faultCampaignWithUnappliedConf || !this.hasUnappliedConfChanges();
  }

  /** Is there a conf entry in (applied, committed]? The log holds them all in memory. */
  private hasUnappliedConfChanges(): boolean {
    const committed = this.log.committed;
    if (this.applied >= committed) return false;
    // Applied entries are in force already, and entries a pending snapshot covers are
    // not in the log (its configuration is in force too: handleSnapshot), so only
    // committed entries after both count; each is looked at once.
    const from = Math.max(this.confScannedTo, this.applied, this.log.snapshotIndex()) + 1;
    for (let i = from; i <= committed; i++) {
      if (this.log.entryAt(i).kind === "conf") this.lastCommittedConfIndex = i;
    }
    if (committed > this.confScannedTo) this.confScannedTo = committed;
    return this.lastCommittedConfIndex > this.applied;
  }

  private startElection(kind: "preVote" | "vote", transfer: boolean): void {
    if (kind === "preVote") {
      this.role = "preCandidate";
      this.leader = NONE;
      this.resetRoleState();
    } else {
      this.becomeFollower(this.term + 1, NONE);
      this.role = "candidate";
      this.vote = this.id;
    }
    this.votes.set(this.id, true);
    if (this.tallyVotes() === "won") {
      this.wonElection(kind);
      return;
    }
    const term = kind === "preVote" ? this.term + 1 : this.term;
    for (const id of this.voters) {
      if (id === this.id) continue;
      const m = this.message(kind, id);
      m.term = term;
      m.index = this.log.lastIndex();
      m.logTerm = this.log.lastTerm();
      m.context = transfer ? 1 : 0;
      this.send(m);
    }
  }

  private wonElection(kind: "preVote" | "vote"): void {
    if (kind === "preVote") this.startElection("vote", false);
    else this.becomeLeader();
  }

  private tallyVotes(): "won" | "lost" | "pending" {
    let granted = 0;
    let rejected = 0;
    for (const [id, vote] of this.votes) {
      if (!this.voters.has(id)) continue;
      if (vote) granted++;
      else rejected++;
    }
    const quorum = (this.voters.size >> 1) + 1;
    if (granted >= quorum) return "won";
    if (rejected >= quorum) return "lost";
    return "pending";
  }

  private handleVoteRequest(m: Message): void {
    const isPreVote = m.type === "preVote";
    // We may vote again for the same candidate (a retry), or for anyone when we have
    // neither voted nor followed a leader this term; a pre-vote for a later term is
    // answered on log recency alone.
    const canVote =
      this.vote === m.from || (this.vote === NONE && this.leader === NONE) || (isPreVote && m.term > this.term);
    const resp = this.message(isPreVote ? "preVoteResp" : "voteResp", m.from);
    if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {
      // Answer a pre-vote with the term it asked about, or the candidate drops it as stale.
      resp.term = m.term;
      if (!isPreVote) {
        this.vote = m.from;
        this.electionElapsedTicks = 0;
      }
    } else {
      resp.reject = true;
    }
    this.send(resp);
  }

  private stepCandidate(m: Message): void {
    switch (m.type) {
      case "app":
      case "heartbeat":
      case "snap":
        // Someone won this term (§5.2).
        this.becomeFollower(m.term, m.from);
        this.stepFollower(m);
        return;
      case "preVoteResp":
      case "voteResp": {
        const expected = this.role === "preCandidate" ? "preVoteResp" : "voteResp";
        if (m.type !== expected) return;
        this.votes.set(m.from, !m.reject);
        const outcome = this.tallyVotes();
        if (outcome === "won") this.wonElection(this.role === "preCandidate" ? "preVote" : "vote");
        else if (outcome === "lost") this.becomeFollower(this.term, NONE);
        return;
      }
      default:
        return;
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case "app":
        this.heardFromLeader(m.from);
        this.handleAppend(m);
        return;
      case "heartbeat":
        this.heardFromLeader(m.from);
        this.handleHeartbeat(m);
        return;
      case "snap":
        this.heardFromLeader(m.from);
        this.handleSnapshot(m);
        return;
      case "timeoutNow":
        // §3.10: the leader hands over; skip pre-vote and ignore leases. A forced
        // election is still an election: not while a conf entry awaits applying.
        if (this.mayCampaign()) this.startElection("vote", true);
        return;
      case "readIndexResp":
        this.readStates.push({ index: m.index, context: m.context });
        return;
      default:
        return;
    }
  }

  private heardFromLeader(from: NodeId): void {
    this.electionElapsedTicks = 0;
    this.leader = from;
  }

  // ─────────────────────────── follower work ───────────────────────────

  private handleAppend(m: Message): void {
    const resp = this.message("appResp", m.from);
    if (m.index < this.log.committed) {
      // Everything up to our commit is settled; tell the leader where we are.
      resp.index = this.log.committed;
      this.send(resp);
      return;
    }
    if (this.log.matchTerm(m.index, m.logTerm)) {
      const lastNew = this.log.mergeFromLeader(m.index, m.entries);
      // §5.3: we may only commit what we know matches the leader.
      this.log.commitTo(Math.min(m.commit, lastNew));
      resp.index = lastNew;
      this.send(resp);
      return;
    }
    // Conflict: hint the last index whose term could still match, so the leader can
    // skip a whole term per round trip instead of one entry.
    const hintIndex = this.log.findConflictByTerm(Math.min(m.index, this.log.lastIndex()), m.logTerm);
    resp.reject = true;
    resp.index = m.index;
    resp.rejectHint = hintIndex;
    resp.logTerm = this.log.term(hintIndex);
    this.send(resp);
  }

  private handleHeartbeat(m: Message): void {
    // The leader sends min(match, commit), which our log is known to hold.
    this.log.commitTo(m.commit);
    const resp = this.message("heartbeatResp", m.from);
    resp.context = m.context;
    this.send(resp);
  }

  private handleSnapshot(m: Message): void {
    const meta = m.snapshot;
    invariant(meta !== null, "snap message without a snapshot");
    const resp = this.message("appResp", m.from);
    if (meta.index <= this.log.committed) {
      resp.index = this.log.committed;
    } else if (this.log.matchTerm(meta.index, meta.term)) {
      // We already hold the snapshot's last entry: fast-forward instead of reinstalling.
      this.log.commitTo(meta.index);
      resp.index = meta.index;
    } else {
      this.log.restore(meta);
      this.setConf(meta.conf);
      resp.index = meta.index;
    }
    this.send(resp);
  }

  // ─────────────────────────── leader work ───────────────────────────

  private tickLeader(): void {
    this.heartbeatElapsedTicks++;
    this.electionElapsedTicks++;
    for (const pr of this.progress.values()) {
      if (pr.id === this.id) continue;
      pr.lastContactTicks++;
      if (pr.state === "snapshot" && ++pr.snapshotElapsedTicks >= this.snapshotTimeoutTicks) {
        // The snapshot (or its answer) was lost: probe again, which sends a new one.
        pr.next = pr.match + 1;
        pr.state = "probe";
        pr.probeSent = false;
        this.needsBroadcast = true;
      }
    }
    if (this.electionElapsedTicks >= this.electionTimeoutTicks) {
      this.electionElapsedTicks = 0;
      if (this.checkQuorum && !this.quorumActive()) {
        this.becomeFollower(this.term, NONE);
        return;
      }
    }
    // A transfer that did not finish within an election timeout is abandoned.
    if (this.transferee !== NONE && ++this.transferElapsedTicks >= this.electionTimeoutTicks) {
      this.transferee = NONE;
    }
    if (this.heartbeatElapsedTicks >= this.heartbeatIntervalTicks) {
      this.heartbeatElapsedTicks = 0;
      this.broadcastHeartbeat(this.reads.sentRound());
    }
    if (this.deferCommitUpdates) this.sendCommitUpdates();
  }

  /**
   * A member's answer that no correct member could send to this leader in this term:
   * an ack or rejection beyond our last index (we never sent anything past it, and our
   * log does not shrink while we lead), a rejection hinting past the index it rejects,
   * or a heartbeat answer for a read round we never broadcast. Acting on one would move
   * match past our log (two such acks once froze every write) or confirm reads no
   * quorum confirmed.
   */
  private impossibleAck(m: Message): boolean {
    switch (m.type) {
      case "appResp":
        return m.index > this.log.lastIndex() || (m.reject && m.rejectHint > m.index);
      case "heartbeatResp":
        return m.context > this.reads.sentRound();
      default:
        return false;
    }
  }

  private quorumActive(): boolean {
    let active = 0;
    for (const pr of this.progress.values()) {
      if (!pr.voter) continue;
      if (pr.id === this.id || pr.recentActive) active++;
      if (pr.id !== this.id) pr.recentActive = false;
    }
    return active >= (this.voters.size >> 1) + 1;
  }

  private stepLeader(m: Message): void {
    const pr = this.progress.get(m.from);
    if (m.type === "readIndex") {
      if (pr !== undefined) this.leaderRead(m.context, m.from);
      return;
    }
    if (pr === undefined) return; // not a member (any more)
    if (!this.faultTrustImpossibleMessages && this.impossibleAck(m)) return;
    pr.recentActive = true;
    pr.lastContactTicks = 0;
    switch (m.type) {
      case "appResp":
        this.handleAppendResponse(pr, m);
        return;
      case "heartbeatResp":
        if (m.context > pr.ackedReadRound) pr.ackedReadRound = m.context;
        // A probe may have been lost; the follower is alive, so try again.
        if (pr.state === "probe") pr.probeSent = false;
        if (pr.match < this.log.lastIndex()) {
          this.needsBroadcast = true;
          // A probe past our last entry (a new learner's optimistic next) sends no
          // entries, so the broadcast skips it: probe with an empty append at next - 1,
          // whose rejection tells us where the follower's log ends. Without this a
          // joiner whose first probe was lost heard only heartbeats, forever.
          if (pr.state === "probe" && pr.next > this.log.lastIndex()) this.sendAppend(pr);
          if (pr.state === "replicate") {
            // The follower is alive but the window is full: appends or their answers
            // were lost. Free a slot so one more append goes out; if the follower
            // lacks what came before it, its rejection sends us back to probing (§5.3:
            // retry indefinitely).
            if (pr.inflights.full()) pr.inflights.freeFirstOne();
            // Everything was sent but not all acknowledged: an empty append at next-1
            // makes the follower tell us where it stands.
            if (pr.next > this.log.lastIndex()) this.sendAppend(pr);
          }
        }
        this.releaseReads();
        return;
      default:
        return;
    }
  }

  private handleAppendResponse(pr: Progress, m: Message): void {
    if (m.reject) {
      if (pr.state === "snapshot") return;
      // Use the follower's hint (its term at rejectHint) to skip past a whole
      // conflicting term of ours.
      const next = m.logTerm > 0 ? this.log.findConflictByTerm(m.rejectHint, m.logTerm) : m.rejectHint;
      if (pr.maybeDecrease(m.index, next)) {
        if (pr.state === "replicate") pr.becomeProbe();
        this.needsBroadcast = true;
      }
      return;
    }
    const wasPaused = pr.paused();
    // In probe, an ack at match is news too: the logs agree up to match, which is all
    // replicate needs. Without this a probing follower waits, paused, for the next
    // heartbeat answer before anything more is sent to it.
    const probeAgrees = pr.state === "probe" && m.index === pr.match && !this.faultProbeIgnoresEqualAck;
    if (pr.maybeUpdate(m.index) || probeAgrees) {
      if (pr.state === "probe") pr.becomeReplicate();
      else if (pr.state === "snapshot" && pr.match >= pr.pendingSnapshot) pr.becomeReplicate();
      else pr.inflights.freeLE(m.index);
      this.maybeCommit();
      if (pr.id === this.transferee && pr.match === this.log.lastIndex()) {
        this.send(this.message("timeoutNow", pr.id));
      }
    }
    if (wasPaused || pr.next <= this.log.lastIndex()) this.needsBroadcast = true;
  }

  private appendAsLeader(kind: Entry["kind"], data: Uint8Array): { index: number; term: number } {
    const entry: Entry = { index: this.log.lastIndex() + 1, term: this.term, kind, data };
    this.log.append(entry);
    this.uncommittedBytes += data.length;
    this.progressOf(this.id).next = entry.index + 1;
    this.needsBroadcast = true;
    return { index: entry.index, term: entry.term };
  }

  private proposalRefusal(bytes: number): RaftError | null {
    if (this.role !== "leader") {
      return new RaftError("not_leader", `node ${this.id} is not the leader (leader: ${this.leader || "unknown"})`);
    }
    if (this.transferee !== NONE) {
      return new RaftError("transfer_in_progress", `leadership is moving to node ${this.transferee}`);
    }
    if (this.uncommittedBytes > 0 && this.uncommittedBytes + bytes > this.maxUncommittedBytes) {
      return new RaftError(
        "uncommitted_limit",
        `${this.uncommittedBytes} bytes are uncommitted; the limit is ${this.maxUncommittedBytes}`,
      );
    }
    return null;
  }

  /** Commit the highest index a quorum of voters holds, if it is of our term (§5.4.2). */
  private maybeCommit(): boolean {
    const matches = this.matchScratch;
    matches.length = 0;
    for (const pr of this.progress.values()) if (pr.voter) matches.push(pr.match);
    if (matches.length === 0) return false;
    matches.sort((a, b) => b - a);
    const candidate = matches[(this.voters.size >> 1)]!;
    if (candidate <= this.log.committed) return false;
    // Counting replicas is only safe for entries of the current term; an older entry
    // commits only beneath one of ours (Figure 8).
    if (this.log.term(candidate) !== this.term && !this.faultCommitPreviousTerm) return false;
    for (let i = this.log.committed + 1; i <= candidate; i++) {
      this.uncommittedBytes -= this.log.entryAt(i).data.length;
    }
    if (this.uncommittedBytes < 0) this.uncommittedBytes = 0;
    this.log.commitTo(candidate);
    this.needsBroadcast = true;
    if (this.readsBeforeTermCommit.length > 0 && this.log.term(this.log.committed) === this.term) {
      const waiting = this.readsBeforeTermCommit;
      this.readsBeforeTermCommit = [];
      for (const read of waiting) this.leaderRead(read.context, read.from);
    }
    return true;
  }

  /** Send what each follower is missing, and a new commit index unless that is deferred. */
  private flushLeaderSends(): void {
    if (this.reads.hasUnsentRound()) {
      this.broadcastHeartbeat(this.reads.markSent());
    }
    if (!this.needsBroadcast) return;
    this.needsBroadcast = false;
    for (const pr of this.progress.values()) {
      if (pr.id === this.id || pr.state === "snapshot") continue;
      while (!pr.paused() && pr.next <= this.log.lastIndex()) {
        if (!this.sendAppend(pr)) break;
      }
    }
    if (!this.deferCommitUpdates) this.sendCommitUpdates();
  }

  /** Tell followers that have everything about a commit index they have not seen. */
  private sendCommitUpdates(): void {
    for (const pr of this.progress.values()) {
      if (pr.id === this.id || pr.state === "snapshot" || pr.paused()) continue;
      if (pr.sentCommit < this.log.committed && pr.next > this.log.lastIndex()) this.sendAppend(pr);
    }
  }

  /** Returns false when the follower needs a snapshot instead. */
  private sendAppend(pr: Progress): boolean {
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    if (prevTerm === -1) {
      this.sendSnapshot(pr);
      return false;
    }
    const m = this.message("app", pr.id);
    m.index = prevIndex;
    m.logTerm = prevTerm;
    m.commit = this.log.committed;
    if (pr.next <= this.log.lastIndex()) {
      m.entries = this.log.slice(pr.next, this.log.lastIndex(), this.maxMsgBytes);
    }
    pr.sentCommit = m.commit;
    const n = m.entries.length;
    if (pr.state === "replicate" && n > 0) {
      let bytes = 0;
      for (let i = 0; i < n; i++) bytes += m.entries[i]!.data.length;
      const last = m.entries[n - 1]!.index;
      pr.next = last + 1;
      pr.inflights.add(last, bytes);
    } else if (pr.state === "probe") {
      pr.probeSent = true;
    }
    this.send(m);
    return true;
  }

  private sendSnapshot(pr: Progress): void {
    const snapshot = this.log.snapshot;
    invariant(snapshot !== null, () => `node ${pr.id} needs compacted entries but there is no snapshot`);
    pr.becomeSnapshot(snapshot.index);
    const m = this.message("snap", pr.id);
    m.snapshot = snapshot;
    this.send(m);
  }

  private broadcastHeartbeat(round: number): void {
    for (const pr of this.progress.values()) {
      if (pr.id === this.id) continue;
      const m = this.message("heartbeat", pr.id);
      // Only what the follower is known to hold; it may commit this blindly.
      m.commit = Math.min(pr.match, this.log.committed);
      m.context = round;
      this.send(m);
    }
  }

  /** §6.4: a read is linearizable at the commit index once a quorum confirms we still lead. */
  private leaderRead(context: number, from: NodeId): void {
    if (this.log.term(this.log.committed) !== this.term) {
      // Until our no-op commits we do not know the true commit index.
      this.readsBeforeTermCommit.push({ context, from });
      return;
    }
    const index = this.log.committed;
    if (this.voters.size === 1) {
      this.answerRead(index, context, from);
      return;
    }
    this.pendingReads.push({ index, context, from, round: this.reads.roundForNewRead() });
  }

  private releaseReads(): void {
    if (this.pendingReads.length === 0) return;
    const rounds = this.matchScratch;
    rounds.length = 0;
    for (const pr of this.progress.values()) {
      if (!pr.voter) continue;
      rounds.push(pr.id === this.id ? this.reads.latestRound() : pr.ackedReadRound);
    }
    rounds.sort((a, b) => b - a);
    const confirmed = rounds[this.voters.size >> 1] ?? 0;
    let released = 0;
    while (released < this.pendingReads.length && this.pendingReads[released]!.round <= confirmed) {
      const read = this.pendingReads[released]!;
      this.answerRead(read.index, read.context, read.from);
      released++;
    }
    if (released > 0) this.pendingReads.splice(0, released);
  }

  private answerRead(index: number, context: number, from: NodeId): void {
    if (from === this.id) {
      this.readStates.push({ index, context });
      return;
    }
    const m = this.message("readIndexResp", from);
    m.index = index;
    m.context = context;
    this.send(m);
  }

  // ─────────────────────────── membership ───────────────────────────

  private validateConfChange(change: ConfChange): RaftError | null {
    const { type, nodeId } = change;
    const isVoter = this.voters.has(nodeId);
    const isLearner = this.learners.has(nodeId);
    switch (type) {
      case "addVoter":
        if (isVoter) return new RaftError("invalid_conf_change", `node ${nodeId} is already a voter`);
        if (isLearner && this.progressOf(nodeId).match < this.log.committed) {
          return new RaftError("learner_not_caught_up", `learner ${nodeId} has not caught up with the log`);
        }
        return null;
      case "addLearner":
        if (isVoter || isLearner) return new RaftError("invalid_conf_change", `node ${nodeId} is already a member`);
        return null;
      case "removeNode":
        if (!isVoter && !isLearner) return new RaftError("invalid_conf_change", `node ${nodeId} is not a member`);
        if (isVoter && this.voters.size === 1) return new RaftError("invalid_conf_change", "cannot remove the last voter");
        return null;
    }
  }

  private applyConfEntry(entry: Entry): void {
    this.setConf(confAfter({ voters: [...this.voters], learners: [...this.learners] }, entry.data));
  }

  private setConf(conf: ConfState): void {
    this.voters = new Set(conf.voters);
    this.learners = new Set(conf.learners);
    if (this.role !== "leader") return;
    if (!this.voters.has(this.id)) {
      // A removed leader steps down; the rest elect a leader among themselves.
      this.becomeFollower(this.term, NONE);
      return;
    }
    for (const id of [...this.progress.keys()]) {
      if (!this.voters.has(id) && !this.learners.has(id)) this.progress.delete(id);
    }
    for (const id of [...this.voters, ...this.learners]) {
      const pr = this.progress.get(id);
      if (pr === undefined) this.progress.set(id, this.newProgress(id, this.voters.has(id), this.log.lastIndex() + 1));
      else pr.voter = this.voters.has(id);
    }
    if (this.transferee !== NONE && !this.voters.has(this.transferee)) this.transferee = NONE;
    // A smaller quorum may commit more; a new member needs entries.
    this.maybeCommit();
    this.needsBroadcast = true;
  }

  private confState(): ConfState {
    return { voters: [...this.voters].sort((a, b) => a - b), learners: [...this.learners].sort((a, b) => a - b) };
  }

  // ───────────────────────────── helpers ─────────────────────────────

  private newProgress(id: NodeId, voter: boolean, next: number): Progress {
    return new Progress(id, voter, next, this.maxInflightMsgs, this.maxInflightBytes);
  }

  private progressOf(id: NodeId): Progress {
    const pr = this.progress.get(id);
    invariant(pr !== undefined, () => `no progress for node ${id}`);
    return pr;
  }

  private message(type: MessageType, to: NodeId): Message {
    return blankMessage(type, this.id, to, this.term);
  }


  private send(m: Message): void {
    const durable = waitsForPersist(m.type) && !(this.faultVoteBeforePersist && m.type === "voteResp");
    if (durable) this.msgsAfterPersist.push(m);
    else this.msgs.push(m);
  }

  private hardStateChanged(): boolean {
    const prev = this.prevHardState;
    return prev.term !== this.term || prev.vote !== this.vote || prev.commit !== this.log.committed;
  }

  private softStateChanged(): boolean {
    return this.prevSoftState.role !== this.role || this.prevSoftState.leader !== this.leader;
  }
}
