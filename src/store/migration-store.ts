// What `mailroom migrate` remembers of each source it copied from (docs/architecture.md, "Import,
// export and migration"): per source folder, the UIDVALIDITY seen and the highest UID copied, and
// which of our messages each source message became. A re-run then fetches only UIDs above the
// mark, syncs flags of the ones copied before, and starts the folder over (matching messages by
// their bytes, so nothing is stored twice) when the source's UIDVALIDITY changed. POP3 sources
// have one folder ("") and key messages by UIDL (RFC 1939 §7).
import type { AccountId, MailboxId, Uid } from "./types.js";

export interface MigrationFolderState {
  /** The source folder's UIDVALIDITY (0 for POP3). */
  uidValidity: number;
  /** The highest source UID copied (0 for POP3, which has none). */
  lastUid: number;
  /** Our mailbox it is copied into. */
  mailbox: string;
}

export interface MigratedMessage {
  /** The source UID as decimal digits (IMAP) or the UIDL (POP3). */
  key: string;
  mailboxId: MailboxId;
  uid: Uid;
}

export interface MigrationStateStore {
  getMigrationFolder(accountId: AccountId, source: string, folder: string): Promise<MigrationFolderState | null>;
  /** The folder's new state and the messages copied since, in one transaction. */
  recordMigration(accountId: AccountId, source: string, folder: string, state: MigrationFolderState, copied: readonly MigratedMessage[]): Promise<void>;
  /** The messages copied from the folder so far, by key. */
  listMigrated(accountId: AccountId, source: string, folder: string): Promise<Map<string, { mailboxId: MailboxId; uid: Uid }>>;
  /** Forgets the folder and its messages (its UIDVALIDITY changed). */
  forgetMigrationFolder(accountId: AccountId, source: string, folder: string): Promise<void>;
}
