// RFC 9051 §6.3.11 STATUS data items, shared by STATUS and LIST-STATUS (RFC 5819):
// MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE (RFC 8438) HIGHESTMODSEQ (RFC 7162) RECENT (rev1)
// DELETED-STORAGE (RFC 9208 §4.2, required with QUOTA=RES-STORAGE; DELETED is its RES-MESSAGE twin),
// MAILBOXID (RFC 8474 §4.3).
import { mailboxObjectId, type Mailbox, type MailboxStatus } from "../../store/index.js";
import type { ArgumentReader } from "../protocol/arguments.js";
import { atom, list, num, type ImapValue } from "../protocol/response-value.js";

export const STATUS_ITEMS = ["MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "DELETED", "SIZE", "HIGHESTMODSEQ", "RECENT", "DELETED-STORAGE", "MAILBOXID"] as const;
export type StatusItem = (typeof STATUS_ITEMS)[number];

/** status-att-list = "(" status-att *(SP status-att) ")" */
export function parseStatusItems(args: ArgumentReader): StatusItem[] {
  return args.list(() => {
    const name = args.atom().toUpperCase();
    const item = STATUS_ITEMS.find((i) => i === name);
    if (item === undefined) throw args.error(`unknown STATUS item ${name.slice(0, 30)}`);
    return item;
  }, false);
}

/**
 * The values of `items`; `recent` is MailStore.countRecent (messages no session has claimed yet),
 * or 0 under IMAP4rev2, which has no \Recent.
 */
export function statusValues(status: MailboxStatus, items: readonly StatusItem[], recent: number, mailbox: Pick<Mailbox, "id" | "uidValidity">): ImapValue[] {
  const values: ImapValue[] = [];
  for (const item of items) {
    values.push(atom(item));
    switch (item) {
      case "MESSAGES":
        values.push(num(status.messages));
        break;
      case "UIDNEXT":
        values.push(num(status.uidNext));
        break;
      case "UIDVALIDITY":
        values.push(num(status.uidValidity));
        break;
      case "UNSEEN":
        values.push(num(status.unseen));
        break;
      case "DELETED":
        values.push(num(status.deleted));
        break;
      case "SIZE":
        values.push(num(status.size));
        break;
      case "DELETED-STORAGE":
        // What EXPUNGE would free, in the STORAGE resource's units of 1024 octets (RFC 9208 §4.2),
        // rounded down as GETQUOTA's figures are (imap/commands/quota.ts).
        values.push(num(Math.floor((status.deletedSize ?? 0) / 1024)));
        break;
      case "HIGHESTMODSEQ":
        values.push(num(status.highestModSeq));
        break;
      case "RECENT":
        // RFC 3501 §6.3.10: the messages with \Recent set.
        values.push(num(recent));
        break;
      case "MAILBOXID":
        // RFC 8474 §4.3: MAILBOXID (objectid).
        values.push(list([atom(mailboxObjectId(mailbox))]));
        break;
    }
  }
  return values;
}
