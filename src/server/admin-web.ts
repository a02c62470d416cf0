// Builds what the admin API, the admin pages and the account page need from the running server
// (http/admin-context.ts): the same admin operations the control socket serves, logins through
// the shared throttle, the dashboard's minute series over the /metrics counters, and the delivery
// log fed from the log events (observability/admin-series.ts).
import { Authenticator, type AuthThrottlePolicy, type PasswordHashParams } from "../auth/index.js";
import { adminTotpSlot } from "../auth/totp.js";
import type { AdminOperations } from "../admin/operations/index.js";
import type { Config } from "../config/index.js";
import type { AdminWebContext, LoginResult } from "../http/admin-context.js";
import type { DeliveryLog } from "../observability/admin-series.js";
import { MinuteSeries } from "../observability/admin-series.js";
import type { Logger, LogFields } from "../observability/log.js";
import type { Metrics } from "../observability/metrics.js";
import type { Account, AccountId, WebAuthStore } from "../store/index.js";
import type { TrackingAuthenticator } from "./live-sessions.js";

export interface AdminWebOptions {
  config: Config;
  store: WebAuthStore;
  operations: AdminOperations;
  authenticator: TrackingAuthenticator;
  throttle: AuthThrottlePolicy;
  hashParams: PasswordHashParams;
  metrics: Metrics;
  deliveries: DeliveryLog;
  log: Logger;
}

export function createAdminWeb(options: AdminWebOptions): { web: AdminWebContext; start(): Promise<void>; stop(): void } {
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
  const series = new MinuteSeries(() => metrics.snapshot());
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
