// What a TLS failure with one destination host means for the delivery (docs/architecture.md,
// "Outbound TLS"): under opportunistic TLS (RFC 7435) a failed STARTTLS handshake is retried at once
// with the same host in plaintext, as Postfix does ("smtp_tls_security_level = may"): refusing to
// deliver to a server whose TLS is broken protects nothing, since an attacker on the path could
// as well have removed STARTTLS from its EHLO. When TLS is required (MTA-STS in mode enforce,
// DANE, REQUIRETLS, outbound.require_tls, a smarthost) there is no fallback: the host fails with
// an RFC 3463 X.7.x status and the reason. Also the RFC 8460 result type of the failure.
import type { Logger } from "../observability/log.js";
import type { DestinationHost } from "./destination.js";
import { SmtpClient, SmtpClientError, TlsFailure, type SmtpClientOptions } from "./smtp-client.js";

/**
 * Whether this host may be retried without TLS after a failed handshake: only when nothing asked
 * for it. Never for a DANE host (validated TLSA records, usable or not: RFC 7672 §2.2), an
 * MTA-STS enforce host (RFC 8461 §5), a REQUIRETLS message (RFC 8689 §4.2.1) or
 * outbound.require_tls (tls "required"). A DNSSEC-signed MX without TLSA records (mxAuthenticated
 * "dnssec", DANE mode "none") asks for nothing, as in Postfix's "dane" level without TLSA.
 */
export function mayFallBackToPlaintext(host: DestinationHost): boolean {
  return host.tls === "opportunistic" && host.verifyCertificate !== true && host.requireTls !== true && !daneRequiresTls(host);
}

/** A host with validated TLSA records (queue/dane.ts modes "dane" and "encrypt"): TLS is mandatory. */
export function daneRequiresTls(host: DestinationHost): boolean {
  return host.dane?.mode === "dane" || host.dane?.mode === "encrypt";
}

/**
 * Opens a session with the host as SmtpClient.open does; a handshake that fails under
 * opportunistic TLS is followed at once by a plaintext session with the same address, logged as
 * queue.tls_fallback with the reason. `onTlsFailure` sees the failure either way (TLS-RPT).
 */
export async function openSession(options: SmtpClientOptions, host: DestinationHost, log: Logger, queueId: number, onTlsFailure?: (failure: TlsFailure) => void): Promise<SmtpClient> {
  try {
    return await SmtpClient.open(options);
  } catch (error) {
    if (!(error instanceof TlsFailure)) throw error;
    onTlsFailure?.(error);
    if (error.stage !== "handshake" || !mayFallBackToPlaintext(host)) throw error;
    log.warn("queue.tls_fallback", { queueId, host: host.name, address: options.address, port: options.port, reason: error.message });
    return SmtpClient.open({ ...options, tls: "none" });
  }
}

/** A refusal of ours after the session opened (e.g. REQUIRETLS not offered): its status and permanence. */
export class PolicyRefusal extends SmtpClientError {
  declare readonly status: string;
  constructor(message: string, status: string) {
    super(message, !status.startsWith("5"), null, status);
    this.name = "PolicyRefusal";
  }
}

/**
 * The status and permanence of a host failure that is about TLS, or null for the others (their
 * reply, or a connection failure, says what it is). RFC 3463 / RFC 5248: X.7.10 "encryption
 * needed" when TLS was not offered, X.7.5 "cryptographic failure" for a failed handshake or an
 * unacceptable certificate; REQUIRETLS makes both permanent with 5.7.10 (RFC 8689 §5), so the
 * sender is told the message could not go the way it asked, also when it was DANE that refused
 * the server. Without REQUIRETLS a DANE host's failure is 4.7.5 whatever went wrong (RFC 7672
 * §2.2: the host is not authenticated, and the message waits).
 */
export function tlsFailureStatus(error: unknown, host: DestinationHost): { status: string; permanent: boolean } | null {
  if (error instanceof PolicyRefusal) return { status: error.status, permanent: !error.temporary };
  if (!(error instanceof TlsFailure)) return null;
  if (host.requireTls === true) return { status: "5.7.10", permanent: true };
  if (daneRequiresTls(host) || error.stage === "peer") return { status: "4.7.5", permanent: false };
  return { status: error.stage === "starttls" ? "4.7.10" : "4.7.5", permanent: false };
}

/** RFC 8460 §4.3 result types this module can tell apart (DANE's come from queue/dane.ts). */
export type TlsRptResultType =
  | "starttls-not-supported"
  | "certificate-host-mismatch"
  | "certificate-expired"
  | "certificate-not-trusted"
  | "validation-failure"
  | "sts-policy-fetch-error"
  | "sts-policy-invalid"
  | "sts-webpki-invalid"
  | "tlsa-invalid"
  | "dnssec-invalid"
  | "dane-required";

export const TLS_RPT_RESULT_TYPES: readonly TlsRptResultType[] = [
  "starttls-not-supported",
  "certificate-host-mismatch",
  "certificate-expired",
  "certificate-not-trusted",
  "validation-failure",
  "sts-policy-fetch-error",
  "sts-policy-invalid",
  "sts-webpki-invalid",
  "tlsa-invalid",
  "dnssec-invalid",
  "dane-required",
];

/** Node's/OpenSSL's certificate error codes that mean "no chain to a trusted root". */
const UNTRUSTED = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_UNTRUSTED",
  "CERT_SIGNATURE_FAILURE",
  "CERT_REVOKED",
  "INVALID_CA",
]);

/** RFC 8460 §4.3.2: the result type of a TLS failure. */
export function tlsRptResultType(failure: TlsFailure): TlsRptResultType {
  if (failure.stage === "starttls") return "starttls-not-supported";
  // A refusal by verifyPeer is DANE's, whose own result types are used instead (queue/dane.ts).
  if (failure.stage === "peer") return "validation-failure";
  const code = failure.code ?? "";
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID") return "certificate-host-mismatch";
  if (code === "CERT_HAS_EXPIRED" || code === "CERT_NOT_YET_VALID") return "certificate-expired";
  if (UNTRUSTED.has(code)) return "certificate-not-trusted";
  // A handshake that failed for another reason (no shared protocol or cipher, a reset).
  return "validation-failure";
}

/**
 * RFC 8460 §4.3.1: the result type of an MTA-STS policy that could not be had, from the fetch
 * error's words (queue/mta-sts.ts): a certificate the policy host could not prove, a policy that
 * is no valid policy (bad media type or content), or no policy fetched at all.
 */
export function stsFetchResultType(error: string): TlsRptResultType {
  if (/certificate|self[- ]signed|altnames|CERT_/i.test(error)) return "sts-webpki-invalid";
  if (/^MTA-STS policy:|^media type/i.test(error)) return "sts-policy-invalid";
  return "sts-policy-fetch-error";
}
