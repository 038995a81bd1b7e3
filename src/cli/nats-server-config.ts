import type { NatsPermissions } from "../transport/subjects.ts";

// nats-server's configuration file for a Concord cluster, in one place: what
// `NatsServer.start` (cluster up, the harness, tests, the two-machine demo) writes before
// it launches a server, and what `concord init` writes for an operator to install on each
// machine. One user per nkey identity with its permissions (subjects.ts); no anonymous
// access; with routes, a route user whose password the accepting side keeps only as a
// bcrypt hash; with TLS, client connections and routes over TLS (routes verified both
// ways against the cluster's CA). No cluster identity gets `allow_responses` (it would
// let a member publish anywhere as a "response"; subjects.ts): replies are ordinary
// publishes that each identity's permissions allow.

/** PEM files for TLS: client connections and routes (see tls-bundle.ts). */
export interface NatsTlsFiles {
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
}

export interface NatsConfigUser {
  /** The nkey public key ("U…"). */
  readonly publicKey: string;
  readonly permissions: NatsPermissions;
}

export interface NatsServerConfigInput {
  readonly cluster: string;
  /** Where clients connect: `host:port` (never 0.0.0.0 for more than one machine). */
  readonly host: string;
  readonly port: number;
  readonly maxPayloadBytes?: number;
  readonly users: readonly NatsConfigUser[];
  readonly tls?: NatsTlsFiles;
  /** Route listener port, the other servers' `host:port`, and the route secret itself. */
  readonly routes?: { readonly port: number; readonly peers: readonly string[]; readonly secret: string };
}

export const DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024;

/** The configuration file's text. Async: the route secret is bcrypt-hashed for the accepting side. */
export async function natsServerConfig(input: NatsServerConfigInput): Promise<string> {
  const { cluster, host, tls, routes } = input;
  const tlsBlock = (verify: boolean) =>
    tls === undefined ? [] : [`  tls { cert_file: ${q(tls.certFile)}, key_file: ${q(tls.keyFile)}, ca_file: ${q(tls.caFile)}, verify: ${verify}, timeout: 3 }`];
  let clusterBlock: string[] = [];
  if (routes !== undefined) {
    // The accepting side keeps only a bcrypt hash; the dialing side needs the secret itself.
    const hash = await Bun.password.hash(routes.secret, { algorithm: "bcrypt", cost: 10 });
    clusterBlock = [
      "cluster {",
      `  name: ${q(cluster)}`,
      `  listen: ${q(`${host}:${routes.port}`)}`,
      ...tlsBlock(true),
      `  authorization { user: "route", password: ${q(hash)}, timeout: 3 }`,
      `  routes: [${routes.peers.map((p) => q(`nats-route://route:${encodeURIComponent(routes.secret)}@${p}`)).join(", ")}]`,
      // Clients are not told of the other machines' servers: each node talks to its own.
      "  no_advertise: true",
      "}",
    ];
  }
  return [
    `listen: ${q(`${host}:${input.port}`)}`,
    ...(tls === undefined ? [] : tlsBlock(false).map((line) => line.trimStart())),
    ...clusterBlock,
    `max_payload: ${input.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES}`,
    // No user, no connection: there is no anonymous access (no no_auth_user).
    "authorization {",
    "  users = [",
    ...input.users.map((user) => userEntry(user.publicKey, user.permissions)),
    "  ]",
    "}",
    "",
  ].join("\n");
}

/** A quoted string in nats-server's configuration syntax. */
function q(text: string): string {
  return JSON.stringify(text);
}

function userEntry(publicKey: string, p: NatsPermissions): string {
  const rule = (allow: readonly string[], deny: readonly string[] = []) =>
    allow.length === 0 ? `{ deny: [">"] }` : `{ allow: ${JSON.stringify(allow)}${deny.length > 0 ? `, deny: ${JSON.stringify(deny)}` : ""} }`;
  return `    { nkey: ${q(publicKey)}, permissions: { publish: ${rule(p.publish, p.publishDeny)}, subscribe: ${rule(p.subscribe, p.subscribeDeny)}${p.allowResponses ? ", allow_responses: true" : ""} } }`;
}
