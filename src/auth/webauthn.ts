// WebAuthn passkeys (W3C Web Authentication Level 2) for the web pages (issue 22): an admin or a
// mail account registers passkeys while signed in, and signs in with one instead of the password
// and TOTP code (a passkey with user verification is two factors by itself: the device, and its
// PIN or biometric). The cryptography and the checks of the ceremonies (origin, RP ID hash, the
// challenge, user presence and verification, signature over authenticatorData || hash(clientData),
// COSE ES256/RS256/EdDSA keys, attestation "none") are @simplewebauthn/server's, a maintained
// library that runs on Node 20 (engines >=20); this module keeps what is Mailroom's: the
// one-time challenges, the credentials in the store (store/web-auth-store.ts), and the signature
// counter's compare-and-set (a counter that does not grow means a cloned authenticator: refused).
//
// Challenges live in this process for CHALLENGE_TTL_MS and are used once. Behind a load balancer
// with several nodes, the options and the answer must reach the same node (sticky sessions), or
// the ceremony is refused as "unknown challenge" and the user simply tries again.
import { randomBytes } from "node:crypto";
import { generateAuthenticationOptions, generateRegistrationOptions, verifyAuthenticationResponse, verifyRegistrationResponse } from "@simplewebauthn/server";
import type { AuthenticationResponseJSON, PublicKeyCredentialCreationOptionsJSON, PublicKeyCredentialRequestOptionsJSON, RegistrationResponseJSON } from "@simplewebauthn/server";
import type { CredentialOwner, WebAuthnCredential, WebAuthStore } from "../store/index.js";

export const CHALLENGE_TTL_MS = 5 * 60_000;
/** Pending ceremonies kept at most (a flood of option requests cannot grow memory without bound). */
const MAX_PENDING = 10_000;
export const MAX_PASSKEYS = 20;
/** COSE algorithms offered: ES256 (-7), EdDSA (-8), RS256 (-257): what authenticators implement. */
const ALGORITHMS = [-7, -8, -257];
const NAME = /^[\p{L}\p{N} ._@+-]{1,64}$/u;

/** Where the ceremony runs: the RP ID is the host name, the origin the page's scheme://host[:port]. */
export interface RelyingParty {
  rpId: string;
  origin: string;
}

type Pending = { purpose: "register"; owner: CredentialOwner; expires: number } | { purpose: "login"; kind: CredentialOwner["kind"]; expires: number };

export type PasskeyVerdict = { ok: true; credential: WebAuthnCredential } | { ok: false; reason: "unknown-challenge" | "unknown-credential" | "wrong-kind" | "invalid-assertion" | "counter-regressed" | "malformed" };

function ownerKey(owner: CredentialOwner): string {
  return owner.kind === "admin" ? `admin:${owner.name}` : `account:${owner.accountId}`;
}

/** The challenge a response's clientDataJSON carries (base64url), or null when it cannot be read. */
export function challengeOf(response: unknown): string | null {
  try {
    const client = (response as { response?: { clientDataJSON?: unknown } })?.response?.clientDataJSON;
    if (typeof client !== "string" || client.length > 4096) return null;
    const parsed = JSON.parse(Buffer.from(client, "base64url").toString("utf8")) as { challenge?: unknown };
    return typeof parsed.challenge === "string" && parsed.challenge.length <= 128 ? parsed.challenge : null;
  } catch {
    return null;
  }
}

export class Passkeys {
  private readonly pending = new Map<string, Pending>();

