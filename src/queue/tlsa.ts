// TLSA records (RFC 6698) as SMTP uses them (RFC 7672 §3.1): only DANE-TA(2) and DANE-EE(3) are
// usable; PKIX-TA(0) and PKIX-EE(1) are ignored because an MTA has no agreed set of public CAs.
// A record selects the full certificate (0) or its SubjectPublicKeyInfo (1) and compares it
// exactly (0), by SHA-256 (1) or by SHA-512 (2) (RFC 6698 §2.1.2-§2.1.3).
// DANE-EE matches the server's own certificate and ignores names and validity dates (RFC 7672
// §3.1.1); DANE-TA names an issuer in the presented chain: the chain up to it must verify, the
// server certificate must be within its dates and carry the MX host name (RFC 7672 §3.1.2, §3.2).
import { createHash, X509Certificate } from "node:crypto";
import type { TlsaData } from "../net/dns-message.js";

export type TlsaRecord = TlsaData;

/** RFC 8460 §4.3 result types of a failed DANE authentication. */
export type TlsaFailureType = "certificate-not-trusted" | "certificate-host-mismatch" | "certificate-expired" | "validation-failure";

export type TlsaVerification = { ok: true; usage: "DANE-EE" | "DANE-TA"; record: TlsaRecord } | { ok: false; resultType: TlsaFailureType; reason: string };

const DIGEST_LENGTH: Record<number, number> = { 1: 32, 2: 64 };

/** RFC 7672 §3.1 / RFC 7671 §4: a record we can use; everything else is skipped as if absent. */
export function isUsableTlsa(record: TlsaRecord): boolean {
  if (record.usage !== 2 && record.usage !== 3) return false;
  if (record.selector !== 0 && record.selector !== 1) return false;
  if (record.matchingType === 0) return record.data.length > 0;
  return DIGEST_LENGTH[record.matchingType] === record.data.length;
}

/** The bytes a record's selector picks from a certificate: its DER, or its SPKI's DER. */
function selected(certificate: X509Certificate, selector: number): Buffer {
  return selector === 0 ? certificate.raw : certificate.publicKey.export({ type: "spki", format: "der" });
}

export function tlsaMatches(record: TlsaRecord, certificate: X509Certificate): boolean {
  const bytes = selected(certificate, record.selector);
  const compared = record.matchingType === 0 ? bytes : createHash(record.matchingType === 1 ? "sha256" : "sha512").update(bytes).digest();
  return compared.length === record.data.length && compared.equals(record.data);
}

/** The association data of a 3 1 1 record for a certificate: SHA-256 of its SPKI, hex. */
export function spkiSha256(certificate: X509Certificate): string {
  return createHash("sha256").update(selected(certificate, 1)).digest("hex");
}

/** "3 1 1 ab12…": the record as a zone file shows it (RFC 6698 §2.2), for logs and TLS-RPT policy strings. */
export function tlsaText(record: TlsaRecord): string {
  return `${record.usage} ${record.selector} ${record.matchingType} ${record.data.toString("hex")}`;
}

/**
 * Authenticates a presented chain (server certificate first) against usable records.
 * `names` are the reference identifiers of RFC 7672 §3.2.2: the MX host name (the TLSA base
 * domain) and the recipient domain; any one must match for DANE-TA.
 */
export function verifyChain(chain: readonly X509Certificate[], records: readonly TlsaRecord[], names: readonly string[], now: Date = new Date()): TlsaVerification {
  const leaf = chain[0];
  if (leaf === undefined) return { ok: false, resultType: "validation-failure", reason: "the server presented no certificate" };
  const usable = records.filter(isUsableTlsa);
  const endEntity = usable.find((record) => record.usage === 3 && tlsaMatches(record, leaf));
  if (endEntity) return { ok: true, usage: "DANE-EE", record: endEntity };
  let failure: TlsaVerification | null = null;
  for (const record of usable.filter((r) => r.usage === 2)) {
    // The trust anchor must be in the chain the server sent (RFC 7671 §5.2.2); the leaf itself is not a TA.
    for (let index = 1; index < chain.length; index++) {
      if (!tlsaMatches(record, chain[index]!)) continue;
      const checked = checkTaChain(chain.slice(0, index + 1), names, now);
      if (checked === null) return { ok: true, usage: "DANE-TA", record };
      failure ??= { ok: false, ...checked };
    }
  }
  if (failure) return failure;
  const summary = usable.map(tlsaText).map((t) => (t.length > 40 ? `${t.slice(0, 40)}…` : t)).join(", ");
  return { ok: false, resultType: "certificate-not-trusted", reason: `no TLSA record matches the presented certificate chain (server key SHA-256 ${spkiSha256(leaf)}; records: ${summary})` };
}

/** null when chain[0] chains up to its last element, is within its dates and has one of the names. */
function checkTaChain(chain: X509Certificate[], names: readonly string[], now: Date): { resultType: TlsaFailureType; reason: string } | null {
  for (let i = 0; i + 1 < chain.length; i++) {
    const subject = chain[i]!;
    const issuer = chain[i + 1]!;
    if (!subject.checkIssued(issuer) || !subject.verify(issuer.publicKey)) {
      return { resultType: "validation-failure", reason: `DANE-TA: certificate "${subject.subject.replace(/\n/g, ", ")}" is not signed by the next one in the chain` };
    }
    // Only a CA may issue (RFC 5280 §4.2.1.9, which RFC 7671 §5.2.2's chain validation applies):
    // without this, anyone holding an ordinary server certificate from the TA and its key could
    // sign a certificate for any MX name. Node exposes the basicConstraints cA flag but not
    // pathLenConstraint or name constraints, which are therefore not enforced below the TA.
    if (!issuer.ca) {
      return { resultType: "validation-failure", reason: `DANE-TA: certificate "${issuer.subject.replace(/\n/g, ", ")}" issued a certificate but is not a CA` };
    }
    // The TA itself is trusted as published, dates included (RFC 7671 §5.2.2); the certificates below it are checked.
    if (now < new Date(subject.validFrom) || now > new Date(subject.validTo)) {
      return { resultType: "certificate-expired", reason: `DANE-TA: certificate "${subject.subject.replace(/\n/g, ", ")}" is not valid now (${subject.validFrom} – ${subject.validTo})` };
    }
  }
  const leaf = chain[0]!;
  // RFC 7672 §3.2.3: a wildcard only as the whole leftmost label.
  if (!names.some((name) => leaf.checkHost(name, { partialWildcards: false, multiLabelWildcards: false }) !== undefined)) {
    return { resultType: "certificate-host-mismatch", reason: `DANE-TA: the certificate is not valid for ${names.join(" or ")}` };
  }
  return null;
}
