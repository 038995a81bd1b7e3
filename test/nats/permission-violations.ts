// What a test that plays a NATS client outside the rules needs: the violations the server
// reports to that client, as they come, and a raw connection as a node's identity.

import { type NatsConnection, PermissionViolationError, connect, nkeyAuthenticator } from "@nats-io/transport-node";
import { readNatsIdentity } from "../../src/transport/nats-identity.ts";
import { inboxPrefix } from "../../src/transport/subjects.ts";
import { Signal } from "./events.ts";

/** The permission violations the server reports to `nc`: [operation, subject] pairs, and a signal per report. */
export function permissionViolations(nc: NatsConnection): { readonly seen: [string, string][]; readonly signal: Signal } {
  const seen: [string, string][] = [];
  const signal = new Signal();
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === "error" && status.error instanceof PermissionViolationError) {
        seen.push([status.error.operation, status.error.subject]);
        signal.notify();
      }
    }
  })();
  return { seen, signal };
}

/** A raw connection with node `id`'s identity (its seed file): what an attacker holding a copy could do. */
export function connectAsNode(url: string, identityFile: string, cluster: string, id: number): Promise<NatsConnection> {
  return connect({ servers: url, authenticator: nkeyAuthenticator(readNatsIdentity(identityFile).seed), inboxPrefix: inboxPrefix(cluster, id) });
}
