// DANE for SMTP (RFC 7672): which MX hosts must be authenticated by their TLSA records, decided
// from DNSSEC-validated answers of the configured validating resolver (net/dns-client.ts).
//   - The MX lookup (or the secure denial that makes the domain its own host) must be validated
//     (§2.2.1); an insecure one means no DANE for the whole destination.
//   - Per host: its address records must be validated too (§2.2.2), then `_<port>._tcp.<host>`
//     TLSA is asked, first at the end of a CNAME chain, then at the name itself (§2.2.3).
//   - Validated TLSA records with at least one usable (DANE-TA/DANE-EE) record: STARTTLS is
//     mandatory and the certificate must match (mode "dane"); records but none usable: TLS is
//     still mandatory, without authentication (mode "encrypt", §2.2); no records or an insecure
//     answer: no DANE (mode "none", MTA-STS or opportunistic TLS apply).
//   - A TLSA (or address) lookup that fails (SERVFAIL, as bogus data is answered, or no answer)
//     makes the host unusable now (mode "defer", §2.2): it is skipped with 4.7.5, never tried in
//     plaintext.
// DANE takes precedence over MTA-STS for hosts it covers (RFC 8461 §2): queue/destination.ts
// leaves those hosts out of the MTA-STS checks.
import type { TLSSocket } from "node:tls";
import { X509Certificate } from "node:crypto";
import { DnsError, type DnsAnswer, type DnsRecordType, type DnsResolver, type MxRecord } from "../mail-auth/index.js";
import type { DnssecAnswer, DnssecQuery } from "../net/dns-client.js";
import { isUsableTlsa, tlsaText, verifyChain, type TlsaFailureType, type TlsaRecord } from "./tlsa.js";
import type { TlsFailure } from "./smtp-client.js";
import { tlsRptResultType } from "./tls-outcome.js";

/**
 * RFC 8460 §4.3 result types a DANE decision or authentication can end in; TLS-RPT reports
 * (queue/tls-rpt-recorder.ts) count failures under these names, with policy-type "tlsa".
 */
export type DaneResultType = "starttls-not-supported" | "dane-required" | "tlsa-invalid" | "dnssec-invalid" | TlsaFailureType;

export type DanePolicy =
  /** Authenticate the server with these usable records; STARTTLS mandatory. */
  | { mode: "dane"; tlsa: TlsaRecord[]; tlsaName: string; reason: string }
  /** Validated TLSA records, none usable: TLS mandatory, not authenticated (RFC 7672 §2.2). */
  | { mode: "encrypt"; tlsa: TlsaRecord[]; tlsaName: string; reason: string }
  /** No DANE for this host: other policies (MTA-STS, require_tls, opportunistic) decide. */
  | { mode: "none"; reason: string }
  /** The host cannot be used now: a validating lookup failed. */
  | { mode: "defer"; resultType: "dnssec-invalid" | "tlsa-invalid"; reason: string };

/**
 * One DANE-relevant result for one MX host, for logs and TLS-RPT (RFC 8460 §4.3): `ok` with
 * `resultType` null is a successful authenticated session; otherwise the failure type.
 */
export interface DaneOutcome {
  /** The recipient domain (the TLS-RPT policy domain). */
  domain: string;
  mxHost: string;
  /** The records of the policy in presentation form ("3 1 1 <hex>"): TLS-RPT's policy-string. */
  policy: string[];
  ok: boolean;
  resultType: DaneResultType | null;
  reason: string;
}

/** The validating side of outbound DNS: node-shaped answers for routing, plus what DANE needs. */
export interface DaneResolver {
  /** Answers as node:dns would (MX, A, AAAA, TXT); errors carry node's codes. */
  resolver: DnsResolver;
  /** The MX records and whether they (or their denial) were validated; throws DnsError as `resolver`. */
  mx(domain: string): Promise<{ records: MxRecord[]; secure: boolean }>;
  /** The DANE policy of one host reached on `port`, given whether its MX lookup was validated. */
  policyFor(host: string, port: number, mxSecure: boolean): Promise<DanePolicy>;
}

