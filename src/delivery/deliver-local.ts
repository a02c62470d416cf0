// Local delivery: one staged message to many local accounts in one store call, so every copy
// lands or none does, and the body is stored once (one blob, one row per target mailbox). Each
// target gets its own trace prefix (Return-Path, Received "for <recipient>"), which is why the
// caller passes a function rather than one prefix. Two recipients that end at the same account
// and mailbox (an alias and the account itself, a +tag and the plain address) store one copy.
import type { Account, DeliveryResult, DeliveryTarget, MailboxId, MailStore, StagedMessage } from "../store/index.js";

/** Where in the account the message goes: the inbox, or the Junk folder (DMARC quarantine). */
export type LocalFolder = "inbox" | "junk";

export interface LocalRecipient {
  readonly account: Account;
  readonly folder: LocalFolder;
  /** The envelope recipient that led here, for the Received "for" clause. */
  readonly recipient: string;
}

export interface LocalDeliveryRequest {
  readonly staged: StagedMessage;
  readonly recipients: readonly LocalRecipient[];
  /** The trace prefix for one target; called once per distinct account and folder. */
  readonly prefixFor: (recipient: LocalRecipient) => Buffer;
  readonly internalDate?: Date;
}

type MailboxLookup = Pick<MailStore, "getMailbox" | "listMailboxes">;

/** Resolves the target mailboxes and delivers; throws the store's StoreError unchanged. */
export async function deliverLocal(store: Pick<MailStore, "deliver"> & MailboxLookup, request: LocalDeliveryRequest): Promise<DeliveryResult> {
  const unique = collapseDuplicates(request.recipients);
  const targets: DeliveryTarget[] = [];
  for (const recipient of unique) {
    const mailboxId = await folderMailbox(store, recipient.account, recipient.folder);
    targets.push({ mailboxId, prefix: request.prefixFor(recipient) });
  }
  return store.deliver({ source: request.staged, targets, ...(request.internalDate ? { internalDate: request.internalDate } : {}) });
}

/** First recipient wins for each (account, folder), keeping the client's order. */
export function collapseDuplicates(recipients: readonly LocalRecipient[]): LocalRecipient[] {
  const seen = new Set<string>();
  const out: LocalRecipient[] = [];
  for (const recipient of recipients) {
    const key = `${recipient.account.id}:${recipient.folder}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(recipient);
  }
  return out;
}

/**
 * INBOX always exists. Junk is found by its RFC 6154 \Junk attribute (the user may have renamed
 * it), then by name; an account that deleted it gets quarantined mail in INBOX rather than none.
 */
async function folderMailbox(store: MailboxLookup, account: Account, folder: LocalFolder): Promise<MailboxId> {
  if (folder === "junk") {
    const mailboxes = await store.listMailboxes(account.id);
    const junk = mailboxes.find((m) => m.specialUse === "\\Junk") ?? mailboxes.find((m) => m.name === "Junk");
    if (junk) return junk.id;
  }
  const inbox = await store.getMailbox(account.id, "INBOX");
  if (!inbox) throw new Error(`account ${account.address} has no INBOX`);
  return inbox.id;
}
