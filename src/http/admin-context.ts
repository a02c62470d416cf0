// What the admin API, the admin pages and the account page receive from the running server
// (server/compose.ts builds it): the admin operations (the same the CLI runs), the session store,
// logins through the shared authenticator, and the dashboard's series and delivery log.
import type { AdminOperations } from "../admin/operations/index.js";
import type { DeliveryLog, MinuteSeries } from "../observability/admin-series.js";
import type { AccountId, WebAuthStore } from "../store/index.js";
import type { Passkeys, RelyingParty } from "../auth/webauthn.js";

export type LoginResult = { ok: true; name: string } | { ok: false; reason: "invalid-credentials" | "throttled" | "temporary-failure" | "second-factor-required"; retryAfterMs?: number };

export interface AdminWebContext {
  operations: AdminOperations;
  store: WebAuthStore;
  /**
   * Checks an admin's name and password: throttled and logged with the mail protocols' logins
   * (auth/authenticator.ts over the same AuthThrottlePolicy), so a guesser is slowed down and
   * locked out across SMTP, IMAP, POP3 and HTTP alike, and fail2ban sees the same auth.failure lines.
   * With `secondFactor`, an admin with TOTP on also needs its code (as authenticateAccount).
   */
  authenticateAdmin(name: string, password: string, remoteAddress: string, tls: boolean, secondFactor?: { code: string | undefined }): Promise<LoginResult>;
  /**
   * A mail account's login (the account page): the same authenticator as IMAP and POP3. With
   * `secondFactor`, an account with TOTP on also needs its code (auth/totp.ts); without it (the
   * current-password check of a signed-in browser) the password alone is checked.
   */
  authenticateAccount(address: string, password: string, remoteAddress: string, tls: boolean, secondFactor?: { code: string | undefined }): Promise<LoginResult>;
  /** WebAuthn passkeys (auth/webauthn.ts): registration and the credentials' listing. */
  passkeys?: Passkeys;
  /** A sign-in with a passkey: throttled, counted and logged like a password login (server/admin-web.ts). */
  passkeySignIn?(kind: "admin" | "account", response: unknown, rp: RelyingParty, remoteAddress: string, tls: boolean): Promise<LoginResult>;
  /** A mail account's id (passkeys name their account by id), or null. */
  accountIdOf?(address: string): Promise<AccountId | null>;
  series: MinuteSeries;
  deliveries: DeliveryLog;
  settings: { sessionIdleMs: number; sessionMaxMs: number; bodyLimit: number; tokenDays: number };
  /**
   * Extra sections of the account page, rendered after the built-in ones (app passwords and
   * two-factor sign-in plug in here when they exist); each gets the signed-in address and returns HTML.
   */
  accountSections?: ((address: string) => Promise<string>)[];
  clock?: () => Date;
}
