// The server's TLS certificate as swappable SecureContexts, one per cipher policy: "client" for the
// ports mail apps use (submission, IMAP, POP3) and "mx" for port 25, where other servers arrive.
// The certificate comes from the configured PEM files, or, when none are configured, from two
// self-signed certificates (RSA 2048 and ECDSA P-256, served side by side so ECDHE-ECDSA and
// ECDHE-RSA suites both work) generated once into <dataDir>/tls/ and reused on later starts (so a
// zero-config server can offer STARTTLS at once). reload() re-reads the files for new handshakes
// only: open connections keep the context they negotiated, and a failed reload keeps the old one.

import { createPrivateKey, X509Certificate } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { isIP } from "node:net";
import { join } from "node:path";
import { createSecureContext, type SecureContext, type SecureContextOptions } from "node:tls";
import { Worker } from "node:worker_threads";
import type { Logger } from "../observability/log.js";

/** Which cipher policy a listener gets: mail apps ("client") or other mail servers on port 25 ("mx"). */
export type TlsCipherKind = "client" | "mx";

/**
 * Mozilla's "intermediate" server profile (ssl-config.mozilla.org, guidelines v5.7): TLS 1.3's
 * suites, and for TLS 1.2 only forward-secret key exchange (ECDHE, DHE) with AEAD ciphers; no
 * static-RSA key exchange, no CBC. Dovecot's default likewise excludes kRSA.
 */
const INTERMEDIATE = [
  "TLS_AES_128_GCM_SHA256",
  "TLS_AES_256_GCM_SHA384",
  "TLS_CHACHA20_POLY1305_SHA256",
  "ECDHE-ECDSA-AES128-GCM-SHA256",
  "ECDHE-RSA-AES128-GCM-SHA256",
  "ECDHE-ECDSA-AES256-GCM-SHA384",
  "ECDHE-RSA-AES256-GCM-SHA384",
  "ECDHE-ECDSA-CHACHA20-POLY1305",
  "ECDHE-RSA-CHACHA20-POLY1305",
  "DHE-RSA-AES128-GCM-SHA256",
  "DHE-RSA-AES256-GCM-SHA384",
  "DHE-RSA-CHACHA20-POLY1305",
].join(":");

/**
 * For port 25: the intermediate suites first, then every other strong suite OpenSSL has (CBC,
 * static RSA). An MTA that only knows those would otherwise send in plaintext, since SMTP's TLS is
 * opportunistic (RFC 3207 §4, RFC 7435): weaker encryption beats none there.
 */
const BROAD = `${INTERMEDIATE}:HIGH:!aNULL:!eNULL:!EXPORT:!DES:!3DES:!RC4:!MD5:!PSK:!SRP:!CAMELLIA:!ARIA`;

export const CIPHER_PROFILES: Readonly<Record<string, string>> = { intermediate: INTERMEDIATE, broad: BROAD };

/** The OpenSSL cipher string for a profile name or an explicit string; TLS 1.3 suites are added when it names none. */
export function cipherStringOf(setting: string): string {
  const named = CIPHER_PROFILES[setting];
  if (named !== undefined) return named;
  // Node passes the TLS_* names to TLS 1.3 and the rest to TLS 1.2; a string without TLS_* names
  // would switch TLS 1.3 off, which is never what someone tuning the TLS 1.2 list meant.
  const tls13 = INTERMEDIATE.split(":").filter((suite) => suite.startsWith("TLS_"));
  return setting.split(":").some((suite) => suite.startsWith("TLS_")) ? setting : [...tls13, setting].join(":");
}

