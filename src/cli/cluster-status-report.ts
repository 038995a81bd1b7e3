// `concord cluster status` and `members`: every endpoint asked for its own view at once,
// then one table (or JSON document). The lag is measured against the leader's commit,
// since a follower's own commit index can itself be behind.
import type { ClusterMember, ClusterStatus } from "../client/api-types.ts";
import type { ConcordClient } from "../client/concord-client.ts";
import { ConcordError } from "../client/concord-error.ts";
import { formatTable } from "./text-table.ts";

export type NodeReport =
  | { readonly address: string; readonly up: true; readonly status: ClusterStatus }
  | { readonly address: string; readonly up: false; readonly error: { readonly code: string; readonly message: string } };

export interface ClusterReport {
  readonly nodes: readonly NodeReport[];
  /** The view of the leader with the highest term among those that answered; null when none leads. */
  readonly leader: ClusterStatus | null;
}

/** One GET /v1/cluster per endpoint, in parallel; a node that does not answer is reported down. */
export async function gatherClusterReport(client: ConcordClient): Promise<ClusterReport> {
  const nodes = await Promise.all(
    client.nodes.map(async (address): Promise<NodeReport> => {
      try {
        return { address, up: true, status: await client.cluster({ node: address }) };
      } catch (error) {
        if (!(error instanceof ConcordError)) throw error;
        return { address, up: false, error: { code: error.code, message: error.message } };
      }
    }),
  );
  const leaders = nodes.flatMap((n) => (n.up && n.status.role === "leader" ? [n.status] : []));
  const leader = leaders.sort((a, b) => b.term - a.term)[0] ?? null;
  return { nodes, leader };
}

/** The freshest membership known: the leader's, else that of the node with the highest term; null when none answered. */
export function membershipView(report: ClusterReport): ClusterStatus | null {
  if (report.leader !== null) return report.leader;
  const up = report.nodes.flatMap((n) => (n.up ? [n.status] : []));
  return up.sort((a, b) => b.term - a.term)[0] ?? null;
}

function lagOf(report: ClusterReport, status: ClusterStatus): number | null {
  return report.leader === null ? null : Math.max(0, report.leader.commitIndex - status.appliedIndex);
}

/** true: a voter, false: a learner, null: not in the configuration (joining, or removed and still running). */
function votes(report: ClusterReport, id: number): boolean | null {
  return membershipView(report)?.members.find((m) => m.id === id)?.voter ?? null;
}

/** Members the freshest view names that no endpoint answered for (down, or not among --endpoints). */
function silentMembers(report: ClusterReport): number[] {
  const answered = new Set(report.nodes.flatMap((n) => (n.up ? [n.status.nodeId] : [])));
  return (membershipView(report)?.members ?? []).map((m) => m.id).filter((id) => !answered.has(id));
}

export function statusJson(report: ClusterReport): unknown {
  return {
    leader: report.leader?.nodeId ?? null,
    term: report.leader?.term ?? null,
    nodes: report.nodes.map((n) =>
      n.up
        ? {
            address: n.address,
            up: true,
            id: n.status.nodeId,
            role: n.status.role,
            voter: votes(report, n.status.nodeId),
            term: n.status.term,
            leader: n.status.leader,
            commitIndex: n.status.commitIndex,
            appliedIndex: n.status.appliedIndex,
            lag: lagOf(report, n.status),
            snapshotIndex: n.status.snapshotIndex,
            lastIndex: n.status.lastIndex,
          }
        : { address: n.address, up: false, error: n.error },
    ),
    silentMembers: silentMembers(report),
  };
}

export function statusTable(report: ClusterReport): string {
  const dash = "-";
  const rows = report.nodes.map((n) => {
    if (!n.up) return [dash, n.address, "down", dash, dash, dash, dash, dash, dash, `${n.error.message} (${n.error.code})`];
    const s = n.status;
    const voter = votes(report, s.nodeId);
    const role = voter === null ? `${s.role} (not a member)` : voter ? s.role : "learner";
    const lag = lagOf(report, s);
    return [String(s.nodeId), n.address, role, String(s.term), s.leader === null ? dash : String(s.leader), String(s.commitIndex), String(s.appliedIndex), lag === null ? dash : String(lag), String(s.snapshotIndex), ""];
  });
  const table = formatTable(rows, ["ID", "ADDRESS", "ROLE", "TERM", "LEADER", "COMMIT", "APPLIED", "LAG", "SNAPSHOT", ""]);
  const leader = report.leader === null ? "no leader among the nodes that answered" : `leader: node ${report.leader.nodeId} (term ${report.leader.term})`;
  const silent = silentMembers(report);
  return `${table}${leader}${silent.length > 0 ? `; members not answering here: ${silent.join(", ")}` : ""}\n`;
}

function addressOf(report: ClusterReport, id: number): string | null {
  const found = report.nodes.find((n) => n.up && n.status.nodeId === id);
  return found?.address ?? null;
}

export function membersJson(report: ClusterReport, view: ClusterStatus): unknown {
  return {
    leader: report.leader?.nodeId ?? null,
    term: view.term,
    /** Whose view this is: the leader's, or (no leader) the node with the highest term. */
    seenBy: view.nodeId,
    voters: view.members.filter((m) => m.voter).map((m) => m.id),
    learners: view.members.filter((m) => !m.voter).map((m) => m.id),
    members: view.members.map((m: ClusterMember) => ({ id: m.id, voter: m.voter, address: addressOf(report, m.id), matchIndex: m.matchIndex, lastContactMs: m.lastContactMs })),
  };
}

export function membersTable(report: ClusterReport, view: ClusterStatus): string {
  const dash = "-";
  const rows = view.members.map((m) => [
    String(m.id),
    m.voter ? (m.id === report.leader?.nodeId ? "voter (leader)" : "voter") : "learner",
    addressOf(report, m.id) ?? dash,
    m.matchIndex === null ? dash : String(m.matchIndex),
    m.lastContactMs === null ? dash : `${Math.round(m.lastContactMs)} ms`,
  ]);
  const seen = report.leader === null ? `no leader answered: node ${view.nodeId}'s view (term ${view.term})` : `as leader node ${view.nodeId} sees it (term ${view.term})`;
  return `${formatTable(rows, ["ID", "ROLE", "ADDRESS", "MATCH", "LAST CONTACT"])}${seen}\n`;
}
