// Which addresses an authenticated account may send as (RFC 6409 §6.1 lets a submission server
// refuse a sender the user is not authorised for): its own address, its +tag sub-addresses, and
// aliases that deliver to it. A catch-all does not count, or every user of a domain with one could
// write as anyone there. An alias with several targets may be used by each of them (a shared
// role address such as sales@).
import { resolveRecipient } from "../../delivery/resolve-recipient.js";
import type { EnvelopeAddress } from "../../mail/envelope.js";
import type { Account, AccountStore } from "../../store/index.js";

export type OwnershipLookup = Pick<AccountStore, "findAccountByAddress" | "findAlias" | "isLocalDomain">;

export async function ownsAddress(accounts: OwnershipLookup, account: Account, address: string): Promise<boolean> {
  if (address.toLowerCase() === account.address.toLowerCase()) return true;
  const resolution = await resolveRecipient(accounts, address);
  return resolution.kind === "local" && resolution.via !== "catch-all" && resolution.accounts.some((owner) => owner.id === account.id);
}

/** The addr-specs of a From: field (group markers skipped). */
export function fromAddresses(from: readonly EnvelopeAddress[] | null): string[] {
  if (from === null) return [];
  return from.flatMap((entry) => (entry.mailbox !== null && entry.host !== null ? [`${entry.mailbox}@${entry.host}`] : []));
}

/**
 * RFC 5322 §3.6.2: every From: mailbox is an author; each must be the account's. A message with
 * no usable From: is refused too, since nothing then says who wrote it.
 */
export async function ownsAllAuthors(accounts: OwnershipLookup, account: Account, authors: readonly string[]): Promise<boolean> {
  if (authors.length === 0) return false;
  for (const author of authors) if (!(await ownsAddress(accounts, account, author))) return false;
  return true;
}