export interface TlsContextOptions {
  /** Both or neither; with neither, a self-signed certificate is used. */
  certFile: string | null;
  keyFile: string | null;
  dataDir: string;
  hostname: string;
  minVersion: "TLSv1.2" | "TLSv1.3";
  /** Per kind: a CIPHER_PROFILES name or an OpenSSL cipher string (tls.ciphers_client, tls.ciphers_mx). Default intermediate / broad. */
  ciphers?: Partial<Record<TlsCipherKind, string>>;
  log: Logger;
  clock?: () => Date;
  /**
   * The addresses the listeners and the HTTP(S) ports are configured to bind: the ones that are
   * not a wildcard ("::", "0.0.0.0") are named in a self-signed certificate (selfSignedAddresses).
   */
  bindAddresses?: readonly string[];
}

export interface CertificateSummary {
  fingerprint256: string;
  subject: string;
  validTo: Date;
  selfSigned: boolean;
  certFile: string;
  /** "RSA 2048", "EC P-256", ...: the key of this certificate. */
  keyType: string;
}

/** One certificate file and the file of its private key. */
interface KeyPairFiles {
  certFile: string;
  keyFile: string;
}

const SELF_SIGNED_YEARS = 10;
/** Regenerate a self-signed certificate this close to expiry rather than serve an expired one. */
const RENEW_BEFORE_MS = 30 * 86_400_000;

/** A certificate served by SNI for its names (ACME, net/acme.ts), beside the base one. */
interface NamedCertificate {
  contexts: Record<TlsCipherKind, SecureContext>;
  pems: { cert: Buffer; key: Buffer }[];
  summary: CertificateSummary;
}

export class TlsContextProvider {
  private contexts: Record<TlsCipherKind, SecureContext>;
  private pems: { cert: Buffer; key: Buffer }[];
  private summaries: CertificateSummary[];
  /** Called when current() changes (reload, server.hostname's named certificate set or removed). */
  private readonly defaultListeners = new Set<() => void>();
  /** Lower-case DNS name → its certificate; replaced whole on every change, read by every handshake. */
  private named = new Map<string, NamedCertificate>();

  private constructor(
    private readonly options: TlsContextOptions,
    private readonly pairs: KeyPairFiles[],
    private readonly selfSigned: boolean,
    loaded: LoadedContexts,
  ) {
    this.contexts = loaded.contexts;
    this.pems = loaded.pems;
    this.summaries = loaded.summaries;
  }

  /** Loads the configured certificate, or the self-signed ones (generating them when needed). */
  static async open(options: TlsContextOptions): Promise<TlsContextProvider> {
    if ((options.certFile === null) !== (options.keyFile === null)) throw new Error("tls: cert_file and key_file must be given together");
    const selfSigned = options.certFile === null;
    const pairs: KeyPairFiles[] = selfSigned
      ? SELF_SIGNED_KEYS.map((kind) => ({ certFile: join(options.dataDir, "tls", `${kind.fileStem}.crt`), keyFile: join(options.dataDir, "tls", `${kind.fileStem}.key`) }))
      : [{ certFile: options.certFile!, keyFile: options.keyFile! }];
    if (selfSigned) for (const [index, kind] of SELF_SIGNED_KEYS.entries()) await ensureSelfSigned(pairs[index]!, kind, options);
    const loaded = await loadContexts(pairs, selfSigned, options);
    options.log.info("tls.loaded", describe(loaded.summaries));
    return new TlsContextProvider(options, pairs, selfSigned, loaded);
  }

  /**
   * The context for a new handshake on a listener of this kind, for a client that sends no SNI (or
   * before its SNI is seen): the named certificate of server.hostname when there is one (ACME),
   * else the base certificate (the files of [tls], or the self-signed pair).
   */
  current(kind: TlsCipherKind = "client"): SecureContext {
    return this.named.get(this.options.hostname.toLowerCase())?.contexts[kind] ?? this.contexts[kind];
  }

  /** What a protocol server needs: always the current context of one kind, across reloads. */
  forKind(kind: TlsCipherKind): { current(): SecureContext } {
    return { current: () => this.current(kind) };
  }

