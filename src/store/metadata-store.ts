// IMAP METADATA (RFC 5464) entries: per mailbox or for the server (mailboxId null), each either
// /private (one user's) or /shared (every user of the mailbox). Names are kept lower case (RFC
// 5464 §3.2: entry names are case-insensitive) with their /private or /shared prefix; values are
// octets. Limits are passed in by the caller (config [imap] metadata_*), checked in the same
// transaction as the write so concurrent writers cannot pass them together.
import type { AccountId, MailboxId } from "./types.js";

export interface MetadataEntry {
  /** Lower case, e.g. "/private/comment", "/shared/vendor/x/y". */
  readonly name: string;
  readonly value: Buffer;
}

export interface MetadataChange {
  readonly name: string;
  /** null removes the entry (RFC 5464 §4.3: NIL). */
  readonly value: Buffer | null;
}

export interface MetadataLimits {
  /** Entries of one mailbox (all users together), or one user's server entries. */
  readonly maxEntriesPerMailbox: number;
  /** Octets of names and values charged to one account (a /private entry to its user, a /shared one to the mailbox's owner). */
  readonly maxAccountBytes: number;
}

/** TOOMANY: the mailbox would hold more than maxEntriesPerMailbox; FULL: an account past maxAccountBytes. Nothing was written then. */
export type MetadataWriteResult = { readonly ok: true } | { readonly ok: false; readonly reason: "TOOMANY" | "FULL" };

export interface MetadataStore {
  /**
   * The entries `userId` sees on the mailbox (null: the server): its own /private entries and the
   * mailbox's /shared ones, sorted by name. A server has no /shared entries here.
   */
  getMetadata(userId: AccountId, mailboxId: MailboxId | null): Promise<MetadataEntry[]>;
  /**
   * Applies the changes all or none (RFC 5464 §4.3). Names must be lower case and start with
   * /private/ or /shared/ (INVALID otherwise, and for /shared on the server); NONEXISTENT for an
   * unknown mailbox. Removing never fails a limit.
   */
  setMetadata(userId: AccountId, mailboxId: MailboxId | null, changes: readonly MetadataChange[], limits: MetadataLimits): Promise<MetadataWriteResult>;
}

/** The store-side check of a change's name (the IMAP layer parses and reports bad names itself). */
export function metadataNameValid(name: string, server: boolean): boolean {
  if (name !== name.toLowerCase()) return false;
  if (!/^\/(private|shared)\/[^*%]+$/.test(name) || name.includes("//") || name.endsWith("/")) return false;
  return !(server && name.startsWith("/shared/"));
}
