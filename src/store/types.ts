// Domain types of the mail store, shared by every backend and every protocol.
// Distinct numbers get distinct (branded) types so a UID can never be passed where a
// sequence number or a modseq is wanted; the brands are erased at run time.

export type Brand<T, B extends string> = T & { readonly __brand: B };

/** RFC 9051 §2.3.1.1: strictly increasing within a mailbox, never reused while UIDVALIDITY holds. */
export type Uid = Brand<number, "Uid">;
/** RFC 7162: per-mailbox modification sequence; every mutation takes a new, higher one. */
export type ModSeq = Brand<number, "ModSeq">;
export type UidValidity = Brand<number, "UidValidity">;
export type MailboxId = Brand<number, "MailboxId">;
export type AccountId = Brand<number, "AccountId">;
export type DomainId = Brand<number, "DomainId">;
/** Hex SHA-256 of the raw message bytes: the name of the blob file. */
export type BlobId = Brand<string, "BlobId">;

export const asUid = (n: number): Uid => n as Uid;
export const asModSeq = (n: number): ModSeq => n as ModSeq;
export const asMailboxId = (n: number): MailboxId => n as MailboxId;
export const asAccountId = (n: number): AccountId => n as AccountId;

/** RFC 6154 special-use attributes. */
export type SpecialUse = "\\All" | "\\Archive" | "\\Drafts" | "\\Flagged" | "\\Junk" | "\\Sent" | "\\Trash";
export const SPECIAL_USES: readonly SpecialUse[] = ["\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk", "\\Sent", "\\Trash"];

/** The folders every new account starts with (issue #2), in LIST order. */
export const DEFAULT_MAILBOXES: readonly { name: string; specialUse: SpecialUse | null }[] = [
  { name: "INBOX", specialUse: null },
  { name: "Drafts", specialUse: "\\Drafts" },
  { name: "Sent", specialUse: "\\Sent" },
  { name: "Trash", specialUse: "\\Trash" },
  { name: "Junk", specialUse: "\\Junk" },
  { name: "Archive", specialUse: "\\Archive" },
];

/** The hierarchy delimiter of every mailbox name in the store. */
export const HIERARCHY_DELIMITER = "/";

/**
 * A flag as stored: system flags keep their backslash and canonical case (`\Seen`),
 * keywords are atoms compared case-insensitively (RFC 9051 §2.3.2) and stored as first given.
 * `\Recent` is session state in IMAP and is never stored.
 */
export type Flag = string;
export const SYSTEM_FLAGS = ["\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"] as const;

export type Pop3Mode = "keep" | "delete-after-retrieve";
export interface Pop3Policy {
  mode: Pop3Mode;
  /** Whether RETR marks the message \Seen for IMAP users. */
  markSeen: boolean;
  /** RFC 2449 LOGIN-DELAY in seconds, or null when not enforced. */
  loginDelaySeconds: number | null;
  /** RFC 2449 EXPIRE in days (0 = delete after retrieval), or null for NEVER. */
  expireDays: number | null;
}

export interface Domain {
  id: DomainId;
  name: string;
  createdAt: Date;
}

export interface Account {
  id: AccountId;
  /** The full address, lower-cased domain; it is also the login name. */
  address: string;
  /** Encoded password hash (PHC string format), never a password. */
  passwordHash: string;
  /** Quota in bytes, or null for unlimited: the account's own value, else config [quota] storage (store/quota.ts). */
  quotaBytes: number | null;
  /** Bytes currently stored across all mailboxes (sum of message sizes). */
  usedBytes: number;
  /** Message-count quota (RFC 9208 MESSAGE), or null/absent for unlimited; own value else config [quota] messages. */
  quotaMessages?: number | null;
  /** Messages currently stored across all mailboxes. */
  usedMessages?: number;
  /** The account's own limits as stored (null: follows the configured default; 0: unlimited). */
  quotaSetting?: { storageBytes: number | null; messages: number | null };
  pop3: Pop3Policy;
  createdAt: Date;
}

export interface Alias {
  /** `user@domain`, or `@domain` for the domain's catch-all. */
  address: string;
  /** Account addresses the alias expands to. */
  targets: string[];
}

export interface Mailbox {
  id: MailboxId;
  accountId: AccountId;
  /** Full hierarchical name with `/` delimiters, as stored (UTF-8). INBOX is always "INBOX". */
  name: string;
  specialUse: SpecialUse | null;
  subscribed: boolean;
  uidValidity: UidValidity;
  uidNext: Uid;
  highestModSeq: ModSeq;
}

export interface MailboxStatus {
  messages: number;
  unseen: number;
  deleted: number;
  /** Sum of RFC822.SIZE of all messages (RFC 8438 STATUS=SIZE). */
  size: number;
  /** Sum of RFC822.SIZE of the \\Deleted messages (RFC 9208 §4.4 STATUS DELETED-STORAGE): what EXPUNGE frees. */
  deletedSize?: number;
  uidNext: Uid;
  uidValidity: UidValidity;
  highestModSeq: ModSeq;
}

/** The light per-message index used by SELECT, POP3 STAT/LIST and sequence maps. */
export interface MessageSummary {
  uid: Uid;
  modseq: ModSeq;
  flags: Flag[];
  internalDate: Date;
  /** RFC822.SIZE: octets of the logical message (trace prefix + blob). */
  size: number;
}

/** Everything known about one stored message, derived once at delivery. */
export interface StoredMessage extends MessageSummary {
  mailboxId: MailboxId;
  blobId: BlobId;
  /** Length of the per-recipient trace prefix (Return-Path, Received) stored apart from the blob. */
  prefixLength: number;
  /**
   * MIME structure of the logical message with offsets into the logical message
   * (prefix + blob): the root part's header starts at 0 and includes the prefix fields.
   */
  structure: import("../mail/mime-tree.js").MimePart;
  /** RFC 9051 ENVELOPE fields, decoded from the top-level header at delivery. */
  envelope: import("../mail/envelope.js").Envelope;
}

export interface ByteRange {
  /** First octet, inclusive. */
  start: number;
  /** Octet after the last, exclusive. */
  end: number;
}
