// Who may use the browser side (docs/architecture.md, "Admin API and pages"): admin accounts
// (separate from mail accounts, argon2id hashes as auth/password-hash.ts makes them), the sessions
// of signed-in browsers (admins at /admin, mail users at /account) and API tokens for scripts.
// Secrets are never stored: a session cookie and an API token are kept as their SHA-256 only, so a
// copy of the database signs nobody in. Times are epoch milliseconds in the tables.
// Second factors (issue 22): an admin's TOTP state (the same JSON as a mail account's, auth/totp.ts)
// and WebAuthn passkeys (auth/webauthn.ts) of admins and mail accounts: public keys only.
import type { AccountId } from "./types.js";

export interface AdminUser {
  readonly name: string;
  readonly passwordHash: string;
  readonly createdAt: Date;
}

/** A signed-in browser: `kind` says whether `subject` names an admin or a mail account. */
export interface WebSession {
  /** SHA-256 (hex) of the cookie value. */
  readonly idHash: string;
  readonly kind: "admin" | "account";
  readonly subject: string;
  /** The synchronizer token every state-changing request must echo (X-CSRF-Token). */
  readonly csrfToken: string;
  readonly createdAt: Date;
  readonly expiresAt: Date;
}

export interface ApiToken {
  readonly id: number;
  readonly name: string;
  /** The admin who made it; the token acts as that admin. */
  readonly admin: string;
  /** SHA-256 (hex) of the token. */
  readonly tokenHash: string;
  readonly createdAt: Date;
  readonly expiresAt: Date | null;
  readonly lastUsedAt: Date | null;
}

/** Whose passkey: an admin (by name) or a mail account (by id, so a new account of a deleted one's address gets none). */
export type CredentialOwner = { readonly kind: "admin"; readonly name: string } | { readonly kind: "account"; readonly accountId: AccountId };

/** A WebAuthn credential (a passkey or security key) registered for an owner. */
export interface WebAuthnCredential {
  readonly id: number;
  readonly owner: CredentialOwner;
  /** The credential ID the authenticator chose (base64url), unique. */
  readonly credentialId: string;
  /** Its COSE public key (base64url), as the attested credential data carried it. */
  readonly publicKey: string;
  /** The signature counter last seen (0 for authenticators that keep none). */
  readonly signCount: number;
  readonly transports: string[];
  /** A label the owner chose ("laptop", "YubiKey"). */
  readonly name: string;
  readonly createdAt: Date;
  readonly lastUsedAt: Date | null;
}

export interface NewWebAuthnCredential {
  owner: CredentialOwner;
  credentialId: string;
  publicKey: string;
  signCount: number;
  transports: string[];
  name: string;
  createdAt: Date;
}

export interface WebAuthStore {
  /** ALREADYEXISTS when the name is taken. */
  addAdminUser(name: string, passwordHash: string, createdAt: Date): Promise<AdminUser>;
  findAdminUser(name: string): Promise<AdminUser | null>;
  listAdminUsers(): Promise<AdminUser[]>;
  /** NONEXISTENT when there is no such admin. */
  setAdminPasswordHash(name: string, passwordHash: string): Promise<void>;
  /** Removes the admin with its sessions and tokens; NONEXISTENT when there is no such admin. */
  deleteAdminUser(name: string): Promise<void>;

  createWebSession(session: WebSession): Promise<void>;
  /** The session, or null when unknown or expired at `now`. */
  findWebSession(idHash: string, now: Date): Promise<WebSession | null>;
  /** Moves the expiry (idle timeout) of a live session. */
  extendWebSession(idHash: string, expiresAt: Date): Promise<void>;
  deleteWebSession(idHash: string): Promise<void>;
  /** Ends every session of one subject (a password change signs other browsers out); returns how many. */
  deleteWebSessionsOf(kind: WebSession["kind"], subject: string): Promise<number>;
  /** Removes expired sessions; returns how many. */
  pruneWebSessions(now: Date): Promise<number>;

  /** ALREADYEXISTS when the admin already has a token of that name; NONEXISTENT without the admin. */
  addApiToken(token: { name: string; admin: string; tokenHash: string; createdAt: Date; expiresAt: Date | null }): Promise<ApiToken>;
  /** The token with this hash, or null (expired ones too are returned: the caller decides). */
  findApiToken(tokenHash: string): Promise<ApiToken | null>;
  listApiTokens(): Promise<ApiToken[]>;
  /** false when there was no such token. */
  deleteApiToken(id: number): Promise<boolean>;
  markApiTokenUsed(id: number, at: Date): Promise<void>;

  /** An admin's TOTP state (auth/totp.ts JSON), or null when off or no such admin. */
  getAdminTotp(name: string): Promise<string | null>;
  /**
   * Sets (or with null clears) an admin's TOTP state. With `expect`, only when the stored state
   * still equals it (compare-and-set: a code is used once even when two sign-ins race); resolves
   * to whether it wrote. NONEXISTENT when there is no such admin.
   */
  setAdminTotp(name: string, totp: string | null, expect?: string | null): Promise<boolean>;

  /** ALREADYEXISTS when the credential ID is registered already or the owner has one of that name; NONEXISTENT without the owner. */
  addWebAuthnCredential(credential: NewWebAuthnCredential): Promise<WebAuthnCredential>;
  /** The owner's credentials, oldest first. */
  listWebAuthnCredentials(owner: CredentialOwner): Promise<WebAuthnCredential[]>;
  findWebAuthnCredential(credentialId: string): Promise<WebAuthnCredential | null>;
  /** Records a use: the new counter and time, only if the counter is still `expectedSignCount` (compare-and-set); resolves to whether it wrote. */
  useWebAuthnCredential(id: number, expectedSignCount: number, signCount: number, at: Date): Promise<boolean>;
  /** false when the owner has no credential of that id. */
  deleteWebAuthnCredential(owner: CredentialOwner, id: number): Promise<boolean>;
}