  constructor(
    private readonly store: WebAuthStore,
    private readonly rpName: string,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  private remember(challenge: string, entry: Pending): void {
    const now = this.clock().getTime();
    for (const [key, value] of this.pending) {
      if (value.expires > now && this.pending.size < MAX_PENDING) break;
      // Oldest first (insertion order): expired ones, and the oldest when full.
      this.pending.delete(key);
    }
    this.pending.set(challenge, entry);
  }

  /** Takes the pending ceremony of a response's challenge (each is used once), or null. */
  private take(response: unknown): Pending | null {
    const challenge = challengeOf(response);
    if (challenge === null) return null;
    const entry = this.pending.get(challenge);
    if (entry === undefined) return null;
    this.pending.delete(challenge);
    return entry.expires > this.clock().getTime() ? entry : null;
  }

  async registrationOptions(owner: CredentialOwner, userName: string, rp: RelyingParty): Promise<PublicKeyCredentialCreationOptionsJSON> {
    const existing = await this.store.listWebAuthnCredentials(owner);
    if (existing.length >= MAX_PASSKEYS) throw new PasskeyError("too-many", `at most ${MAX_PASSKEYS} passkeys`);
    const options = await generateRegistrationOptions({
      rpName: this.rpName,
      rpID: rp.rpId,
      userName,
      // A random user handle per registration: it names no account to whoever reads the authenticator.
      userID: new Uint8Array(randomBytes(16)),
      attestationType: "none",
      excludeCredentials: existing.map((c) => ({ id: c.credentialId, transports: c.transports as never })),
      authenticatorSelection: { residentKey: "preferred", userVerification: "required" },
      supportedAlgorithmIDs: ALGORITHMS,
      timeout: CHALLENGE_TTL_MS,
    });
    this.remember(options.challenge, { purpose: "register", owner, expires: this.clock().getTime() + CHALLENGE_TTL_MS });
    return options;
  }

  /** Verifies a registration response for `owner` and stores the credential under `name`. */
  async register(owner: CredentialOwner, name: string, response: unknown, rp: RelyingParty): Promise<WebAuthnCredential> {
    if (!NAME.test(name)) throw new PasskeyError("invalid", "a passkey name has 1 to 64 letters, digits, spaces or . _ @ + -");
    const entry = this.take(response);
    if (entry === null || entry.purpose !== "register" || ownerKey(entry.owner) !== ownerKey(owner)) throw new PasskeyError("invalid", "unknown or expired challenge: start again");
    let verified;
    try {
      verified = await verifyRegistrationResponse({ response: response as RegistrationResponseJSON, expectedChallenge: () => true, expectedOrigin: rp.origin, expectedRPID: rp.rpId, requireUserVerification: true, supportedAlgorithmIDs: ALGORITHMS });
    } catch (error) {
      throw new PasskeyError("invalid", `the passkey's answer was refused: ${error instanceof Error ? error.message : String(error)}`.slice(0, 300));
    }
    if (!verified.verified) throw new PasskeyError("invalid", "the passkey's answer was refused");
    const { credential } = verified.registrationInfo;
    try {
      return await this.store.addWebAuthnCredential({ owner, credentialId: credential.id, publicKey: Buffer.from(credential.publicKey).toString("base64url"), signCount: credential.counter, transports: (credential.transports ?? []).map(String), name, createdAt: this.clock() });
    } catch (error) {
      if ((error as { code?: string }).code === "ALREADYEXISTS") throw new PasskeyError("conflict", "this passkey, or one of that name, is registered already");
      throw error;
    }
  }

  /** Options for a sign-in; without allowCredentials, so the browser offers the passkeys it holds for this site. */
  async authenticationOptions(kind: CredentialOwner["kind"], rp: RelyingParty): Promise<PublicKeyCredentialRequestOptionsJSON> {
    const options = await generateAuthenticationOptions({ rpID: rp.rpId, userVerification: "required", timeout: CHALLENGE_TTL_MS });
    this.remember(options.challenge, { purpose: "login", kind, expires: this.clock().getTime() + CHALLENGE_TTL_MS });
    return options;
  }

  /**
   * Checks a sign-in assertion: a challenge this server issued for this kind of sign-in (once),
   * a credential of this kind, a valid signature from its key with user presence and verification,
   * for this origin and RP ID, and a counter that grew (or stays 0 on authenticators that keep none).
   */
  async authenticate(kind: CredentialOwner["kind"], response: unknown, rp: RelyingParty): Promise<PasskeyVerdict> {
    const id = (response as { id?: unknown })?.id;
    if (typeof id !== "string" || id.length === 0 || id.length > 1400 || !/^[A-Za-z0-9_-]+$/.test(id)) return { ok: false, reason: "malformed" };
    const entry = this.take(response);
    if (entry === null || entry.purpose !== "login" || entry.kind !== kind) return { ok: false, reason: "unknown-challenge" };
    const stored = await this.store.findWebAuthnCredential(id);
    if (stored === null) return { ok: false, reason: "unknown-credential" };
    if (stored.owner.kind !== kind) return { ok: false, reason: "wrong-kind" };
    let verified;
    try {
      verified = await verifyAuthenticationResponse({
        response: response as AuthenticationResponseJSON,
        expectedChallenge: () => true,
        expectedOrigin: rp.origin,
        expectedRPID: rp.rpId,
        credential: { id: stored.credentialId, publicKey: new Uint8Array(Buffer.from(stored.publicKey, "base64url")), counter: stored.signCount, transports: stored.transports as never },
        requireUserVerification: true,
      });
    } catch {
      // The library throws on every failed check (signature, origin, RP ID, flags, counter).
      return { ok: false, reason: "invalid-assertion" };
    }
    if (!verified.verified) return { ok: false, reason: "invalid-assertion" };
    const next = verified.authenticationInfo.newCounter;
    // Both zero: an authenticator without a counter (passkeys synced between devices keep none).
    if (!(next === 0 && stored.signCount === 0) && next <= stored.signCount) return { ok: false, reason: "counter-regressed" };
    if (!(await this.store.useWebAuthnCredential(stored.id, stored.signCount, next, this.clock()))) return { ok: false, reason: "counter-regressed" };
    return { ok: true, credential: { ...stored, signCount: next } };
  }

  list(owner: CredentialOwner): Promise<WebAuthnCredential[]> {
    return this.store.listWebAuthnCredentials(owner);
  }

  async remove(owner: CredentialOwner, id: number): Promise<void> {
    if (!(await this.store.deleteWebAuthnCredential(owner, id))) throw new PasskeyError("not-found", `no passkey ${id}`);
  }
}

export class PasskeyError extends Error {
  constructor(
    readonly kind: "invalid" | "conflict" | "not-found" | "too-many",
    message: string,
  ) {
    super(message);
  }
}

/** What a passkey list shows: never the key. */
export function passkeyView(c: WebAuthnCredential): { id: number; name: string; transports: string[]; createdAt: Date; lastUsedAt: Date | null } {
  return { id: c.id, name: c.name, transports: c.transports, createdAt: c.createdAt, lastUsedAt: c.lastUsedAt };
}
