// The PLAIN mechanism, RFC 4616: one client message `[authzid] NUL authcid NUL passwd`.
// We do not support proxy authorization (acting as another user), so an authzid must be empty or
// name the authcid itself; anything else fails rather than silently logging in as authcid.
import { decodeSaslField } from "./mechanism.js";
import type { SaslLimits, SaslMechanism, SaslMechanismDescriptor, SaslStep } from "./mechanism.js";

const NUL = 0x00;

/** Parses one PLAIN message (RFC 4616 §2) into credentials, or the reason it is refused. */
export function parsePlainMessage(message: Buffer, limits: SaslLimits): SaslStep {
  const first = message.indexOf(NUL);
  const second = first < 0 ? -1 : message.indexOf(NUL, first + 1);
  // Exactly two NULs: a third would make the password contain one, which `SAFE` excludes.
  if (first < 0 || second < 0 || message.indexOf(NUL, second + 1) >= 0) return { kind: "error", reason: "malformed" };
  const authzid = decodeSaslField(message.subarray(0, first), limits.maxIdentityBytes, true);
  if (!authzid.ok) return { kind: "error", reason: authzid.reason };
  const authcid = decodeSaslField(message.subarray(first + 1, second), limits.maxIdentityBytes, false);
  if (!authcid.ok) return { kind: "error", reason: authcid.reason };
  const password = decodeSaslField(message.subarray(second + 1), limits.maxPasswordBytes, false);
  if (!password.ok) return { kind: "error", reason: password.reason };
  if (authzid.value !== "" && !sameIdentity(authzid.value, authcid.value)) return { kind: "error", reason: "authzid-mismatch" };
  return {
    kind: "done",
    credentials: { kind: "password", authcid: authcid.value, authzid: authzid.value === "" ? null : authzid.value, password: password.value },
  };
}

/** Login names are addresses, compared case-insensitively as the account store does. */
function sameIdentity(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

class PlainMechanism implements SaslMechanism {
  readonly name = "PLAIN";
  private finished = false;

  constructor(private readonly limits: SaslLimits) {}

  start(initialResponse: Buffer | null): SaslStep {
    // RFC 4422 §5: without an initial response the server sends an empty challenge first.
    if (initialResponse === null) return { kind: "challenge", challenge: Buffer.alloc(0) };
    return this.next(initialResponse);
  }

  next(response: Buffer): SaslStep {
    if (this.finished) return { kind: "error", reason: "unexpected-response" };
    this.finished = true;
    return parsePlainMessage(response, this.limits);
  }
}

export const PLAIN = {
  name: "PLAIN",
  plaintext: true,
  create: (limits: SaslLimits): SaslMechanism => new PlainMechanism(limits),
} satisfies SaslMechanismDescriptor;
