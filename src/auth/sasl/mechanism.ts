// The contract of a SASL mechanism (RFC 4422), shared by SMTP AUTH, IMAP AUTHENTICATE and POP3
// AUTH. A mechanism is a sans-IO state machine over decoded bytes: the protocol decodes the wire
// line (wire.ts), feeds bytes in, and writes whatever challenge comes back. Mechanisms never see
// sockets, base64, the store or the clock, so they are table- and property-testable.
//
// How SCRAM-SHA-256 (RFC 7677) fits later: its factory receives a lookup of the account's stored
// SCRAM keys, so `next` may return a Promise (hence `SaslStepResult`); it answers the client-first
// message with a challenge, checks the proof itself, sends server-final as one more challenge
// (RFC 4954 §4 has no "additional data with success"), and ends with `done` carrying credentials
// of kind "verified" instead of "password". Protocols already await every step.
import { isUtf8 } from "node:buffer";

/** What a password mechanism (PLAIN, LOGIN) hands to the Authenticator for checking. */
export interface SaslPasswordCredentials {
  kind: "password";
  /** Authentication identity: the login name. */
  authcid: string;
  /** Authorization identity, when the client sent one. Only ever equal to authcid: no proxy auth. */
  authzid: string | null;
  password: string;
}

/** Credentials a finished exchange produced. SCRAM will add `{ kind: "verified"; authcid }`. */
export type SaslCredentials = SaslPasswordCredentials;

/** Why a mechanism gave up; protocols map every reason to their "authentication failed" reply. */
export type SaslFailureReason =
  | "malformed" // the message does not follow the mechanism's grammar
  | "invalid-utf8"
  | "too-long" // a field is over its configured limit
  | "empty-field" // an empty authcid or password
  | "authzid-mismatch" // proxy authorization requested: we do not support it
  | "unexpected-response"; // a response after the exchange finished

export type SaslStep =
  | { kind: "challenge"; challenge: Buffer }
  | { kind: "done"; credentials: SaslCredentials }
  | { kind: "error"; reason: SaslFailureReason };

export type SaslStepResult = SaslStep | Promise<SaslStep>;

export interface SaslMechanism {
  /** The registered name (RFC 4422 §3.1), upper case. */
  readonly name: string;
  /** The first step: with the initial response (RFC 4959 SASL-IR, RFC 4954 §4), or null without one. */
  start(initialResponse: Buffer | null): SaslStepResult;
  /** Every later client response. */
  next(response: Buffer): SaslStepResult;
}

export interface SaslLimits {
  /** Longest authcid or authzid, in UTF-8 bytes. RFC 4616 §2 requires accepting at least 255. */
  maxIdentityBytes: number;
  /** Longest password, in UTF-8 bytes. */
  maxPasswordBytes: number;
}

export const DEFAULT_SASL_LIMITS: Readonly<SaslLimits> = Object.freeze({ maxIdentityBytes: 255, maxPasswordBytes: 1024 });

export interface SaslMechanismDescriptor {
  /** Upper-case registered name. */
  name: string;
  /** True when the password crosses the link recoverably: offered only over TLS unless configured. */
  plaintext: boolean;
  create(limits: SaslLimits): SaslMechanism;
}

export type SaslField = { ok: true; value: string } | { ok: false; reason: SaslFailureReason };

/**
 * Decodes one text field of a mechanism message: valid UTF-8 (RFC 4616 §2 requires it and says
 * the server must fail otherwise), within its byte limit, and not empty unless allowed.
 */
export function decodeSaslField(bytes: Buffer, maxBytes: number, allowEmpty: boolean): SaslField {
  if (bytes.length > maxBytes) return { ok: false, reason: "too-long" };
  if (bytes.length === 0 && !allowEmpty) return { ok: false, reason: "empty-field" };
  if (!isUtf8(bytes)) return { ok: false, reason: "invalid-utf8" };
  return { ok: true, value: bytes.toString("utf8") };
}
