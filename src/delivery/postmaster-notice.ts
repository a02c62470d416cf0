// A notice from the postmaster into an account's INBOX (the quota warning, the lock-out notice):
// an RFC 5322 message (ASCII text/plain, CRLF lines) from postmaster@ the account's domain (RFC
// 5321 §4.5.1 requires that mailbox to exist), marked Auto-Submitted (RFC 3834) so that no
// auto-responder answers it, stored with an empty Return-Path like a bounce.
import { randomUUID } from "node:crypto";
import type { Account, MailStore } from "../store/index.js";

export interface PostmasterNotice {
  account: Account;
  subject: string;
  /** Body lines, ASCII; the postmaster's signature is added. */
  body: readonly string[];
  /** The Message-ID's local part starts with it ("quota", "lockout"). */
  kind: string;
  hostname: string;
  now: Date;
}

export function postmasterNoticeMessage(notice: PostmasterNotice): Buffer {
  const domain = notice.account.address.slice(notice.account.address.lastIndexOf("@") + 1);
  const header = [
    `From: Mail Delivery System <postmaster@${domain}>`,
    `To: <${notice.account.address}>`,
    `Subject: ${notice.subject}`,
    `Date: ${notice.now.toUTCString().replace("GMT", "+0000")}`,
    `Message-ID: <${notice.kind}.${randomUUID()}@${notice.hostname}>`,
    "Auto-Submitted: auto-generated",
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=us-ascii",
    "Content-Transfer-Encoding: 7bit",
  ];
  return Buffer.from([...header, "", ...notice.body, "", "-- ", `The postmaster of ${domain}`, ""].join("\r\n"), "ascii");
}

/** Stores the notice in the account's INBOX; false when the account has none. */
export async function deliverToInbox(mail: Pick<MailStore, "deliver" | "getMailbox">, account: Account, message: Buffer): Promise<boolean> {
  const inbox = await mail.getMailbox(account.id, "INBOX");
  if (inbox === null) return false;
  await mail.deliver({ source: message, targets: [{ mailboxId: inbox.id, prefix: Buffer.from("Return-Path: <>\r\n") }] });
  return true;
}