  /**
   * The createSecureContext options of current(): for a server whose default context Node builds
   * itself (https.createServer, setSecureContext), the one a client without SNI gets (a browser
   * opening https://<ip>/ sends none, RFC 6066 §3 forbids IP literals in server_name).
   */
  defaultContextOptions(kind: TlsCipherKind = "client"): SecureContextOptions {
    return contextOptions(this.named.get(this.options.hostname.toLowerCase())?.pems ?? this.pems, kind, this.options);
  }

  /** Calls `listener` whenever current() changes; returns the unsubscribe. */
  onDefaultChange(listener: () => void): () => void {
    this.defaultListeners.add(listener);
    return () => this.defaultListeners.delete(listener);
  }

  private defaultChanged(): void {
    for (const listener of this.defaultListeners) {
      try {
        listener();
      } catch (error) {
        this.options.log.warn("tls.default_update_failed", { error });
      }
    }
  }

  /** The context for a client that asked for `servername` (SNI, RFC 6066 §3): its named certificate, else current(). */
  contextFor(servername: string | undefined, kind: TlsCipherKind = "client"): SecureContext {
    const name = (servername ?? "").toLowerCase().replace(/\.$/, "");
    const named = this.named.get(name) ?? this.named.get(`*.${name.slice(name.indexOf(".") + 1)}`);
    return named?.contexts[kind] ?? this.current(kind);
  }

  /**
   * Serves a certificate for its DNS names (SubjectAltName) from the next handshake on, on every
   * listener and the HTTPS port: replacing an older one for the same names (renewal) needs no restart,
   * and open connections keep what they negotiated. Throws, changing nothing, when the key does not
   * belong to the certificate or OpenSSL refuses the pair.
   */
  setNamedCertificate(certPem: string | Buffer, keyPem: string | Buffer, source: string): CertificateSummary {
    const certificate = new X509Certificate(certPem);
    if (!certificate.checkPrivateKey(createPrivateKey(keyPem))) throw new Error(`tls: ${source}: the private key does not belong to the certificate`);
    const names = dnsNamesOf(certificate);
    if (names.length === 0) throw new Error(`tls: ${source}: the certificate names no DNS name`);
    const pems = [{ cert: Buffer.from(certPem), key: Buffer.from(keyPem) }];
    const contexts = { client: buildContext(pems, "client", this.options), mx: buildContext(pems, "mx", this.options) };
    const summary: CertificateSummary = {
      fingerprint256: certificate.fingerprint256,
      subject: certificate.subject,
      validTo: new Date(certificate.validTo),
      selfSigned: false,
      certFile: source,
      keyType: keyTypeOf(certificate),
    };
    const next = new Map(this.named);
    for (const name of names) next.set(name, { contexts, pems, summary });
    this.named = next;
    if (names.includes(this.options.hostname.toLowerCase())) this.defaultChanged();
    this.options.log.info("tls.named_certificate", { names, fingerprint256: summary.fingerprint256, validTo: summary.validTo.toISOString(), source });
    return summary;
  }

  /** Stops serving the named certificate of `name` (revoked): its clients get current() again. */
  removeNamedCertificate(name: string): void {
    const next = new Map(this.named);
    next.delete(name.toLowerCase());
    this.named = next;
    if (name.toLowerCase() === this.options.hostname.toLowerCase()) this.defaultChanged();
  }

  /** The named certificate served for `name`, if any. */
  namedCertificate(name: string): CertificateSummary | undefined {
    return this.named.get(name.toLowerCase())?.summary;
  }

  /** The first certificate (the RSA one of a self-signed pair). */
  get certificate(): CertificateSummary {
    return this.summaries[0]!;
  }

  /** Every certificate served, one per key type. */
  get certificates(): readonly CertificateSummary[] {
    return this.summaries;
  }

  /** For tls.createServer({ SNICallback }): a name's own certificate when it has one, else the default. */
  readonly sniCallback = (servername: string, callback: (error: Error | null, context?: SecureContext) => void): void => {
    callback(null, this.contextFor(servername, "client"));
  };