function failureCode(answer: DnssecAnswer & { kind: "failed" }): "ESERVFAIL" | "ETIMEOUT" {
  return /SERVFAIL/.test(answer.reason) ? "ESERVFAIL" : "ETIMEOUT";
}

export function createDaneResolver(query: DnssecQuery): DaneResolver {
  const ask = async (name: string, type: Exclude<DnsRecordType, "PTR">): Promise<DnssecAnswer & { kind: "answer" }> => {
    const answer = await query(name, type);
    if (answer.kind === "failed") throw Object.assign(new DnsError(failureCode(answer), name, type), { reason: answer.reason });
    if (answer.rcode === "NXDOMAIN") throw Object.assign(new DnsError("ENOTFOUND", name, type), { secure: answer.secure });
    return answer;
  };
  const nodeShaped = async (name: string, type: DnsRecordType): Promise<{ value: unknown; secure: boolean }> => {
    if (type === "PTR") throw new DnsError("EBADNAME", name, type);
    const answer = await ask(name, type);
    const value = answer.records.flatMap((record): unknown[] => {
      if (record.type === "A" || record.type === "AAAA") return [record.address];
      if (record.type === "MX") return [{ exchange: record.exchange, priority: record.preference }];
      if (record.type === "TXT") return [record.strings];
      return [];
    });
    if (value.length === 0) throw Object.assign(new DnsError("ENODATA", name, type), { secure: answer.secure });
    return { value, secure: answer.secure };
  };
  const resolver = (async (name: string, type: DnsRecordType) => (await nodeShaped(name, type)).value) as DnsResolver;

  return {
    resolver,
    async mx(domain) {
      const { value, secure } = await nodeShaped(domain, "MX");
      return { records: value as DnsAnswer["MX"], secure };
    },
    async policyFor(host, port, mxSecure) {
      if (!mxSecure) return { mode: "none", reason: "the MX lookup is not DNSSEC-validated" };
      // §2.2.2: the addresses must be validated too, or the TLSA records prove nothing about them.
      let canonical = host;
      let addressSecure = false;
      for (const type of ["A", "AAAA"] as const) {
        const answer = await query(host, type);
        if (answer.kind === "failed") return { mode: "defer", resultType: "dnssec-invalid", reason: `address lookup of ${host} failed: ${answer.reason}` };
        if (answer.records.length === 0) continue;
        canonical = answer.canonicalName;
        addressSecure = answer.secure;
        break;
      }
      if (!addressSecure) return { mode: "none", reason: `the address records of ${host} are not DNSSEC-validated` };
      // §2.2.3: the TLSA base domain is the CNAME-expanded name first, then the original.
      const bases = canonical === host ? [host] : [canonical, host];
      for (const base of bases) {
        const tlsaName = `_${port}._tcp.${base}`;
        const answer = await query(tlsaName, "TLSA");
        if (answer.kind === "failed") return { mode: "defer", resultType: "tlsa-invalid", reason: `TLSA lookup of ${tlsaName} failed: ${answer.reason}` };
        if (!answer.secure) {
          // §2.2.3: an insecure answer at the expanded name sends the client on to the original name.
          if (base !== host) continue;
          return { mode: "none", reason: `the TLSA answer for ${tlsaName} is not DNSSEC-validated` };
        }
        const records = answer.records.flatMap((r) => (r.type === "TLSA" ? [r.tlsa] : []));
        if (records.length === 0) continue;
        const usable = records.filter(isUsableTlsa);
        if (usable.length === 0) return { mode: "encrypt", tlsa: records, tlsaName, reason: `${tlsaName} has no usable TLSA record (${records.map(tlsaText).join(", ")}): TLS without authentication` };
        return { mode: "dane", tlsa: usable, tlsaName, reason: `${usable.length} usable TLSA record(s) at ${tlsaName}` };
      }
      return { mode: "none", reason: `no TLSA records at _${port}._tcp.${host}` };
    },
  };
}

