import { inboxRoot, type NatsPermissions } from "../../src/transport/subjects.ts";

/**
 * A test-only identity that uses the same bus for something else: it may publish and
 * subscribe anything except the cluster's subjects and its identities' inboxes. It
 * exists only in the nats-servers tests start (never in `cluster up`'s configuration).
 */
export function intruderPermissions(cluster: string): NatsPermissions {
  const cluster_ = [`concord.${cluster}.>`, `${inboxRoot(cluster)}.>`];
  return { publish: [">"], subscribe: [">"], publishDeny: cluster_, subscribeDeny: cluster_, allowResponses: false };
}
