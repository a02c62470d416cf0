// The LOGIN mechanism (draft-murchison-sasl-login-00): the server asks "Username:" then
// "Password:", each answered by one client response. It is obsolete but still what many older
// clients (Outlook before 2007, some printers and scanners) send for SMTP AUTH. An initial
// response, when present, is the username (draft §2), so the exchange skips the first challenge.
import { decodeSaslField } from "./mechanism.js";
import type { SaslLimits, SaslMechanism, SaslMechanismDescriptor, SaslStep } from "./mechanism.js";

// The draft says clients must ignore the challenge text; these are the strings everyone sends.
const USERNAME_CHALLENGE = Buffer.from("Username:", "ascii");
const PASSWORD_CHALLENGE = Buffer.from("Password:", "ascii");

type LoginState = { phase: "username" } | { phase: "password"; username: string } | { phase: "finished" };

class LoginMechanism implements SaslMechanism {
  readonly name = "LOGIN";
  private state: LoginState = { phase: "username" };

  constructor(private readonly limits: SaslLimits) {}

  start(initialResponse: Buffer | null): SaslStep {
    if (initialResponse === null) return { kind: "challenge", challenge: USERNAME_CHALLENGE };
    return this.next(initialResponse);
  }

  next(response: Buffer): SaslStep {
    const state = this.state;
    // Whatever happens below ends the exchange unless it moves on to the password.
    this.state = { phase: "finished" };
    switch (state.phase) {
      case "username": {
        // A NUL cannot be part of a login name, and accepting one here would let LOGIN carry
        // identities PLAIN's grammar cannot express.
        if (response.includes(0x00)) return { kind: "error", reason: "malformed" };
        const username = decodeSaslField(response, this.limits.maxIdentityBytes, false);
        if (!username.ok) return { kind: "error", reason: username.reason };
        this.state = { phase: "password", username: username.value };
        return { kind: "challenge", challenge: PASSWORD_CHALLENGE };
      }
      case "password": {
        const password = decodeSaslField(response, this.limits.maxPasswordBytes, false);
        if (!password.ok) return { kind: "error", reason: password.reason };
        return { kind: "done", credentials: { kind: "password", authcid: state.username, authzid: null, password: password.value } };
      }
      case "finished":
        return { kind: "error", reason: "unexpected-response" };
    }
  }
}

export const LOGIN = {
  name: "LOGIN",
  plaintext: true,
  create: (limits: SaslLimits): SaslMechanism => new LoginMechanism(limits),
} satisfies SaslMechanismDescriptor;
