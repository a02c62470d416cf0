// The TLSA records (RFC 6698) of this server's SMTP key for `mailroom dns`: DANE-EE, SPKI,
// SHA-256 ("3 1 1"), the form RFC 7671 §5.1 recommends because it survives a renewal that keeps
// the key. Which key: the ACME certificate of server.hostname and its pre-generated next key
// (net/acme.ts), or tls.cert_file, or the self-signed pair (RSA and ECDSA, both served). Notes say
// when the key will change under a published record, so the next record is in the DNS first
// (RFC 7671 §8.1, "current + next").
import { X509Certificate, createHash, createPublicKey } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { acmeCertificateFiles, renewalTime } from "./acme.js";

export interface TlsaKeyRecord {
  /** "3 1 1 <hex>". */
  value: string;
  /** What the key is, for a comment beside the record. */
  note: string;
}

export interface TlsaKeyReport {
  /** "_25._tcp.<hostname>." */
  owner: string;
  records: TlsaKeyRecord[];
  warnings: string[];
}

export interface TlsaKeyOptions {
  hostname: string;
  dataDir: string;
  /** tls.cert_file, or null. */
  certFile: string | null;
  acme: boolean;
  now?: Date;
}

const DAY_MS = 86_400_000;
/** Warn this long before a key changes: DNS caches (TTLs) must have the next record before. */
const SOON_MS = 14 * DAY_MS;

function spkiHash(spkiDer: Buffer): string {
  return `3 1 1 ${createHash("sha256").update(spkiDer).digest("hex")}`;
}

function certificateRecord(pem: string): { certificate: X509Certificate; value: string } {
  const certificate = new X509Certificate(pem);
  return { certificate, value: spkiHash(certificate.publicKey.export({ type: "spki", format: "der" })) };
}

function day(ms: number | string): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export async function tlsaKeysOf(options: TlsaKeyOptions): Promise<TlsaKeyReport> {
  const host = options.hostname.toLowerCase().replace(/\.$/, "");
  const now = (options.now ?? new Date()).getTime();
  const report: TlsaKeyReport = { owner: `_25._tcp.${host}.`, records: [], warnings: [] };
  const read = (file: string) => readFile(file, "utf8").catch(() => null);

  if (options.acme) {
    const files = acmeCertificateFiles(options.dataDir, host);
    const certPem = await read(files.certFile);
    if (certPem === null) {
      report.warnings.push(`no ACME certificate of ${host} in ${files.certFile} (not ordered yet, or kept in the shared PostgreSQL store): no TLSA record to print`);
      return report;
    }
    const current = certificateRecord(certPem);
    const renewAt = renewalTime(current.certificate);
    report.records.push({ value: current.value, note: `key of the current ACME certificate (valid until ${day(current.certificate.validTo)})` });
    const nextPem = await read(files.nextKeyFile);
    if (nextPem === null) {
      report.warnings.push(`no next key in ${files.nextKeyFile}: the renewal on ${day(renewAt)} makes a new key; publish its record right after, or start the server once to make the next key now`);
      return report;
    }
    const next = spkiHash(createPublicKey(nextPem).export({ type: "spki", format: "der" }));
    if (next !== current.value) report.records.push({ value: next, note: `next key: the renewal on ${day(renewAt)} switches to it; publish it now` });
    if (renewAt - now < SOON_MS) report.warnings.push(`the certificate of ${host} renews on ${day(renewAt)} with the next key: both records must be in the DNS (their TTL included) before then`);
    return report;
  }

  if (options.certFile !== null) {
    const pem = await read(options.certFile);
    if (pem === null) {
      report.warnings.push(`tls.cert_file ${options.certFile} cannot be read: no TLSA record to print`);
      return report;
    }
    const current = certificateRecord(pem);
    report.records.push({ value: current.value, note: `key of tls.cert_file (valid until ${day(current.certificate.validTo)})` });
    report.warnings.push("tls.cert_file is renewed outside Mailroom: keep its key on renewal (e.g. certbot --reuse-key), or publish the new key's 3 1 1 record before the new certificate is installed");
    if (Date.parse(current.certificate.validTo) - now < SOON_MS) report.warnings.push(`tls.cert_file expires on ${day(current.certificate.validTo)}: if its replacement has a new key, its record must be published first`);
    return report;
  }

  // The zero-config pair, served side by side (net/tls-context.ts): a client may get either.
  for (const stem of ["selfsigned", "selfsigned-ecdsa"]) {
    const pem = await read(join(options.dataDir, "tls", `${stem}.crt`));
    if (pem === null) continue;
    const current = certificateRecord(pem);
    report.records.push({ value: current.value, note: `key of the self-signed ${stem === "selfsigned" ? "RSA" : "ECDSA"} certificate (regenerated with a new key 30 days before ${day(current.certificate.validTo)})` });
    if (Date.parse(current.certificate.validTo) - 30 * DAY_MS - now < SOON_MS) report.warnings.push(`the self-signed ${stem} certificate is regenerated with a new key soon (30 days before ${day(current.certificate.validTo)}): its TLSA record will stop matching`);
  }
  if (report.records.length === 0) report.warnings.push(`no certificate in ${join(options.dataDir, "tls")} yet (the server makes one at its first start): no TLSA record to print`);
  return report;
}
