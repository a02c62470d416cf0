// Who may use the browser side (docs/architecture.md, "Admin API and pages"): admin accounts
// (separate from mail accounts, argon2id hashes as auth/password-hash.ts makes them), the sessions
// of signed-in browsers (admins at /admin, mail users at /account) and API tokens for scripts.
// Secrets are never stored: a session cookie and an API token are kept as their SHA-256 only, so a
// copy of the database signs nobody in. Times are epoch milliseconds in the tables.

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
}
