// Local delivery: one staged message to many local accounts in one store call, so every copy
// lands or none does, and the body is stored once (one blob, one row per target mailbox). Each
// target gets its own trace prefix (Return-Path, Received "for <recipient>"), which is why the
// caller passes a function rather than one prefix. Two recipients that end at the same account
// and mailbox (an alias and the account itself, a +tag and the plain address) store one copy.
import { SYSTEM_FLAGS, type Account, type DeliveryResult, type DeliveryTarget, type Flag, type MailboxId, type MailStore, type StagedMessage } from "../store/index.js";
import type { SieveDecision, SieveFilter, SpamTestValue } from "./sieve-filter.js";

/**
 * RFC 5788 registers $Junk: mail the server judged junk (DMARC quarantine, spam score) carries it,
 * so a client's own junk handling (Thunderbird, Apple Mail, K-9) agrees with the folder.
 */
export const JUNK_KEYWORD = "$Junk";

/** Where in the account the message goes: the inbox, or the Junk folder (DMARC quarantine, spam). */
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
  /** Each account's active Sieve script decides where its copy goes (sieve-filter.ts). */
  /** `requireTls`: the message came with RFC 8689 REQUIRETLS; a Sieve redirect keeps the requirement. */
  readonly sieve?: { readonly filter: SieveFilter; readonly envelopeFrom: string; readonly requireTls?: boolean; readonly spamFor?: (accountId: number) => SpamTestValue | null };
}

export interface LocalDeliveryResult extends DeliveryResult {
  /** Recipients whose script rejected the message (RFC 5429), with the reason. */
  readonly rejected: readonly { readonly recipient: LocalRecipient; readonly reason: string }[];
}

type MailboxLookup = Pick<MailStore, "getMailbox" | "listMailboxes">;

/**
 * Resolves the target mailboxes and delivers; throws the store's StoreError unchanged. With Sieve,
 * every recipient's decision is made first and all copies go in the one store.deliver() call, so
 * the delivery stays all-or-nothing; redirects and vacation replies follow the commit.
 */
export async function deliverLocal(
  store: Pick<MailStore, "deliver"> & MailboxLookup,
  request: LocalDeliveryRequest,
): Promise<LocalDeliveryResult> {
  const unique = collapseDuplicates(request.recipients);
  const targets: DeliveryTarget[] = [];
  const decided: { recipient: LocalRecipient; decision: SieveDecision }[] = [];
  const rejected: { recipient: LocalRecipient; reason: string }[] = [];
  const seen = new Set<number>();
  // Edited copies a decision staged are released whatever happens (a later decision or the delivery may fail).
  try {
    for (const recipient of unique) {
      const decision = request.sieve
        ? await request.sieve.filter.decide(request.staged, recipient.account, { from: request.sieve.envelopeFrom, to: recipient.recipient }, request.sieve.spamFor?.(recipient.account.id) ?? null)
        : null;
      if (decision === null) {
        const mailboxId = await folderMailbox(store, recipient.account, recipient.folder);
        if (seen.has(mailboxId)) continue;
        seen.add(mailboxId);
        targets.push({ mailboxId, prefix: request.prefixFor(recipient), ...(recipient.folder === "junk" ? { flags: [JUNK_KEYWORD] } : {}) });
        continue;
      }
      decided.push({ recipient, decision });
      if (decision.reject !== null) rejected.push({ recipient, reason: decision.reject });
      for (const file of decision.files) {
        // Keep honours the folder the inbound checks chose (Junk for a DMARC quarantine).
        const mailboxId = file.mailbox.toUpperCase() === "INBOX" ? await folderMailbox(store, recipient.account, recipient.folder) : await namedMailbox(store, recipient.account, file.mailbox, recipient.folder);
        if (seen.has(mailboxId)) continue;
        seen.add(mailboxId);
        const flags = storableFlags(file.flags);
        if (recipient.folder === "junk" && file.mailbox.toUpperCase() === "INBOX" && !flags.includes(JUNK_KEYWORD)) flags.push(JUNK_KEYWORD);
        // RFC 5293: a copy the script edited carries its own bytes; the others share the received blob.
        targets.push({ mailboxId, prefix: request.prefixFor(recipient), flags, ...(file.message ? { source: file.message } : {}) });
      }
    }
    const result: DeliveryResult =
      targets.length > 0
        ? await store.deliver({ source: request.staged, targets, ...(request.internalDate ? { internalDate: request.internalDate } : {}) })
        : { size: request.staged.size, copies: [] };
    if (request.sieve) {
      for (const { recipient, decision } of decided) {
        await request.sieve.filter.afterCommit(request.staged, recipient.account, { from: request.sieve.envelopeFrom, to: recipient.recipient, requireTls: request.sieve.requireTls === true }, decision);
      }
    }
    return { ...result, rejected };
  } finally {
    for (const { decision } of decided) request.sieve?.filter.release(decision);
  }
}

/** RFC 5232 §3: flags the store can keep; \Recent and unknown system flags are dropped. */
export function storableFlags(flags: readonly string[]): Flag[] {
  const system = new Map(SYSTEM_FLAGS.map((f) => [f.toLowerCase(), f as string]));
  const out: Flag[] = [];
  for (const flag of flags) {
    if (flag.startsWith("\\")) {
      const known = system.get(flag.toLowerCase());
      if (known && !out.includes(known)) out.push(known);
    } else if (/^[!#$&'+-[^-z|}~]+$/.test(flag) && !out.includes(flag)) out.push(flag);
  }
  return out;
}

async function namedMailbox(store: MailboxLookup, account: Account, name: string, folder: LocalFolder): Promise<MailboxId> {
  const mailbox = await store.getMailbox(account.id, name);
  return mailbox ? mailbox.id : folderMailbox(store, account, folder);
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
