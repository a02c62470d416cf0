// Builds what the admin API, the admin pages and the account page need from the running server
// (http/admin-context.ts): the same admin operations the control socket serves, logins through
// the shared throttle, the dashboard's minute series over the /metrics counters (kept in the
// store's history), and the delivery log fed from the log events (observability/admin-series.ts).
import { Authenticator, type AuthThrottlePolicy, type PasswordHashParams } from "../auth/index.js";
import { adminTotpSlot } from "../auth/totp.js";
import type { AdminOperations } from "../admin/operations/index.js";
import type { Config } from "../config/index.js";
import type { AdminWebContext, LoginResult } from "../http/admin-context.js";
import type { DeliveryLog, SeriesHistory } from "../observability/admin-series.js";
import { MinuteSeries } from "../observability/admin-series.js";
import type { Logger, LogFields } from "../observability/log.js";
import type { Metrics } from "../observability/metrics.js";
import type { Account, AccountId, AccountStore, WebAuthStore } from "../store/index.js";
import { Passkeys, type RelyingParty } from "../auth/webauthn.js";
import type { TrackingAuthenticator } from "./live-sessions.js";

export interface AdminWebOptions {
  config: Config;
  store: WebAuthStore;
  /** For passkey sign-ins of mail accounts (a credential names its account by id). */
  accounts: Pick<AccountStore, "getAccount" | "findAccountByAddress">;
  operations: AdminOperations;
  authenticator: TrackingAuthenticator;
  throttle: AuthThrottlePolicy;
  hashParams: PasswordHashParams;
  metrics: Metrics;
  deliveries: DeliveryLog;
  /** Where the dashboard's minutes are kept (the store: kept over restarts, summed over nodes); absent: in memory. */
  history?: SeriesHistory;
  log: Logger;
}