  /** Re-reads the certificate files (SIGHUP); on failure the old contexts stay and the error is thrown. */
  async reload(): Promise<void> {
    try {
      const loaded = await loadContexts(this.pairs, this.selfSigned, this.options);
      this.contexts = loaded.contexts;
      this.pems = loaded.pems;
      this.summaries = loaded.summaries;
      this.options.log.info("tls.reloaded", describe(loaded.summaries));
      this.defaultChanged();
    } catch (error) {
      this.options.log.error("tls.reload_failed", { error, certFile: this.pairs.map((pair) => pair.certFile).join(", ") });
      throw error;
    }
  }
}

/** The log fields of tls.loaded and tls.reloaded: the first certificate's, and every key type served. */
function describe(summaries: readonly CertificateSummary[]): Record<string, unknown> {
  const first = summaries[0]!;
  return { ...first, validTo: first.validTo.toISOString(), keyTypes: summaries.map((summary) => summary.keyType), certFiles: summaries.map((summary) => summary.certFile) };
}

interface LoadedContexts {
  contexts: Record<TlsCipherKind, SecureContext>;
  /** The key pairs the contexts were built from (a server's default context is rebuilt from them). */
  pems: { cert: Buffer; key: Buffer }[];
  summaries: CertificateSummary[];
}

async function loadContexts(pairs: readonly KeyPairFiles[], selfSigned: boolean, options: TlsContextOptions): Promise<LoadedContexts> {
  const pems = await Promise.all(pairs.map(async (pair) => ({ ...pair, cert: await readPem(pair.certFile, "certificate"), key: await readPem(pair.keyFile, "private key") })));
  const summaries: CertificateSummary[] = [];
  for (const pem of pems) {
    try {
      const certificate = new X509Certificate(pem.cert);
      // Checked here, per pair, so a mismatch names its files; createSecureContext would only say "key values mismatch".
      if (!certificate.checkPrivateKey(createPrivateKey(pem.key))) throw new Error("the private key does not belong to the certificate");
      summaries.push({
        fingerprint256: certificate.fingerprint256,
        subject: certificate.subject,
        validTo: new Date(certificate.validTo),
        selfSigned,
        certFile: pem.certFile,
        keyType: keyTypeOf(certificate),
      });
    } catch (error) {
      throw new Error(`tls: ${pem.certFile} / ${pem.keyFile}: ${(error as Error).message}`, { cause: error });
    }
  }
  return { contexts: { client: buildContext(pems, "client", options), mx: buildContext(pems, "mx", options) }, pems: pems.map(({ cert, key }) => ({ cert, key })), summaries };
}

/** The createSecureContext options of a cipher policy for key pairs served side by side. */
function contextOptions(pems: readonly { cert: Buffer; key: Buffer }[], kind: TlsCipherKind, options: TlsContextOptions): SecureContextOptions {
  return {
    // Arrays: OpenSSL picks the certificate whose key suits the negotiated suite and signature algorithms.
    cert: pems.map((pem) => pem.cert),
    key: pems.map((pem) => pem.key),
    minVersion: options.minVersion,
    ciphers: cipherStringOf(options.ciphers?.[kind] ?? DEFAULT_CIPHERS[kind]),
    // Our order, not the client's: the strongest suite both support, not a client's weak favourite.
    honorCipherOrder: true,
    // RFC 7919 groups for the DHE-RSA suites (OpenSSL picks one matching the key size).
    dhparam: "auto",
  };
}

/** One SecureContext of a cipher policy for key pairs served side by side. */
function buildContext(pems: readonly { cert: Buffer; key: Buffer }[], kind: TlsCipherKind, options: TlsContextOptions): SecureContext {
  const setting = options.ciphers?.[kind] ?? DEFAULT_CIPHERS[kind];
  try {
    return createSecureContext(contextOptions(pems, kind, options));
  } catch (error) {
    const message = (error as NodeJS.ErrnoException).code === "ERR_SSL_NO_CIPHER_MATCH" ? `OpenSSL knows no cipher suite in ${JSON.stringify(setting)}` : (error as Error).message;
    throw new Error(`tls.ciphers_${kind}: ${message}`, { cause: error });
  }
}

