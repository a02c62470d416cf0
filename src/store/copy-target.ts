// What `mailroom store copy` writes into (store/postgresql/import.ts): a store that can take
// accounts, mailboxes and messages as they were elsewhere (UIDVALIDITY, UIDs, modseqs, flags,
// dates, trace prefixes, password hashes kept), with the auth state of accounts and admins (SCRAM
// keys, TOTP, app passwords, API tokens, WebAuthn credentials), so clients keep their caches and
// their credentials after a move. Both
// backends implement it, so a store can be copied either way: SQLite into PostgreSQL to scale
// out, PostgreSQL back into SQLite to return to one machine.
import type { AccountStore } from "./account-store.js";
import type { AuthStateStore } from "./auth-store.js";
import type { WebAuthStore } from "./web-auth-store.js";
import type { MailStore, StagedMessage } from "./mail-store.js";
import type { SieveStore } from "./sieve-store.js";
import type { TlsReportStore } from "./tls-report-store.js";
import type { Account, AccountId, Flag, Mailbox, MailboxId, ModSeq, Uid } from "./types.js";

export interface CopyTarget extends MailStore, AccountStore, SieveStore, TlsReportStore, AuthStateStore, WebAuthStore {
  /** No domain and no account: a copy goes only into an empty store. */
  isEmpty(): Promise<boolean>;
  /** The account with its hash, quota, POP3 policy and creation time; no default mailboxes. */
  importAccount(account: Account): Promise<AccountId>;
  /** The mailbox with the UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ and first recent UID it had. */
  importMailbox(accountId: AccountId, mailbox: Mailbox, firstRecentUid: number): Promise<MailboxId>;
  /** One message with its UID, modseq, flags, date and trace prefix; the bytes were staged here. */
  importMessage(mailboxId: MailboxId, message: { uid: Uid; modseq: ModSeq; flags: Flag[]; internalDate: Date; prefix: Buffer }, staged: StagedMessage): Promise<void>;
  /** UIDs below UIDNEXT with no message become expunge tombstones at HIGHESTMODSEQ; returns how many. */
  importTombstones(mailboxId: MailboxId): Promise<number>;
  /** A user's \Seen on another account's mailbox (acl-store.ts), as it was: no modseq is taken. */
  importPrivateSeen(mailboxId: MailboxId, accountId: AccountId, uids: readonly Uid[]): Promise<void>;
}
