// The server's TLS certificate as a swappable SecureContext. It comes from the configured PEM files,
// or, when none are configured, from a self-signed certificate generated once into
// <dataDir>/tls/ and reused on later starts (so a zero-config server can offer STARTTLS at once).
// reload() re-reads the files for new handshakes only: open connections keep the context they
// negotiated, and a failed reload keeps the old context.

import { X509Certificate } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { isIP } from "node:net";
import { join } from "node:path";
import { createSecureContext, type SecureContext } from "node:tls";
import { generate } from "selfsigned";
import type { Logger } from "../observability/log.js";

export interface TlsContextOptions {
  /** Both or neither; with neither, a self-signed certificate is used. */
  certFile: string | null;
  keyFile: string | null;
  dataDir: string;
  hostname: string;
  minVersion: "TLSv1.2" | "TLSv1.3";
  log: Logger;
  clock?: () => Date;
}

export interface CertificateSummary {
  fingerprint256: string;
  subject: string;
  validTo: Date;
  selfSigned: boolean;
  certFile: string;
}

const SELF_SIGNED_YEARS = 10;
/** Regenerate a self-signed certificate this close to expiry rather than serve an expired one. */
const RENEW_BEFORE_MS = 30 * 86_400_000;

export class TlsContextProvider {
  private context: SecureContext;
  private summary: CertificateSummary;

  private constructor(
    private readonly options: TlsContextOptions,
    private readonly certFile: string,
    private readonly keyFile: string,
    loaded: { context: SecureContext; summary: CertificateSummary },
  ) {
    this.context = loaded.context;
    this.summary = loaded.summary;
  }

  /** Loads the configured certificate, or the self-signed one (generating it when needed). */
  static async open(options: TlsContextOptions): Promise<TlsContextProvider> {
    if ((options.certFile === null) !== (options.keyFile === null)) throw new Error("tls: cert_file and key_file must be given together");
    const selfSigned = options.certFile === null;
    const certFile = options.certFile ?? join(options.dataDir, "tls", "selfsigned.crt");
    const keyFile = options.keyFile ?? join(options.dataDir, "tls", "selfsigned.key");
    if (selfSigned) await ensureSelfSigned(certFile, keyFile, options);
    const loaded = await loadContext(certFile, keyFile, selfSigned, options.minVersion);
    options.log.info("tls.loaded", { ...describe(loaded.summary) });
    return new TlsContextProvider(options, certFile, keyFile, loaded);
  }

  /** The context for a new handshake. */
  current(): SecureContext {
    return this.context;
  }

  get certificate(): CertificateSummary {
    return this.summary;
  }

  /** For tls.createServer({ SNICallback }): every name gets the current context. */
  readonly sniCallback = (_servername: string, callback: (error: Error | null, context?: SecureContext) => void): void => {
    callback(null, this.context);
  };

  /** Re-reads the certificate files (SIGHUP); on failure the old context stays and the error is thrown. */
  async reload(): Promise<void> {
    try {
      const loaded = await loadContext(this.certFile, this.keyFile, this.summary.selfSigned, this.options.minVersion);
      this.context = loaded.context;
      this.summary = loaded.summary;
      this.options.log.info("tls.reloaded", { ...describe(loaded.summary) });
    } catch (error) {
      this.options.log.error("tls.reload_failed", { error, certFile: this.certFile });
      throw error;
    }
  }
}

function describe(summary: CertificateSummary): Record<string, unknown> {
  return { ...summary, validTo: summary.validTo.toISOString() };
}

async function loadContext(
  certFile: string,
  keyFile: string,
  selfSigned: boolean,
  minVersion: TlsContextOptions["minVersion"],
): Promise<{ context: SecureContext; summary: CertificateSummary }> {
  const [cert, key] = await Promise.all([readPem(certFile, "certificate"), readPem(keyFile, "private key")]);
  let certificate: X509Certificate;
  let context: SecureContext;
  try {
    certificate = new X509Certificate(cert);
    // createSecureContext also checks that the key belongs to the certificate.
    context = createSecureContext({ cert, key, minVersion });
  } catch (error) {
    throw new Error(`tls: ${certFile} / ${keyFile}: ${(error as Error).message}`, { cause: error });
  }
  return {
    context,
    summary: { fingerprint256: certificate.fingerprint256, subject: certificate.subject, validTo: new Date(certificate.validTo), selfSigned, certFile },
  };
}

async function readPem(file: string, what: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    throw new Error(`tls: cannot read ${what} ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, { cause: error });
  }
}

/** Keeps a usable self-signed certificate for the hostname on disk, generating one when needed. */
async function ensureSelfSigned(certFile: string, keyFile: string, options: TlsContextOptions): Promise<void> {
  const now = (options.clock ?? (() => new Date()))();
  const reason = await selfSignedRenewalReason(certFile, keyFile, options.hostname, now);
  if (reason === null) return;
  const notAfter = new Date(now);
  notAfter.setFullYear(notAfter.getFullYear() + SELF_SIGNED_YEARS);
  const hostEntry = isIP(options.hostname) ? { type: 7 as const, ip: options.hostname } : { type: 2 as const, value: options.hostname };
  const pems = await generate([{ name: "commonName", value: options.hostname }], {
    keySize: 2048,
    algorithm: "sha256",
    notBeforeDate: now,
    notAfterDate: notAfter,
    extensions: [
      { name: "basicConstraints", cA: false },
      { name: "keyUsage", digitalSignature: true, keyEncipherment: true },
      { name: "extKeyUsage", serverAuth: true },
      { name: "subjectAltName", altNames: [hostEntry, { type: 2, value: "localhost" }, { type: 7, ip: "127.0.0.1" }, { type: 7, ip: "::1" }] },
    ],
  });
  await mkdir(join(certFile, ".."), { recursive: true, mode: 0o700 });
  // Write beside, then rename: a crash never leaves a half-written key, and the key is 0600 from birth.
  await writeFile(`${keyFile}.tmp`, pems.private, { mode: 0o600 });
  await rename(`${keyFile}.tmp`, keyFile);
  await writeFile(`${certFile}.tmp`, pems.cert, { mode: 0o644 });
  await rename(`${certFile}.tmp`, certFile);
  options.log.warn("tls.self_signed_generated", { reason, certFile, hostname: options.hostname });
}

async function selfSignedRenewalReason(certFile: string, keyFile: string, hostname: string, now: Date): Promise<string | null> {
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
  return null;
}
