// The quota usage warning (config [quota] warning_percent): after mail is added to an account
// (SMTP delivery, Sieve fileinto, IMAP APPEND and COPY), the account is checked once; when usage
// of either RFC 9208 resource has reached the threshold and no warning was sent since usage was
// last below it, one message from the postmaster is delivered into its INBOX. The store decides
// "once" atomically (AccountStore.claimQuotaWarning) and re-arms it when expunges or a raised
// limit bring usage below the threshold (store/quota.ts), so several sessions or nodes crossing
// together send one warning. The warning is an ordinary message: it counts against the quota,
// and when it does not fit (the account went from below the threshold to full in one step) it
// is logged and not retried, as the user is then refused mail with an explicit OVERQUOTA / 4.2.2.
import type { Logger } from "../observability/log.js";
import { isStoreError, type Account, type AccountId, type AccountStore, type MailStore } from "../store/index.js";
import { deliverToInbox, postmasterNoticeMessage } from "./postmaster-notice.js";

export interface QuotaService {
  /** The account with fresh usage figures (GETQUOTA, RCPT checks); null if it is gone. */
  account(accountId: AccountId): Promise<Account | null>;
  /** Mail was added to the account: delivers the usage warning if it is due. Never throws. */
  noteAdded(accountId: AccountId): Promise<void>;
}

export interface QuotaServiceOptions {
  accounts: Pick<AccountStore, "getAccount" | "claimQuotaWarning">;
  mail: Pick<MailStore, "deliver" | "getMailbox">;
  warningPercent: number;
  /** Our host name, for the Message-ID. */
  hostname: string;
  log: Logger;
  clock?: () => Date;
}

export function createQuotaService(options: QuotaServiceOptions): QuotaService {
  const clock = options.clock ?? (() => new Date());
  return {
    account: (accountId) => options.accounts.getAccount(accountId),
    async noteAdded(accountId) {
      if (options.warningPercent <= 0) return;
      try {
        const account = await options.accounts.claimQuotaWarning(accountId);
        if (account === null) return;
        if (!(await deliverToInbox(options.mail, account, quotaWarningMessage(account, options.warningPercent, options.hostname, clock())))) return;
        options.log.info("quota.warning_delivered", { account: account.address, usedBytes: account.usedBytes, quotaBytes: account.quotaBytes, usedMessages: account.usedMessages ?? 0, quotaMessages: account.quotaMessages ?? null });
      } catch (error) {
        if (isStoreError(error, "OVERQUOTA")) options.log.warn("quota.warning_did_not_fit", { accountId });
        else options.log.error("quota.warning_failed", { accountId, error });
      }
    },
  };
}

/** "1.5 GiB" style, for people. */
export function humanBytes(bytes: number): string {
  const units = ["bytes", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} bytes` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

function percent(used: number, limit: number): number {
  return Math.floor((used * 100) / limit);
}

/**
 * The warning as an RFC 5322 message (ASCII text/plain, CRLF lines) from the postmaster of the
 * account's domain (RFC 5321 §4.5.1 requires that mailbox to exist), to the account.
 */
export function quotaWarningMessage(account: Account, warningPercent: number, hostname: string, now: Date): Buffer {
  const lines: string[] = [];
  let highest = 0;
  if (account.quotaBytes !== null) {
    const p = percent(account.usedBytes, account.quotaBytes);
    highest = Math.max(highest, p);
    lines.push(`  Storage:  ${humanBytes(account.usedBytes)} of ${humanBytes(account.quotaBytes)} (${p}%)`);
  }
  if (account.quotaMessages != null) {
    const used = account.usedMessages ?? 0;
    const p = percent(used, account.quotaMessages);
    highest = Math.max(highest, p);
    lines.push(`  Messages: ${used} of ${account.quotaMessages} (${p}%)`);
  }
  const body = [
    `Your mailbox ${account.address} is ${highest}% full.`,
    "",
    ...lines,
    "",
    `This warning is sent once when usage reaches ${warningPercent}% of a limit.`,
    "When the mailbox is full, new mail to you is refused (senders are told",
    "that your mailbox is full) and your mail program cannot save messages.",
    "",
    "To free space, delete messages you no longer need, including those in",
    "Trash and Junk, and empty those folders (expunge) or delete large",
    "attachments; space is freed as soon as the messages are expunged.",
  ];
  return postmasterNoticeMessage({ account, subject: `Your mailbox is ${highest}% full`, body, kind: "quota", hostname, now });
}
