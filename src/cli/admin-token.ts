// Where the operator CLI finds the cluster's admin token. Never on the command line (any
// local user reads /proc/<pid>/cmdline, README "Trust"): a 0600 file, or the environment.
import { join } from "node:path";
import { ConcordError } from "../client/concord-error.ts";
import { readSecretFile, SecretFileError } from "../transport/nats-identity.ts";

/** `cluster up` writes the token here, in its data directory (default ./data). */
export const DEFAULT_DATA_DIR = "./data";

export type AdminTokenSource =
  | { readonly from: "file"; readonly path: string; readonly origin: string }
  | { readonly from: "env"; readonly origin: "env CONCORD_ADMIN_TOKEN" };

/**
 * The first of: --token-file, --data DIR (DIR/admin-token), env CONCORD_ADMIN_TOKEN_FILE,
 * env CONCORD_ADMIN_TOKEN, ./data/admin-token. Flags beat the environment, as for nodes.
 */
export function adminTokenSource(flags: { readonly tokenFile: string | null; readonly dataDir: string | null }, env: Readonly<Record<string, string | undefined>>): AdminTokenSource {
  if (flags.tokenFile !== null) return { from: "file", path: flags.tokenFile, origin: "--token-file" };
  if (flags.dataDir !== null) return { from: "file", path: join(flags.dataDir, "admin-token"), origin: "--data" };
  const file = env["CONCORD_ADMIN_TOKEN_FILE"];
  if (file !== undefined && file !== "") return { from: "file", path: file, origin: "env CONCORD_ADMIN_TOKEN_FILE" };
  if (env["CONCORD_ADMIN_TOKEN"] !== undefined) return { from: "env", origin: "env CONCORD_ADMIN_TOKEN" };
  return { from: "file", path: join(DEFAULT_DATA_DIR, "admin-token"), origin: "the default data directory" };
}

/**
 * The token itself. No token is "not authorized" (admin_token_missing, exit 5); a token file
 * others may read is refused like a node refuses it (secret_exposed, exit 3): whoever can
 * read it can change the cluster's membership.
 */
export function readAdminToken(source: AdminTokenSource, env: Readonly<Record<string, string | undefined>>): string {
  const hint = "start the cluster with 'concord cluster up' (it writes DATA/admin-token), or pass --data DIR, --token-file FILE or env CONCORD_ADMIN_TOKEN";
  if (source.from === "env") {
    const token = (env["CONCORD_ADMIN_TOKEN"] ?? "").trim();
    if (token === "") throw new ConcordError("admin_token_missing", `env CONCORD_ADMIN_TOKEN is empty: ${hint}`);
    return token;
  }
  try {
    return readSecretFile(source.path, "admin token");
  } catch (error) {
    if (error instanceof SecretFileError && error.code === "secret_missing") {
      throw new ConcordError("admin_token_missing", `no admin token at ${source.path} (${source.origin}): ${hint}`);
    }
    throw error;
  }
}
