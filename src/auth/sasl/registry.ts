// The mechanisms the server implements, which of them to advertise on a given link, and the
// factory protocols call with the client's chosen name. An unknown name yields null, which each
// protocol answers in its own words (SMTP 504 5.5.4, IMAP NO, POP3 -ERR).
import { DEFAULT_SASL_LIMITS } from "./mechanism.js";
import type { SaslLimits, SaslMechanism, SaslMechanismDescriptor, SaslServerContext } from "./mechanism.js";
import { LOGIN } from "./login.js";
import { PLAIN } from "./plain.js";
import { SCRAM_SHA_1, SCRAM_SHA_1_PLUS, SCRAM_SHA_256, SCRAM_SHA_256_PLUS } from "./scram.js";

/**
 * In preference order: SCRAM (the password never crosses the link; RFC 7677 SHA-256 first, with
 * channel binding first), then PLAIN (RFC 4616), LOGIN only for old clients.
 */
export const SASL_MECHANISMS: readonly SaslMechanismDescriptor[] = Object.freeze([SCRAM_SHA_256_PLUS, SCRAM_SHA_256, SCRAM_SHA_1_PLUS, SCRAM_SHA_1, PLAIN, LOGIN]);

export interface SaslLink {
  /** Whether the connection is encrypted (implicit TLS or after STARTTLS/STLS). */
  tls: boolean;
  /**
   * Operator opt-in to plaintext mechanisms on an unencrypted link (testing, or a loopback-only
   * listener). RFC 8314 §3 and RFC 4954 §4 say cleartext passwords belong only under TLS.
   */
  allowPlaintextWithoutTls: boolean;
  /** Operator's list of enabled mechanism names; all implemented ones when absent. */
  enabled?: readonly string[];
  /** The server can check SCRAM proofs (its Authenticator looks keys up); absent: no SCRAM. */
  scram?: boolean;
  /**
   * The link has channel-binding data (TLS); -PLUS mechanisms are offered only then (RFC 5802 §6).
   * Absent: the same as `tls`.
   */
  channelBinding?: boolean;
}

/** The descriptor for a client-supplied name (case-insensitive, RFC 4422 §3.1), or null. */
export function findMechanism(name: string): SaslMechanismDescriptor | null {
  const wanted = name.toUpperCase();
  return SASL_MECHANISMS.find((m) => m.name === wanted) ?? null;
}

/**
 * Whether a mechanism may be used on this link. Protocols check this for the mechanism a client
 * names, not only when advertising, since a client may try one that was not offered (SMTP then
 * answers 538 5.7.11 "Encryption required", RFC 4954 §6).
 */
export function mechanismPermitted(descriptor: SaslMechanismDescriptor, link: SaslLink): boolean {
  if (link.enabled && !link.enabled.some((name) => name.toUpperCase() === descriptor.name)) return false;
  if (descriptor.name.startsWith("SCRAM-") && link.scram !== true) return false;
  if (descriptor.channelBinding === true && !(link.channelBinding ?? link.tls)) return false;
  return !descriptor.plaintext || link.tls || link.allowPlaintextWithoutTls;
}

/** Mechanism names to advertise (EHLO AUTH, CAPABILITY AUTH=, CAPA SASL) on this link. */
export function advertisedMechanisms(link: SaslLink): string[] {
  return SASL_MECHANISMS.filter((m) => mechanismPermitted(m, link)).map((m) => m.name);
}

/** A fresh mechanism state machine for one exchange, or null when the name is not implemented. */
export function createMechanism(name: string, limits: SaslLimits = DEFAULT_SASL_LIMITS, context?: SaslServerContext): SaslMechanism | null {
  return findMechanism(name)?.create(limits, context) ?? null;
}
