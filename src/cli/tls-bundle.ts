import { randomBytes, X509Certificate } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { isIP } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { readSecretFile, writeSecretFile } from "../transport/nats-identity.ts";

// What two machines share so that their nats-servers trust each other and nobody else:
// a certificate authority made for this cluster, one certificate per machine (its IP in
// the subject alternative name, for serving and for dialing routes), a route secret and
// the cluster's admin token. `concord setup tls` writes one directory per machine; each
// machine keeps only its own (its private key never leaves it once copied). The CA's
// private key is thrown away after signing: nothing else can ever be signed by it.
//
//   <out>/machine-N/ca.pem        the cluster CA (public)
//   <out>/machine-N/cert.pem      machine N's certificate, signed by the CA
//   <out>/machine-N/key.pem       machine N's private key            (0600)
//   <out>/machine-N/route-secret  the route password, same on both   (0600)
//   <out>/machine-N/admin-token   the cluster's admin token          (0600)
//   <out>/machine-N/machine.json  { machine, address, peer }

export type TlsBundleErrorCode =
  | "tls_bundle_missing" // no bundle where it was looked for
  | "tls_bundle_mismatch" // a bundle for another machine or address, or a certificate the CA did not sign
  | "openssl_failed"; // openssl is missing or failed

export class TlsBundleError extends Error {
  override readonly name = "TlsBundleError";
  constructor(
    readonly code: TlsBundleErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface TlsBundle {
  readonly dir: string;
  readonly machine: number;
  /** The address this machine's certificate names: where its servers listen. */
  readonly address: string;
  /** The other machine's address. */
  readonly peer: string;
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly routeSecretFile: string;
  readonly adminTokenFile: string;
}

const VALID_DAYS = 365;

/** `concord setup tls`: bundles for machines 1 and 2 at `addresses`, under `outDir`. */
export function createTwoMachineBundles(outDir: string, addresses: { readonly 1: string; readonly 2: string }): string[] {
  for (const machine of [1, 2] as const) {
    if (existsSync(join(outDir, `machine-${machine}`))) {
      throw new TlsBundleError("tls_bundle_mismatch", `${join(outDir, `machine-${machine}`)} exists already; remove it to make a new cluster CA`);
    }
  }
  mkdirSync(outDir, { recursive: true, mode: 0o700 });
  // Everything is made in a private directory and moved into place whole.
  const work = mkdtempSync(join(tmpdir(), "concord-tls-"));
  try {
    const bundles = ([1, 2] as const).map((machine) => ({ machine, address: addresses[machine], dir: join(work, `machine-${machine}`) }));
    for (const { dir } of bundles) mkdirSync(dir, { mode: 0o700 });
    issueClusterCertificates(bundles.map(({ machine, address, dir }) => ({ name: `machine ${machine}`, address, dir })));
    const routeSecret = randomBytes(24).toString("base64url");
    const adminToken = randomBytes(24).toString("base64url");
    const made: string[] = [];
    for (const { machine, address, dir: bundle } of bundles) {
      const peer = addresses[machine === 1 ? 2 : 1];
      writeSecretFile(join(bundle, "route-secret"), routeSecret);
      writeSecretFile(join(bundle, "admin-token"), adminToken);
      writeFileSync(join(bundle, "machine.json"), `${JSON.stringify({ machine, address, peer })}\n`, { mode: 0o600 });
      chmodSync(join(bundle, "machine.json"), 0o600);
      const target = join(outDir, `machine-${machine}`);
      renameOrCopy(bundle, target);
      made.push(target);
    }
    return made;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * A certificate authority made for one cluster, and a certificate per machine signed by it
 * (the machine's address in the subject alternative name, for serving and for dialing
 * routes). Writes ca.pem, cert.pem and key.pem (all 0600) into each machine's `dir`, which
 * must exist. The CA's private key never leaves a temporary directory removed before this
 * returns: nothing else can ever be signed by it. Shared by `setup tls` and `concord init`.
 */
export function issueClusterCertificates(machines: readonly { readonly name: string; readonly address: string; readonly dir: string }[]): void {
  const openssl = Bun.which("openssl");
  if (openssl === null) throw new TlsBundleError("openssl_failed", "openssl is not installed (on Debian: apt-get install -y openssl)");
  const work = mkdtempSync(join(tmpdir(), "concord-ca-"));
  try {
    const run = (args: string[]) => {
      const result = Bun.spawnSync([openssl, ...args], { cwd: work, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
      if (result.exitCode !== 0) throw new TlsBundleError("openssl_failed", `openssl ${args[0]} failed: ${result.stderr.toString().trim()}`);
    };
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
    const tag = randomBytes(4).toString("hex");
    run(["req", "-x509", ...ec, "-keyout", "ca-key.pem", "-out", "ca.pem", "-days", String(VALID_DAYS), "-subj", `/CN=Concord cluster CA ${tag}`,
      "-addext", "basicConstraints=critical,CA:TRUE,pathlen:0", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
    for (const { name, address, dir } of machines) {
      writeFileSync(join(work, "ext.cnf"), [
        "[machine]",
        `subjectAltName=${isIP(address) !== 0 ? "IP" : "DNS"}:${address}`,
        // Servers present it to clients and to routes that dial in; routes present it when they dial.
        "extendedKeyUsage=serverAuth,clientAuth",
        "keyUsage=critical,digitalSignature",
        "basicConstraints=critical,CA:FALSE",
        "",
      ].join("\n"));
      run(["req", "-new", ...ec, "-keyout", join(dir, "key.pem"), "-out", "machine.csr", "-subj", `/CN=Concord ${name} ${tag}`]);
      run(["x509", "-req", "-in", "machine.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-set_serial", `0x${randomBytes(8).toString("hex")}`,
        "-days", String(VALID_DAYS), "-extfile", "ext.cnf", "-extensions", "machine", "-out", join(dir, "cert.pem")]);
      writeFileSync(join(dir, "ca.pem"), readFileSync(join(work, "ca.pem")), { mode: 0o600 });
      for (const file of ["key.pem", "cert.pem", "ca.pem"]) chmodSync(join(dir, file), 0o600);
    }
  } finally {
    // The CA's private key goes with the work directory.
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * Machine `machine`'s bundle: `dir` itself, or `dir/machine-<machine>`. Checked: it is for
 * this machine, its certificate is signed by its CA and names its address, secrets are 0600.
 */
export function loadTlsBundle(dir: string, machine: number): TlsBundle {
  const candidates = [join(dir, `machine-${machine}`), dir].map((d) => resolve(d));
  const found = candidates.find((d) => existsSync(join(d, "machine.json")));
  if (found === undefined) {
    throw new TlsBundleError(
      "tls_bundle_missing",
      `no TLS bundle for machine ${machine} in ${dir}. Make the cluster's certificates once, on either machine:\n` +
        `  concord setup tls --out ${dir} --machine-1 <ip of machine 1> --machine-2 <ip of machine 2>\n` +
        `then copy ${join(dir, "machine-2")} to machine 2 (same path), and pass --tls ${dir} on both.`,
    );
  }
  const about = JSON.parse(readFileSync(join(found, "machine.json"), "utf8")) as { machine: number; address: string; peer: string };
  if (about.machine !== machine) throw new TlsBundleError("tls_bundle_mismatch", `${found} is machine ${about.machine}'s bundle, not machine ${machine}'s`);
  const bundle: TlsBundle = {
    dir: found,
    machine,
    address: about.address,
    peer: about.peer,
    caFile: join(found, "ca.pem"),
    certFile: join(found, "cert.pem"),
    keyFile: join(found, "key.pem"),
    routeSecretFile: join(found, "route-secret"),
    adminTokenFile: join(found, "admin-token"),
  };
  for (const [file, what] of [[bundle.keyFile, "TLS private key"], [bundle.routeSecretFile, "route secret"], [bundle.adminTokenFile, "admin token"]] as const) {
    readSecretFile(file, what);
  }
  const ca = new X509Certificate(readFileSync(bundle.caFile));
  const cert = new X509Certificate(readFileSync(bundle.certFile));
  if (!cert.verify(ca.publicKey)) throw new TlsBundleError("tls_bundle_mismatch", `${bundle.certFile} is not signed by ${bundle.caFile}`);
  const names = (cert.subjectAltName ?? "").split(",").map((n) => n.trim().replace(/^(IP Address|DNS):/, ""));
  if (!names.includes(about.address)) throw new TlsBundleError("tls_bundle_mismatch", `${bundle.certFile} does not name ${about.address}`);
  return bundle;
}

function renameOrCopy(from: string, to: string): void {
  try {
    renameSync(from, to);
  } catch {
    // Another filesystem: copy file by file, keeping modes.
    mkdirSync(to, { mode: 0o700 });
    for (const file of ["ca.pem", "cert.pem", "key.pem", "route-secret", "admin-token", "machine.json"]) {
      writeFileSync(join(to, file), readFileSync(join(from, file)), { mode: 0o600 });
      chmodSync(join(to, file), 0o600);
    }
  }
}
