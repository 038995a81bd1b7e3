/**
 * The steps of the harness scenario language (see shared/design/HARNESS.md).
 *
 * One step per line; `#` starts a comment that runs to the end of the line (except inside
 * the quoted text of `say`). Syntax of every step, as accepted by `parseStep`:
 *
 *   cluster N [--machines 1,2 | 3,4,5]   start N nodes; --machines gives the node ids each
 *                                        machine hosts (groups must cover 1..N exactly once)
 *   fail T        / kill T               SIGKILL; T is `leader` or a node list `2` / `2,3`
 *   stop T                               graceful stop
 *   pause T       / resume L             SIGSTOP / SIGCONT  (L: node list only, no `leader`)
 *   restart L                            start again on existing data, e.g. `restart 2,3,4`
 *   partition 1,2 | 3,4,5                two or more disjoint, non-empty groups
 *   cut 1 -> 2    / cut 1,2 -> 3,4       ONE-WAY cut: traffic from the left nodes to the
 *                                        right nodes is dropped; the reverse still flows.
 *                                        The two sides must be disjoint.
 *   isolate T                            cut a node off from every other node (both ways)
 *   heal                                 remove every partition, cut and isolation
 *   add N / remove N / transfer N        membership change / leadership transfer to N
 *   wait leader   / wait 2s              durations: integer or decimal + `ms`, `s` or `m`
 *   workload COUNT [--clients C] [--deadline D] [--background]
 *                                        --background: the next steps run while it does
 *                                        (faults under load); `expect`, `check` and the
 *                                        next workload wait for it to finish
 *   expect ok     / expect unavailable   the last workload's outcome
 *   check                                run the history checkers
 *   status                               print the live table
 *   say "text"                           narration for demos; escapes: \" \\ \n \t
 *
 * Node ids are 1..64. Lists must not repeat an id.
 */

export const MIN_NODE_ID = 1;
export const MAX_NODE_ID = 64;
export const MAX_DURATION_MS = 3_600_000;
export const MAX_WORKLOAD_COUNT = 10_000_000;
export const MAX_CLIENTS = 4096;

export type NodeId = number;

/** A set of nodes given by id, or whichever node leads at the time the step runs. */
export type Target = "leader" | readonly NodeId[];

export type ClusterStep = {
  readonly kind: "cluster";
  readonly nodes: number;
  /** Node ids per machine, in machine order; absent means everything on this machine. */
  readonly machines?: readonly (readonly NodeId[])[];
};
export type FailStep = { readonly kind: "fail"; readonly target: Target };
export type KillStep = { readonly kind: "kill"; readonly target: Target };
export type StopStep = { readonly kind: "stop"; readonly target: Target };
export type PauseStep = { readonly kind: "pause"; readonly target: Target };
export type ResumeStep = { readonly kind: "resume"; readonly nodes: readonly NodeId[] };
export type RestartStep = { readonly kind: "restart"; readonly nodes: readonly NodeId[] };
export type PartitionStep = {
  readonly kind: "partition";
  readonly groups: readonly (readonly NodeId[])[];
};
/** One-way: messages from `from` to `to` are dropped. */
export type CutStep = {
  readonly kind: "cut";
  readonly from: readonly NodeId[];
  readonly to: readonly NodeId[];
};
export type IsolateStep = { readonly kind: "isolate"; readonly target: Target };
export type HealStep = { readonly kind: "heal" };
export type AddStep = { readonly kind: "add"; readonly node: NodeId };
export type RemoveStep = { readonly kind: "remove"; readonly node: NodeId };
export type TransferStep = { readonly kind: "transfer"; readonly node: NodeId };
export type WaitLeaderStep = { readonly kind: "wait-leader" };
export type WaitStep = { readonly kind: "wait"; readonly ms: number };
export type WorkloadStep = {
  readonly kind: "workload";
  readonly count: number;
  readonly clients?: number;
  readonly deadlineMs?: number;
  /** Run while the following steps do; `expect`, `check` and the next workload wait for it. */
  readonly background?: boolean;
};
export type Outcome = "ok" | "unavailable";
export type ExpectStep = { readonly kind: "expect"; readonly outcome: Outcome };
export type CheckStep = { readonly kind: "check" };
export type StatusStep = { readonly kind: "status" };
export type SayStep = { readonly kind: "say"; readonly text: string };

export type Step =
  | ClusterStep
  | FailStep
  | KillStep
  | StopStep
  | PauseStep
  | ResumeStep
  | RestartStep
  | PartitionStep
  | CutStep
  | IsolateStep
  | HealStep
  | AddStep
  | RemoveStep
  | TransferStep
  | WaitLeaderStep
  | WaitStep
  | WorkloadStep
  | ExpectStep
  | CheckStep
  | StatusStep
  | SayStep;

export type StepKind = Step["kind"];

/** A step together with where it was written, for error reports while running. */
export type LocatedStep = {
  readonly step: Step;
  readonly file: string;
  readonly line: number;
};

/** Error codes of ScenarioSyntaxError. */
export type SyntaxErrorCode =
  | "empty-step"
  | "unknown-step"
  | "expected-node"
  | "node-out-of-range"
  | "duplicate-node"
  | "expected-count"
  | "count-out-of-range"
  | "expected-duration"
  | "duration-out-of-range"
  | "expected-outcome"
  | "expected-string"
  | "unterminated-string"
  | "bad-escape"
  | "unknown-option"
  | "duplicate-option"
  | "partition-empty-group"
  | "partition-overlap"
  | "partition-too-few-groups"
  | "cut-overlap"
  | "expected-arrow"
  | "machines-mismatch"
  | "trailing-input";

export class ScenarioSyntaxError extends Error {
  override readonly name = "ScenarioSyntaxError";
  constructor(
    readonly code: SyntaxErrorCode,
    readonly file: string,
    readonly line: number,
    readonly column: number,
    readonly detail: string,
  ) {
    super(`${file}:${line}:${column}: ${detail} [${code}]`);
  }
}
