// The lock-out notice (issue 22): when failed logins lock an account out (auth/auth-throttle.ts,
// the account threshold), one message from the postmaster goes into the account's INBOX, so the
// user learns that someone is guessing their password (or that a device of theirs has an old one)
// the next time they read mail from a working device. At most one per throttle window: the time
// of the last notice is kept in account_auth.lockout_notice_at (store/auth-store.ts), cleared by
// `mailroom user unlock`.
import type { Logger } from "../observability/log.js";
import type { Account, AuthStateStore, MailStore } from "../store/index.js";
import { deliverToInbox, postmasterNoticeMessage } from "./postmaster-notice.js";

export interface LockoutNoticeOptions {
  mail: Pick<MailStore, "deliver" | "getMailbox">;
  authState: Pick<AuthStateStore, "getAccountAuth" | "updateAccountAuth">;
  /** The throttle window: no second notice within it. */
  windowMs: number;
  hostname: string;
  log: Logger;
  clock?: () => Date;
}

/** Delivers the notice if none went out within the window. Never throws. */
export function createLockoutNotifier(options: LockoutNoticeOptions): (account: Account, retryAfterMs: number, remoteAddress: string) => Promise<void> {
  const clock = options.clock ?? (() => new Date());
  return async (account, retryAfterMs, remoteAddress) => {
    try {
      const now = clock();
      const state = await options.authState.getAccountAuth(account.id);
      if (state.lockoutNoticeAt !== null && now.getTime() - state.lockoutNoticeAt < options.windowMs) return;
      await options.authState.updateAccountAuth(account.id, { lockoutNoticeAt: now.getTime() });
      if (!(await deliverToInbox(options.mail, account, lockoutNoticeMessage(account, retryAfterMs, remoteAddress, options.hostname, now)))) return;
      options.log.info("auth.lockout_notice_delivered", { account: account.address, remoteAddress });
    } catch (error) {
      options.log.error("auth.lockout_notice_failed", { account: account.address, error });
    }
  };
}

/** The notice from the postmaster of the account's domain (postmaster-notice.ts). */
export function lockoutNoticeMessage(account: Account, retryAfterMs: number, remoteAddress: string, hostname: string, now: Date): Buffer {
  const minutes = Math.max(1, Math.ceil(retryAfterMs / 60_000));
  // Only characters that need no encoding: an address from the log is shown, sanitised.
  const address = remoteAddress.replace(/[^0-9A-Za-z.:/-]/g, "?").slice(0, 64);
  const body = [
    `Logins to ${account.address} were refused after too many failed attempts.`,
    "",
    `  Last failed attempt from: ${address}`,
    `  Logins from new places resume in about ${minutes} minute${minutes === 1 ? "" : "s"}.`,
    "",
    "Devices that logged in successfully before keep working.",
    "",
    "If this was a device of yours with an old password, update it there.",
    "If it was not you, someone is guessing your password: choose a new,",
    "long one, and consider app passwords for your devices.",
    "",
    "Your administrator can lift the lock-out at once (mailroom user unlock).",
  ];
  return postmasterNoticeMessage({ account, subject: "Logins to your account were locked after failed attempts", body, kind: "lockout", hostname, now });
}