export function createAdminWeb(options: AdminWebOptions): { web: AdminWebContext; start(): Promise<void>; stop(): Promise<void> } {
  const { config, store, metrics } = options;
  // Admins are checked by the mail protocols' Authenticator over the admin table: the same
  // throttle records (so failures count together), equal cost for unknown names (dummy hash), and
  // the same auth.failure log lines fail2ban reads. An admin is presented to it as an account-shaped
  // record with only the fields it reads (address and passwordHash).
  const adminAuthenticator = new Authenticator({
    accounts: {
      findAccountByAddress: async (name: string): Promise<Account | null> => {
        const admin = await store.findAdminUser(name.trim().toLowerCase());
        if (admin === null) return null;
        return { id: 0 as AccountId, address: admin.name, passwordHash: admin.passwordHash, quotaBytes: null, usedBytes: 0, pop3: { mode: "keep", markSeen: false, loginDelaySeconds: null, expireDays: null }, createdAt: admin.createdAt };
      },
    },
    throttle: options.throttle,
    log: options.log.child({ component: "auth" }),
    hashParams: options.hashParams,
    // The admin's own TOTP (admin_auth): a wrong code is a failure in the same throttle as a wrong password.
    totpSlot: (admin) => adminTotpSlot(store, admin.address),
  });
  const toLogin = (result: Awaited<ReturnType<Authenticator["authenticate"]>>): LoginResult =>
    result.ok ? { ok: true, name: result.account.address } : { ok: false, reason: result.reason, ...(result.retryAfterMs !== undefined ? { retryAfterMs: result.retryAfterMs } : {}) };
  const historyLog = options.log.child({ component: "admin-history" });
  const series = new MinuteSeries(() => metrics.snapshot(), {
    ...(options.history ? { history: options.history } : {}),
    onError: (error) => historyLog.warn("admin.history_write_failed", { error: error instanceof Error ? error.message : String(error) }),
  });
  const passkeys = new Passkeys(store, config.server.hostname);
  const authLog = options.log.child({ component: "auth" });
  /**
   * A passkey sign-in (auth/webauthn.ts) under the rules of every login (auth/authenticator.ts):
   * the shared throttle is asked first (by the credential owner's name when the credential is
   * known, so a locked-out name stays locked out), a refused assertion of any kind (forged,
   * replayed, another site's, unknown credential, a counter that went back) is a counted failure
   * with the failure delay, and the same auth.success/auth.failure lines are logged.
   */
  const passkeySignIn = async (kind: "admin" | "account", response: unknown, rp: RelyingParty, remoteAddress: string, tls: boolean): Promise<LoginResult> => {
    const protocol = kind === "admin" ? "admin" : "http";
    const id = (response as { id?: unknown } | null)?.id;
    let owner: string | null = null;
    let enabled = true;
    try {
      const stored = typeof id === "string" && id.length > 0 && id.length <= 1400 ? await store.findWebAuthnCredential(id) : null;
      if (stored?.owner.kind === "admin" && kind === "admin") owner = stored.owner.name;
      else if (stored?.owner.kind === "account" && kind === "account") {
        const account = await options.accounts.getAccount(stored.owner.accountId);
        owner = account?.address ?? null;
        // `user disable` marks the hash (admin/operations): no sign-in by any secret, passkeys included.
        enabled = account !== null && account.passwordHash.startsWith("$argon2");
      }
    } catch (error) {
      authLog.error("auth.failure", { remoteAddress, protocol, reason: "temporary-failure", mechanism: "webauthn", error });
      return { ok: false, reason: "temporary-failure" };
    }
    const subject = { remoteAddress, username: owner ?? "(passkey)" };
    const who = { tls, username: subject.username };
    try {
      const verdict = await options.throttle.check(subject);
      if (!verdict.allowed) {
        authLog.warn("auth.failure", { remoteAddress, protocol, reason: "throttled", scope: verdict.scope, retryAfterMs: verdict.retryAfterMs, mechanism: "webauthn", ...who });
        return { ok: false, reason: "throttled", retryAfterMs: verdict.retryAfterMs };
      }
    } catch (error) {
      authLog.error("auth.failure", { remoteAddress, protocol, reason: "temporary-failure", mechanism: "webauthn", error, ...who });
      return { ok: false, reason: "temporary-failure" };
    }
    const verdict = await passkeys.authenticate(kind, response, rp).catch(() => ({ ok: false as const, reason: "invalid-assertion" as const }));
    if (verdict.ok && owner !== null && enabled) {
      await Promise.resolve(options.throttle.recordSuccess(subject)).catch(() => undefined);
      authLog.info("auth.success", { remoteAddress, protocol, mechanism: "webauthn", ...who, credential: `passkey:${verdict.credential.id}` });
      metrics.login(protocol, "webauthn", true);
      return { ok: true, name: owner };
    }
    const reason = verdict.ok ? "login-disabled" : `passkey-${verdict.reason}`;
    let delayMs = 2000;
    try {
      ({ delayMs } = await options.throttle.recordFailure(subject));
    } catch {
      // Not counted (the shared store is down): answered late all the same.
    }
    authLog.info("auth.failure", { remoteAddress, protocol, reason, mechanism: "webauthn", delayMs, ...who });
    metrics.login(protocol, "webauthn", false);
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    return { ok: false, reason: "invalid-credentials" };
  };
  const web: AdminWebContext = {
    operations: options.operations,
    store,
    async authenticateAdmin(name, password, remoteAddress, tls, secondFactor) {
      const result = await adminAuthenticator.authenticate({ username: name, password, remoteAddress, protocol: "admin", tls, ...(secondFactor ? { secondFactor } : {}) });
      metrics.login("admin", "password", result.ok);
      return toLogin(result);
    },
    async authenticateAccount(address, password, remoteAddress, tls, secondFactor) {
      return toLogin(await options.authenticator.authenticate({ username: address, password, remoteAddress, protocol: "http", tls, ...(secondFactor ? { secondFactor } : {}) }));
    },
    passkeys,
    passkeySignIn,
    accountIdOf: async (address) => (await options.accounts.findAccountByAddress(address))?.id ?? null,
    series,
    deliveries: options.deliveries,
    settings: { sessionIdleMs: config.http.adminSessionIdle, sessionMaxMs: config.http.adminSessionMax, bodyLimit: config.http.adminBodyLimit, tokenDays: config.http.adminTokenDays },
  };
  return { web, start: () => series.start(), stop: () => series.stop() };
}

/**
 * What the log events say about traffic, for the counters /metrics lacked a source for: a message
 * taken by SMTP (smtp.accepted) is "received"; one stored here is "delivered" per local recipient.
 */
export function countAcceptedMessage(metrics: Metrics, event: string, fields: LogFields): void {
  if (event !== "smtp.accepted") return;
  metrics.message("received");
  const recipients = Array.isArray(fields.recipients) ? fields.recipients.length : 0;
  const local = typeof fields.folder === "string" ? recipients : typeof fields.local === "number" ? fields.local : 0;
  if (local > 0) metrics.message("delivered", local);
}
