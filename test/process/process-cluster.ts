// The process tests use the harness's cluster of real processes.
export { LocalCluster as ProcessCluster, type ClusterView } from "../../harness/cluster/local-cluster.ts";