/**
 * The check of a TLS session under a "dane" policy: null when the presented chain matches, or
 * the failure. `names` are the reference identifiers (RFC 7672 §3.2.2): MX host, recipient domain.
 */
export function verifyDanePeer(socket: TLSSocket, policy: DanePolicy & { mode: "dane" }, names: readonly string[]): { resultType: TlsaFailureType; reason: string } | null {
  const result = verifyChain(presentedChain(socket), policy.tlsa, names);
  return result.ok ? null : { resultType: result.resultType, reason: result.reason };
}

/** The chain as the peer sent it, server certificate first (node links it by issuerCertificate). */
function presentedChain(socket: TLSSocket): X509Certificate[] {
  const chain: X509Certificate[] = [];
  const seen = new Set<string>();
  let certificate = socket.getPeerCertificate(true);
  while (certificate && certificate.raw && chain.length < 16) {
    const fingerprint = certificate.fingerprint256;
    if (seen.has(fingerprint)) break;
    seen.add(fingerprint);
    try {
      chain.push(new X509Certificate(certificate.raw));
    } catch {
      break;
    }
    certificate = certificate.issuerCertificate;
  }
  return chain;
}

/** What one connection attempt to a DANE-governed host needs: the check, and its outcomes. */
export interface DaneSession {
  /** For SmtpClientOptions.verifyPeer; absent in mode "encrypt" (TLS without authentication). */
  verifyPeer?: (socket: TLSSocket) => string | null;
  /** The outcome of a session that got past TLS. */
  success(): DaneOutcome;
  /** The outcome of a session whose TLS failed (other failures, e.g. no connection, are not DANE's). */
  failure(error: TlsFailure): DaneOutcome;
}

/** The session checks of a host in mode "dane" or "encrypt"; null for any other host. */
export function daneSession(domain: string, host: { name: string; dane?: DanePolicy }): DaneSession | null {
  const policy = host.dane;
  if (!policy || (policy.mode !== "dane" && policy.mode !== "encrypt")) return null;
  const records = policy.tlsa.map(tlsaText);
  const outcome = (ok: boolean, resultType: DaneResultType | null, reason: string): DaneOutcome => ({ domain, mxHost: host.name, policy: records, ok, resultType, reason });
  let refused: { resultType: TlsaFailureType; reason: string } | null = null;
  const session: DaneSession = {
    success: () => outcome(true, null, policy.mode === "dane" ? `authenticated by ${policy.tlsaName}` : `TLS without authentication: ${policy.reason}`),
    failure: (error) => {
      if (error.stage === "peer" && refused) return outcome(false, refused.resultType, refused.reason);
      // RFC 8460 §4.3.1: the receiver did not offer (or refused) STARTTLS, or the handshake failed.
      if (error.stage === "starttls") return outcome(false, "starttls-not-supported", error.message);
      // A certificate refused in the handshake: PKIX asked of a host whose records are none usable
      // (mode "encrypt") by a REQUIRETLS message (queue/require-tls.ts); any other handshake failure
      // (protocol, cipher, reset) is validation-failure.
      const type = tlsRptResultType(error);
      return outcome(false, type === "certificate-host-mismatch" || type === "certificate-expired" || type === "certificate-not-trusted" ? type : "validation-failure", error.message);
    },
  };
  if (policy.mode === "dane") {
    // RFC 7672 §3.2.2: the TLSA base domain (the CNAME-expanded MX name when the records were found
    // there), the MX host name and the recipient domain are the reference identifiers.
    const base = policy.tlsaName.replace(/^_\d+\._tcp\./, "");
    const names = base === host.name ? [host.name, domain] : [base, host.name, domain];
    session.verifyPeer = (socket) => {
      refused = verifyDanePeer(socket, policy, names);
      return refused?.reason ?? null;
    };
  }
  return session;
}