/** The DNS names of a certificate's SubjectAltName, lower-case. */
function dnsNamesOf(certificate: X509Certificate): string[] {
  return (certificate.subjectAltName ?? "")
    .split(/,\s*/)
    .filter((entry) => entry.startsWith("DNS:"))
    .map((entry) => entry.slice(4).toLowerCase());
}

const DEFAULT_CIPHERS: Readonly<Record<TlsCipherKind, string>> = { client: "intermediate", mx: "broad" };

function keyTypeOf(certificate: X509Certificate): string {
  const key = certificate.publicKey;
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === "rsa") return `RSA ${details?.modulusLength ?? "?"}`;
  if (key.asymmetricKeyType === "ec") return `EC ${details?.namedCurve === "prime256v1" ? "P-256" : (details?.namedCurve ?? "?")}`;
  return (key.asymmetricKeyType ?? "unknown").toUpperCase();
}

async function readPem(file: string, what: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    throw new Error(`tls: cannot read ${what} ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, { cause: error });
  }
}

/** The self-signed certificates of a zero-config server: RSA for every client, ECDSA for the ECDHE-ECDSA suites. */
interface SelfSignedKey {
  fileStem: string;
  keyType: "rsa" | "ec";
}
const SELF_SIGNED_KEYS: readonly SelfSignedKey[] = [
  // The RSA pair keeps the file names of earlier versions, so existing data dirs keep their certificate.
  { fileStem: "selfsigned", keyType: "rsa" },
  { fileStem: "selfsigned-ecdsa", keyType: "ec" },
];

/** Keeps a usable self-signed certificate for the hostname on disk, generating one when needed. */
async function ensureSelfSigned(pair: KeyPairFiles, kind: SelfSignedKey, options: TlsContextOptions): Promise<void> {
  const { certFile, keyFile } = pair;
  const now = (options.clock ?? (() => new Date()))();
  const addresses = selfSignedAddresses(options.hostname, options.bindAddresses ?? []);
  const reason = await selfSignedRenewalReason(certFile, keyFile, options.hostname, addresses, now);
  if (reason === null) return;
  const notAfter = new Date(now);
  notAfter.setFullYear(notAfter.getFullYear() + SELF_SIGNED_YEARS);
  const hostEntry = isIP(options.hostname) ? { type: 7 as const, ip: options.hostname } : { type: 2 as const, value: options.hostname };
  const pems = await generateInWorker([{ name: "commonName", value: options.hostname }], {
    ...(kind.keyType === "rsa" ? { keySize: 2048 } : { keyType: "ec" as const, curve: "P-256" as const }),
    algorithm: "sha256",
    notBeforeDate: now,
    notAfterDate: notAfter,
    extensions: [
      { name: "basicConstraints", cA: false },
      // keyEncipherment is an RSA key's use (RFC 5280 §4.2.1.3); an ECDSA key only signs.
      { name: "keyUsage", digitalSignature: true, keyEncipherment: kind.keyType === "rsa" },
      { name: "extKeyUsage", serverAuth: true },
      { name: "subjectAltName", altNames: [hostEntry, { type: 2, value: "localhost" }, ...addresses.map((ip) => ({ type: 7 as const, ip }))] },
    ],
  });
  await mkdir(join(certFile, ".."), { recursive: true, mode: 0o700 });
  // Write beside, then rename: a crash never leaves a half-written key, and the key is 0600 from birth.
  await writeFile(`${keyFile}.tmp`, pems.private, { mode: 0o600 });
  await rename(`${keyFile}.tmp`, keyFile);
  await writeFile(`${certFile}.tmp`, pems.cert, { mode: 0o644 });
  await rename(`${certFile}.tmp`, certFile);
  options.log.warn("tls.self_signed_generated", { reason, certFile, keyType: kind.keyType, hostname: options.hostname });
}

/** An IP address in one spelling (IPv6 compressed, lower case), or null for anything else. */
function canonicalIp(text: string): string | null {
  const kind = isIP(text);
  if (kind === 4) return text;
  if (kind !== 6) return null;
  try {
    return new URL(`http://[${text}]/`).hostname.slice(1, -1);
  } catch {
    return null;
  }
}

