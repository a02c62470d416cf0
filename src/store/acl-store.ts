// Access control lists (RFC 4314) and per-user \Seen on shared mailboxes. An account grants rights
// on one of its mailboxes to another account (by address) or to "anyone" (every account of this
// server). Rights are kept canonical (acl-rights.ts); the owner holds every right and has no row.
// Groups are not supported: Mailroom has no notion of one (aliases are delivery routes, not
// membership), so no "$group" identifier is accepted.
//
// Per-user \Seen (as Dovecot's private flags): on a mailbox of another account each user keeps
// its own \Seen; every other flag is the mailbox's. A change to a user's \Seen takes a new modseq
// of the mailbox and moves the message's modseq (RFC 7162 §3.1: CHANGEDSINCE and QRESYNC find it;
// other users see the message's flags unchanged under the new modseq).
import type { FlagUpdateResult } from "./mail-store.js";
import type { AccountId, Mailbox, MailboxId, ModSeq, Uid } from "./types.js";

/** One ACL entry: "anyone" or an account's address (lower case), and its canonical rights. */
export interface AclEntry {
  identifier: string;
  rights: string;
}

/** A mailbox of another account that a user holds rights on. */
export interface SharedMailbox {
  mailbox: Mailbox;
  ownerAddress: string;
  /** The user's rights: its own entry's and anyone's together (RFC 4314 §2). */
  rights: string;
}

export interface AclStore {
  /** The mailbox's entries ("anyone" first, then by address), the owner not among them. NONEXISTENT for an unknown mailbox. */
  getAcl(mailboxId: MailboxId): Promise<AclEntry[]>;
  /**
   * Gives `identifier` ("anyone" or an account address, any case) these canonical rights on the
   * mailbox; "" removes its entry. NONEXISTENT for an unknown mailbox or account, CANNOT for the
   * mailbox's owner (who always has every right), INVALID for rights that are not canonical.
   */
  setAcl(mailboxId: MailboxId, identifier: string, rights: string): Promise<void>;
  /** Mailboxes of other accounts on which `viewer` holds any right, by owner address then name. */
  listSharedMailboxes(viewer: AccountId): Promise<SharedMailbox[]>;
  /** One mailbox of the account `ownerAddress` (any case) as `viewer` sees it (rights may be ""), or null when either does not exist. */
  findSharedMailbox(viewer: AccountId, ownerAddress: string, name: string): Promise<SharedMailbox | null>;
  /** `viewer`'s rights on the mailbox: every right for its owner, else its entry's and anyone's ("" when none, or no such mailbox). */
  rightsOf(mailboxId: MailboxId, viewer: AccountId): Promise<string>;

  /** The UIDs among `uids` (all when absent) that still exist and that `viewer` has seen, ascending. */
  getPrivateSeen(mailboxId: MailboxId, viewer: AccountId, uids?: readonly Uid[]): Promise<Uid[]>;
  /**
   * Sets or clears `viewer`'s \Seen on the existing messages among `uids` whose state changes, in
   * one transaction with one new modseq (published as a flags change carrying the mailbox's
   * flags). With unchangedSince, messages whose modseq is greater are left alone and reported
   * (RFC 7162 §3.1.3). `updated` carries the mailbox's own flags; the caller adds the user's \Seen.
   */
  updatePrivateSeen(mailboxId: MailboxId, viewer: AccountId, uids: readonly Uid[], seen: boolean, unchangedSince?: ModSeq): Promise<FlagUpdateResult>;
}
