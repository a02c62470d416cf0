// What happens when an account keeps hitting the outbound abuse limits (abuse/send-limits.ts) and
// abuse.suspend_after_refusals is set: the account is disabled as `mailroom user disable` does
// (logins refused, open sessions ended, mail still received), and the postmaster of its domain
// gets a message saying why and how to undo it. A stolen password stops sending within minutes
// instead of after the domain is on every blocklist.
import { randomUUID } from "node:crypto";
import { resolveRecipient } from "../delivery/resolve-recipient.js";
import { formatDateTime } from "../mail/trace-headers.js";
import type { Logger } from "../observability/log.js";
import type { AccountStore, MailStore } from "../store/index.js";
import type { SendLimitRefusal } from "../abuse/send-limits.js";

export interface SuspensionDeps {
  disableUser(address: string): Promise<unknown>;
  mail: Pick<MailStore, "deliver" | "getMailbox">;
  accounts: Pick<AccountStore, "findAccountByAddress" | "findAlias" | "isLocalDomain" | "getAccount">;
  hostname: string;
  log: Logger;
  clock?: () => Date;
}

export function postmasterNotice(account: string, refusal: SendLimitRefusal, hostname: string, postmaster: string, now: Date): Buffer {
  const lines = [
    `From: Mail Delivery System <MAILER-DAEMON@${hostname}>`,
    `To: <${postmaster}>`,
    `Subject: Account ${account} suspended: outbound limits`,
    `Date: ${formatDateTime(now)}`,
    `Message-ID: <${randomUUID()}@${hostname}>`,
    "Auto-Submitted: auto-generated",
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
    "",
    `The account ${account} was disabled at ${now.toISOString()} because it kept hitting the`,
    `outbound abuse limits (abuse.suspend_after_refusals); the last refusal was ${refusal.limit}:`,
    `"${refusal.text}".`,
    "",
    "This is what a stolen password sending spam looks like. It can no longer log in (IMAP, POP3,",
    "SMTP submission); mail to it is still received. After checking with its owner and changing",
    "the password, enable it again with:",
    "",
    `  mailroom user passwd ${account}`,
    `  mailroom user enable ${account}`,
    "",
  ];
  return Buffer.from(lines.join("\r\n"), "utf8");
}

export async function suspendForAbuse(deps: SuspensionDeps, account: string, refusal: SendLimitRefusal): Promise<void> {
  const now = (deps.clock ?? (() => new Date()))();
  try {
    await deps.disableUser(account);
    deps.log.error("abuse.account_suspended", { account, limit: refusal.limit });
  } catch (error) {
    deps.log.error("abuse.suspend_failed", { account, error });
    return;
  }
  const postmaster = `postmaster@${account.slice(account.lastIndexOf("@") + 1)}`;
  const resolution = await resolveRecipient(deps.accounts, postmaster).catch(() => null);
  if (resolution?.kind !== "local") {
    deps.log.warn("abuse.no_postmaster", { postmaster });
    return;
  }
  const targets = [];
  for (const owner of resolution.accounts) {
    const inbox = await deps.mail.getMailbox(owner.id, "INBOX");
    if (inbox) targets.push({ mailboxId: inbox.id });
  }
  if (targets.length === 0) return;
  try {
    await deps.mail.deliver({ source: postmasterNotice(account, refusal, deps.hostname, postmaster, now), targets, internalDate: now });
  } catch (error) {
    deps.log.error("abuse.notice_failed", { postmaster, error });
  }
}