/**
 * The IP addresses a self-signed certificate names besides the host name: loopback and the
 * addresses the listeners are explicitly configured to bind, so a browser opening
 * https://<that ip>/admin (no SNI: it gets this certificate, defaultContextOptions) sees its
 * address in it once the certificate is trusted. Not the machine's other interface addresses: the
 * certificate is served on every TLS port, port 25 included, and would tell any client the
 * internal (Docker, VPN) addresses. Wildcards ("::", "0.0.0.0") name no address; link-local IPv6
 * (fe80::/10) needs a zone and is left out; an IP host name is named once, by the host entry.
 */
export function selfSignedAddresses(hostname: string, bindAddresses: readonly string[]): string[] {
  const out = new Set<string>(["127.0.0.1", "::1"]);
  for (const address of bindAddresses) {
    const ip = canonicalIp(address);
    if (ip === null || ip === "0.0.0.0" || ip === "::" || /^fe[89ab]/i.test(ip)) continue;
    out.add(ip);
  }
  out.delete(canonicalIp(hostname) ?? hostname);
  return [...out];
}

/** The IP addresses in a certificate's subjectAltName, canonical. */
function certificateAddresses(certificate: X509Certificate): Set<string> {
  const out = new Set<string>();
  for (const match of (certificate.subjectAltName ?? "").matchAll(/IP Address:([0-9A-Fa-f:.]+)/g)) {
    const ip = canonicalIp(match[1]!);
    if (ip !== null) out.add(ip);
  }
  return out;
}

/** selfsigned's generate(), run in a worker thread (selfsigned-worker.ts says why). */
function generateInWorker(attributes: unknown, generateOptions: unknown): Promise<{ cert: string; private: string }> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL("./selfsigned-worker.js", import.meta.url), {
      workerData: { attributes, options: generateOptions },
      // The parent's flags may include `--input-type` (the `node -e` launch the bench uses), which a file worker refuses.
      execArgv: [],
    });
    let settled = false;
    worker.once("message", (reply: { ok: true; cert: string; private: string } | { ok: false; message: string }) => {
      settled = true;
      if (reply.ok) resolve({ cert: reply.cert, private: reply.private });
      else reject(new Error(`self-signed certificate generation failed: ${reply.message}`));
    });
    worker.once("error", (error) => {
      settled = true;
      reject(error);
    });
    worker.once("exit", (code) => {
      if (!settled) reject(new Error(`self-signed certificate worker exited with code ${code}`));
    });
  });
}

async function selfSignedRenewalReason(certFile: string, keyFile: string, hostname: string, addresses: readonly string[], now: Date): Promise<string | null> {
  let cert: Buffer;
  try {
    cert = await readFile(certFile);
    await readFile(keyFile);
  } catch {
    return "missing";
  }
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(cert);
  } catch {
    return "unreadable";
  }
  if (new Date(certificate.validTo).getTime() - now.getTime() < RENEW_BEFORE_MS) return "expiring";
  const matches = isIP(hostname) ? certificate.checkIP(hostname) : certificate.checkHost(hostname);
  if (matches === undefined) return "hostname changed";
  // A certificate naming other addresses (an earlier version named every interface's) is replaced.
  const named = certificateAddresses(certificate);
  const wanted = new Set(addresses);
  const hostIp = canonicalIp(hostname);
  if (hostIp !== null) wanted.add(hostIp);
  if (named.size !== wanted.size || [...wanted].some((ip) => !named.has(ip))) return "addresses changed";
  return null;
}
