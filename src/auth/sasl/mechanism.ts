// The contract of a SASL mechanism (RFC 4422), shared by SMTP AUTH, IMAP AUTHENTICATE and POP3
// AUTH. A mechanism is a sans-IO state machine over decoded bytes: the protocol decodes the wire
// line (wire.ts), feeds bytes in, and writes whatever challenge comes back. Mechanisms never see
// sockets, base64, the store or the clock, so they are table- and property-testable.
//
// SCRAM (scram.ts) fits in as designed: its factory receives a lookup of the account's stored
// SCRAM keys (SaslServerContext), so `next` returns a Promise; it answers the client-first message
// with a challenge, checks the proof itself, sends server-final as one more challenge (RFC 4954 §4
// has no "additional data with success"), and ends with `done` carrying credentials of kind
// "scram" instead of "password". Protocols await every step.
import { isUtf8 } from "node:buffer";
import type { ScramServerContext } from "./scram.js";

/** What a password mechanism (PLAIN, LOGIN) hands to the Authenticator for checking. */
export interface SaslPasswordCredentials {
  kind: "password";
  /** Authentication identity: the login name. */
  authcid: string;
  /** Authorization identity, when the client sent one. Only ever equal to authcid: no proxy auth. */
  authzid: string | null;
  password: string;
}

/** Why a SCRAM exchange failed (RFC 5802 §7 server-error-value names where one exists). */
export type ScramFailure =
  | "malformed"
  | "extensions-not-supported"
  | "authzid-mismatch"
  | "channel-binding-required"
  | "channel-binding-not-supported"
  | "unsupported-channel-binding-type"
  | "downgrade-detected"
  | "channel-bindings-dont-match"
  | "nonce-mismatch"
  | "invalid-proof"
  | "throttled"
  | "temporary-failure";

/**
 * What a SCRAM exchange (scram.ts) hands to the Authenticator: the proof is already checked, so
 * this is either the secret that matched or why nothing did. Failures come here too, so the
 * Authenticator counts them in the throttle and logs them like a wrong PLAIN password.
 */
export interface SaslScramCredentials {
  kind: "scram";
  mechanism: string;
  /** The login name from client-first; "" when the message was too broken to carry one. */
  authcid: string;
  authzid: string | null;
  /** "password" or "app:<id>" when the proof matched; null on failure. */
  credential: string | null;
  failure: ScramFailure | null;
  /** The account whose keys the proof matched (ScramLookup.accountId). */
  accountId?: number;
  /** The version of the matched secret (ScramKeyEntry.tag): the main password's hash tag. */
  keyTag?: string;
}

/** Credentials a finished exchange produced. */
export type SaslCredentials = SaslPasswordCredentials | SaslScramCredentials;

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
  /** A -PLUS mechanism (RFC 5802 §6): offered only on a link with channel-binding data. */
  channelBinding?: boolean;
  /** A fresh state machine; null when the server context lacks what the mechanism needs (SCRAM's key lookup). */
  create(limits: SaslLimits, context?: SaslServerContext): SaslMechanism | null;
}

/** What server-verified mechanisms need from the server: for SCRAM, the key lookup and channel bindings. */
export interface SaslServerContext {
  scram?: ScramServerContext;
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
