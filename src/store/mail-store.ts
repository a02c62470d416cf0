// The backend-neutral mail store. Every protocol (SMTP delivery, IMAP, POP3) goes through this
// interface; only server/compose.ts knows which backend implements it. Every method is async so
// a networked backend (PostgreSQL) fits without touching protocol code.
//
// Invariants every backend keeps (checked by store/contract):
// - When a method that adds messages resolves, the bytes and the rows survive kill -9 and power loss.
// - UIDs in a mailbox strictly increase and are never reused while UIDVALIDITY holds.
// - Every mutation takes a new modseq from its mailbox, writes a change-log row in the same
//   transaction, and is published on the ChangeFeed only after commit.
import type { Readable } from "node:stream";
import type { ChangeFeed, MailboxChangesSince } from "./changes.js";
import type { MetadataStore } from "./metadata-store.js";
import type { AclStore } from "./acl-store.js";

/**
 * What MailStore.findHeaderMatches looks in: the decoded Subject, an address field as
 * `Name <local@domain>, ...` (mail/header-search.ts addressText), or every field of the given name.
 */
export type HeaderSearchField = { kind: "subject" } | { kind: "address"; field: "from" | "to" | "cc" | "bcc" } | { kind: "header"; name: string };

/**
 * MailStore.getImapItems: a message's light index with its ENVELOPE and BODYSTRUCTURE as FETCH
 * sends them (RFC 9051 §7.5.2), encoded once at delivery (store/imap-items.ts).
 */
export interface ImapItems extends MessageSummary {
  /** Each as the string whose UTF-8 form is the wire bytes. */
  envelope: string;
  /** For IMAP4rev1 clients: non-ASCII parameter values in RFC 2231 form. */
  bodyStructure: string;
  /** For clients that enabled UTF8=ACCEPT or IMAP4rev2 (the same as bodyStructure unless a value is non-ASCII). */
  bodyStructureUtf8: string;
}

/**
 * The parts of ImapItems a getImapItems() caller will read (absent: all). A backend may leave the
 * others empty (summary: modseq 0, no flags, the epoch, size 0; envelope or body structure: ""),
 * so `FETCH 1:* (ENVELOPE)` of a big mailbox reads and converts no column it does not send.
 */
export interface ImapItemsWanted {
  summary: boolean;
  envelope: boolean;
  /** "ascii": bodyStructure, "utf8": bodyStructureUtf8, false: neither. */
  bodyStructure: "ascii" | "utf8" | false;
}

/** MailStore.findFuzzyTextMatches(): one message and its RFC 6203 relevancy score (1-100). */
export interface FuzzyMatch {
  uid: Uid;
  score: number;
}

/** MailStore.getSortFacts: one message's sort and threading inputs (RFC 5256). */
export interface SortFacts {
  uid: Uid;
  internalDate: Date;
  /** RFC822.SIZE. */
  size: number;
  /** The stored ENVELOPE fields (raw header values). */
  envelope: import("../mail/envelope.js").Envelope;
  /**
   * The References field's value when asked for and known, else null. May be case-folded
   * (SQLite keeps header fields folded for SEARCH HEADER), so threading compares message-ids folded.
   */
  references: string | null;
}

/**
 * MailStore.getMessageAttributes: what IMAP OBJECTID (RFC 8474), SAVEDATE (RFC 8514) and PREVIEW
 * (RFC 8970) report of a message, kept at delivery (store/object-ids.ts).
 */
export interface MessageAttributes {
  uid: Uid;
  /** RFC 8474 EMAILID: kept by COPY and MOVE. */
  emailId: string;
  /** RFC 8474 THREADID, or null when none was assigned. */
  threadId: string | null;
  /** RFC 8514: when the message was saved into this mailbox (delivery, APPEND, COPY, MOVE); INTERNALDATE for messages stored before it was kept. */
  saveDate: Date;
  /** RFC 8970 preview computed at delivery, or null when the message predates it (compute it from the bytes). */
  preview: string | null;
}

/** MailStore.findTextMatches(): UIDs ascending. */
export interface TextMatches {
  matches: Uid[];
  unverified: Uid[];
}
import type {
  AccountId,
  ByteRange,
  Flag,
  Mailbox,
  MailboxId,
  MailboxStatus,
  MessageSummary,
  ModSeq,
  SpecialUse,
  StoredMessage,
  Uid,
  UidValidity,
} from "./types.js";

/** Raw RFC 5322 bytes: a stream is never buffered whole; a Buffer is for small test messages. */
export type MessageSource = Readable | Buffer | AsyncIterable<Buffer>;

/**
 * A message already written durably to the blob store but not yet in any mailbox: SMTP stages
 * DATA first, verifies SPF/DKIM/DMARC over the staged bytes, then delivers (or queues, or
 * rejects) it. Staging twice the same bytes gives the same blob. A staged message that is
 * never delivered is released with discard() (and garbage-collected if nothing refers to it).
 */
export interface StagedMessage {
  readonly blobId: import("./types.js").BlobId;
  /** Octets of the raw message. */
  readonly size: number;
  readonly parsed: import("../mail/mime-tree.js").ParsedMessage;
  /** The staged bytes, for verification or onward relay. */
  open(): Readable;
  /**
   * The first octets of the message (all of them when it is small), kept in memory from staging,
   * so a reader of the header (Sieve at delivery) need not read the file back; absent when the
   * backend keeps none.
   */
  readonly head?: Buffer;
  discard(): void;
}

export interface DeliveryTarget {
  mailboxId: MailboxId;
  flags?: Flag[];
  /** Per-recipient trace header lines (Return-Path, Received), CRLF-terminated; stored beside the blob. */
  prefix?: Buffer;
  /**
   * This target's own bytes, staged with stageMessage() by this store (a copy a Sieve script
   * edited, RFC 5293); absent: the request's source. Still one atomic delivery for all targets.
   */
  source?: StagedMessage;
}

export interface DeliveryRequest {
  /** Raw bytes to stage and deliver, or a message staged earlier with stageMessage(). */
  source: MessageSource | StagedMessage;
  targets: DeliveryTarget[];
  /** INTERNALDATE; defaults to now. */
  internalDate?: Date;
  /** Refuse (MessageTooLarge) once the stream passes this many octets, before reading more. */
  maxBytes?: number;
}

export interface DeliveredCopy {
  mailboxId: MailboxId;
  uidValidity: UidValidity;
  uid: Uid;
  modseq: ModSeq;
}

export interface DeliveryResult {
  /** Octets of the raw message (blob), without per-recipient prefixes. */
  size: number;
  copies: DeliveredCopy[];
}

export interface UidMapping {
  uidValidity: UidValidity;
  /** Pairs in ascending source order: [sourceUid, destinationUid]. */
  pairs: [Uid, Uid][];
}

export type FlagUpdateMode = "set" | "add" | "remove";

export interface FlagUpdate {
  mode: FlagUpdateMode;
  flags: Flag[];
  /** RFC 7162 UNCHANGEDSINCE: messages whose modseq is greater are left alone and reported. */
  unchangedSince?: ModSeq;
}

export interface FlagUpdateResult {
  /** Messages whose flags changed, with their new flags and modseq. */
  updated: { uid: Uid; modseq: ModSeq; flags: Flag[] }[];
  /** UIDs refused because of UNCHANGEDSINCE (RFC 7162 MODIFIED response code). */
  modified: Uid[];
}

export interface ExpungeResult {
  expunged: Uid[];
  highestModSeq: ModSeq;
}

/** One message of an IMAP APPEND (RFC 3502 MULTIAPPEND: several in one command). */
export interface StagedAppend {
  /** A message staged with stageMessage() by this store. */
  source: StagedMessage;
  flags?: Flag[];
  /** INTERNALDATE; defaults to now. */
  internalDate?: Date;
  /**
   * The UID to give it, kept from another server (a Dovecot `dovecot-uidlist`, mailroom import):
   * at least the mailbox's UIDNEXT and ascending within the call, else INVALID. UIDNEXT becomes
   * uid + 1, so the UIDs skipped are never handed out (RFC 9051 §2.3.1.1).
   */
  uid?: Uid;
}

/**
 * The messages a session claimed as \Recent (RFC 3501 §2.3.2): UIDs from `first` up to but not
 * including `next`. Claims of one mailbox never overlap, so a message is recent in one session.
 */
export interface RecentClaim {
  first: Uid;
  next: Uid;
}

/** MailStore.selectionIndex: a mailbox as SELECT sees it (RFC 9051 §6.3.2). */
export interface SelectionIndex {
  readonly mailbox: Mailbox;
  /** Every UID in the mailbox, ascending. */
  readonly uids: Uint32Array;
  /**
   * Per UID (same index): its system flags as bits in SYSTEM_FLAGS order (\Answered 1, \Flagged
   * 2, \Deleted 4, \Seen 8, \Draft 16), plus 32 when it has any keyword.
   */
  readonly flagBits: Uint8Array;
  readonly firstUnseen: Uid | null;
  readonly keywords: Flag[];
  /**
   * Optional: flag lists that hold keywords, and per UID (same index) the number of its list in
   * `lists` plus one (0: none given), so the session can answer FETCH FLAGS of messages with
   * keywords without a store read. A message with keywords and no list number has its flags read
   * from the store when needed.
   */
  readonly keywordSets?: { readonly lists: readonly (readonly Flag[])[]; readonly ids: Uint8Array };
}

export interface CreateMailboxOptions {
  specialUse?: SpecialUse | null;
  subscribed?: boolean;
  /**
   * The UIDVALIDITY to give the new mailbox (its parents created on the way get fresh ones), kept
   * from another server so its clients' caches stay valid; 1..2^32-1, else INVALID.
   */
  uidValidity?: UidValidity;
}

/**
 * MetadataStore: RFC 5464 entries (metadata-store.ts), which follow RENAME and go with DELETE.
 * AclStore: RFC 4314 rights and per-user \Seen on shared mailboxes (acl-store.ts), likewise.
 */
export interface MailStore extends MetadataStore, AclStore {
  readonly changes: ChangeFeed;

  // Mailboxes ------------------------------------------------------------------------------
  listMailboxes(accountId: AccountId): Promise<Mailbox[]>;
  /** Exact name; "INBOX" is matched case-insensitively (RFC 9051 §5.1). */
  getMailbox(accountId: AccountId, name: string): Promise<Mailbox | null>;
  getMailboxById(mailboxId: MailboxId): Promise<Mailbox | null>;
  /** Creates missing parents too (RFC 9051 §6.3.4). Throws StoreError ALREADYEXISTS / CANNOT. */
  createMailbox(accountId: AccountId, name: string, options?: CreateMailboxOptions): Promise<Mailbox>;
  /**
   * Renames a mailbox and all its children; renaming INBOX moves its messages into a new
   * mailbox and leaves INBOX empty (RFC 9051 §6.3.6). Throws NONEXISTENT / ALREADYEXISTS / CANNOT.
   */
  renameMailbox(accountId: AccountId, oldName: string, newName: string): Promise<void>;
  /**
   * Gives a mailbox that has never held a message (UIDNEXT 1) another UIDVALIDITY, so an import
   * into the INBOX a new account starts with can keep the old server's (and its UIDs, with
   * StagedAppend.uid). Throws CANNOT once the mailbox has held a message, INVALID out of range.
   */
  adoptUidValidity(mailboxId: MailboxId, uidValidity: UidValidity): Promise<Mailbox>;
  /** Deletes a mailbox with its messages. Refuses INBOX and mailboxes with children (as Dovecot). */
  deleteMailbox(accountId: AccountId, name: string): Promise<void>;
  /** Subscriptions are kept by name and may name mailboxes that do not exist (RFC 9051 §6.3.7). */
  setSubscribed(accountId: AccountId, name: string, subscribed: boolean): Promise<void>;
  listSubscriptions(accountId: AccountId): Promise<string[]>;
  mailboxStatus(mailboxId: MailboxId): Promise<MailboxStatus>;

  // Messages -------------------------------------------------------------------------------
  /**
   * Stores one message (one blob) into one or more mailboxes atomically: either every target
   * gets its copy or none does. A target with its own `source` gets those bytes instead (each
   * distinct blob stored once); copies are returned in target order. Resolves only once durable. Throws QUOTA when a target account
   * would pass its quota, TOOBIG past maxBytes.
   */
  deliver(request: DeliveryRequest): Promise<DeliveryResult>;
  /**
   * Writes the bytes durably to the blob store without delivering them (see StagedMessage). Throws TOOBIG past maxBytes.
   * With deferSync the bytes are written but made durable only by the deliver()/appendStaged()
   * call that stores them, together with the other messages of that call (SQLite: one fsync per
   * file, then one per blob folder for the whole call, instead of a file and a folder fsync each
   * and alone): for a bulk import, where a batch is appended at once. A crash before that call
   * loses the staged bytes, which were in no mailbox yet. A backend whose staging is a database
   * commit of its own (PostgreSQL) may ignore it.
   */
  stageMessage(source: MessageSource, options?: { maxBytes?: number; deferSync?: boolean }): Promise<StagedMessage>;
  /** IMAP APPEND: deliver() to one mailbox. */
  append(mailboxId: MailboxId, source: MessageSource, options?: { flags?: Flag[]; internalDate?: Date; maxBytes?: number }): Promise<DeliveredCopy>;
  /**
   * IMAP MULTIAPPEND (RFC 3502 §6.3.11): the staged messages go into one mailbox in order, all or
   * none, with consecutive UIDs. Throws TOOBIG when one is larger than maxBytes.
   */
  appendStaged(mailboxId: MailboxId, messages: readonly StagedAppend[], options?: { maxBytes?: number }): Promise<DeliveredCopy[]>;
  /**
   * IMAP REPLACE (RFC 8508): in one transaction, removes the message `uid` of `source` (as
   * removeMessages) and appends `message` to `target` (which may be `source`), so either both
   * happen or neither. Throws NONEXISTENT when the message is gone, and what appendStaged throws
   * (the quota is checked after the old message's removal).
   */
  replaceMessage(source: MailboxId, uid: Uid, target: MailboxId, message: StagedAppend, options?: { maxBytes?: number }): Promise<{ copy: DeliveredCopy; expunged: ExpungeResult }>;
  /**
   * RFC 3501 §2.3.2 \Recent, Dovecot-style: each mailbox keeps a "first recent UID". A claim
   * moves it to UIDNEXT atomically and returns the range it moved over: those messages are
   * recent to the claiming session, and to no other. With peek (EXAMINE, RFC 3501 §6.3.2: it
   * "MUST NOT cause messages to lose the \Recent flag") the range is returned and nothing moves.
   */
  claimRecent(mailboxId: MailboxId, options?: { peek?: boolean }): Promise<RecentClaim>;
  /** Messages at or above the first recent UID: not yet claimed by any session (STATUS RECENT). */
  countRecent(mailboxId: MailboxId): Promise<number>;
  /**
   * What IMAP SELECT needs, read in one snapshot without a row object per message: the mailbox
   * row, every UID ascending (packed), the first UID without \Seen, and the keywords in use in
   * the order their first message has them (ascending UID).
   */
  selectionIndex(mailboxId: MailboxId): Promise<SelectionIndex>;
  /** Ascending by UID. */
  listMessages(mailboxId: MailboxId): Promise<MessageSummary[]>;
  /**
   * The light index (flags, modseq, size, INTERNALDATE) of the given UIDs that still exist,
   * ascending by UID: what FETCH of UID/FLAGS/MODSEQ/RFC822.SIZE/INTERNALDATE needs, without the
   * parsed structure and envelope getMessages() carries.
   */
  getSummaries(mailboxId: MailboxId, uids: readonly Uid[]): Promise<MessageSummary[]>;
  /**
   * getSummaries() of every message with first <= uid <= last, ascending: one index range read,
   * for a page of a FETCH over consecutive UIDs (FETCH 1:* (FLAGS)), no UID list to pass.
   */
  getSummaryRange(mailboxId: MailboxId, first: Uid, last: Uid): Promise<MessageSummary[]>;
  /**
   * getSummaries() with each message's encoded ENVELOPE and BODYSTRUCTURE (ImapItems), ascending
   * by UID, UIDs that no longer exist absent: what FETCH of those items needs, without the parsed
   * structure getMessages() decodes or any message file. The bytes are exactly what rendering
   * getMessages()' envelope and structure with imap/protocol/ gives. With `wanted`, the parts not
   * wanted may be left empty (ImapItemsWanted).
   */
  getImapItems(mailboxId: MailboxId, uids: readonly Uid[], wanted?: ImapItemsWanted): Promise<ImapItems[]>;
  /**
   * What SORT and THREAD (RFC 5256) order and link messages by, for the given UIDs that still
   * exist, ascending by UID: read from rows kept at delivery (the stored envelope and, with
   * `withReferences`, the References field of the header index), never from a message file and
   * without decoding MIME structures.
   */
  getSortFacts(mailboxId: MailboxId, uids: readonly Uid[], withReferences: boolean): Promise<SortFacts[]>;
  /**
   * EMAILID, THREADID, save date and stored preview (MessageAttributes) of the given UIDs that
   * still exist, ascending by UID: one indexed read, no message file.
   */
  getMessageAttributes(mailboxId: MailboxId, uids: readonly Uid[]): Promise<MessageAttributes[]>;
  /** Full metadata for the given UIDs that still exist, ascending by UID. */
  getMessages(mailboxId: MailboxId, uids: readonly Uid[]): Promise<StoredMessage[]>;
  /**
   * Octets of each message once every line end is CRLF and the last line is ended (what POP3
   * RETR sends before dot-stuffing, mail/sent-octets.ts), counted at delivery so POP3 STAT/LIST
   * read no message. UIDs that no longer exist are absent; a message whose blob was stored before
   * the count was kept maps to null (count it from its bytes).
   */
  getCrlfSizes(mailboxId: MailboxId, uids: readonly Uid[]): Promise<Map<Uid, number | null>>;
  /**
   * The whole logical bytes (prefix + blob) of each given message whose RFC822.SIZE is at most
   * maxSize: one query for the batch and one file read per message, for FETCH BODY[] and POP3
   * RETR of small messages, where a stream per message costs more than its bytes. UIDs that no
   * longer exist, larger messages (stream those with openMessage), and damaged ones (findDamaged)
   * are absent.
   */
  readMessages(mailboxId: MailboxId, uids: readonly Uid[], options: { maxSize: number }): Promise<Map<Uid, Buffer>>;
  /**
   * The logical message bytes (prefix + blob), optionally a byte range of it. The stream fails
   * with NONEXISTENT once the message is expunged, DAMAGED when its stored bytes are missing or
   * short; it never ends early.
   */
  openMessage(message: StoredMessage, range?: ByteRange): Readable;
  /**
   * The UIDs among these whose stored bytes are missing or not the recorded size (a cheap check,
   * no read): a protocol refuses those (IMAP NO [SERVERBUG]) before it promises their bytes.
   */
  findDamaged(mailboxId: MailboxId, uids: readonly Uid[]): Promise<Uid[]>;
  /**
   * Decoded text of the message's header values and text parts, for SEARCH BODY/TEXT, as the
   * full-text index holds it: case-folded by mail/case-fold.ts (foldCase(x) of the decoded text).
   */
  getSearchText(mailboxId: MailboxId, uid: Uid): Promise<string | null>;
  /** getSearchText() for many messages in one call; UIDs that no longer exist are absent. */
  getSearchTexts(mailboxId: MailboxId, uids: readonly Uid[]): Promise<Map<Uid, string>>;
  /**
   * The messages of the mailbox whose search text (getSearchText) contains `needle`, compared as
   * IMAP SEARCH compares (RFC 9051 §6.4.4: substring, case-insensitive after mail/case-fold.ts):
   * part "text" looks in the whole text, "body" in what follows the top-level header's values.
   * Answered from the full-text index; strings too short for it are matched by a scan in pages
   * that yields between pages and never brings the mailbox's text into memory. `matches`
   * ascending by UID; `unverified`: messages whose text holds the string but whose header/body
   * split predates the index (BODY only), for the caller to decide from the header.
   */
  findTextMatches(mailboxId: MailboxId, needle: string, part: "text" | "body"): Promise<TextMatches>;
  /**
   * FUZZY TEXT / BODY (RFC 6203): the messages whose search text shares enough of the string's
   * trigrams, or holds it exactly, with their scores, ascending by UID; the algorithm is
   * mail/fuzzy-match.ts, the same on every backend. Messages whose header/body split predates
   * the index are scored on their whole text for BODY.
   */
  findFuzzyTextMatches(mailboxId: MailboxId, needle: string, part: "text" | "body"): Promise<FuzzyMatch[]>;
  /**
   * The messages of the mailbox whose header matches IMAP SEARCH SUBJECT / FROM / TO / CC / BCC /
   * HEADER (RFC 9051 §6.4.4), ascending by UID, decided without loading the mailbox:
   * - subject: the Subject value with its encoded-words decoded (mail/header-search.ts);
   * - address: the field's addresses as addressText() writes them;
   * - header: any field of that name (case-insensitive) of the top-level header, the per-recipient
   *   trace prefix included, whose decoded value holds the string; the empty string matches every
   *   message that has the field at all.
   * Comparison as findTextMatches: substring after mail/case-fold.ts on both sides; a message
   * without the field (no Subject, no To) matches no string, not even the empty one.
   */
  findHeaderMatches(mailboxId: MailboxId, field: HeaderSearchField, needle: string): Promise<Uid[]>;
  /** Copies into another mailbox (same or other account's is refused); new UIDs in the target. */
  copyMessages(source: MailboxId, uids: readonly Uid[], target: MailboxId): Promise<UidMapping>;
  /** Copy then expunge from the source, atomically (RFC 6851). */
  moveMessages(source: MailboxId, uids: readonly Uid[], target: MailboxId): Promise<UidMapping>;
  updateFlags(mailboxId: MailboxId, uids: readonly Uid[], update: FlagUpdate): Promise<FlagUpdateResult>;
  /** Removes the messages flagged \Deleted (all, or only among `uids` for UID EXPUNGE). */
  expungeDeleted(mailboxId: MailboxId, uids?: readonly Uid[]): Promise<ExpungeResult>;
  /** Removes the given messages whatever their flags (POP3 DELE committed at QUIT). */
  removeMessages(mailboxId: MailboxId, uids: readonly Uid[]): Promise<ExpungeResult>;
  changesSince(mailboxId: MailboxId, modseq: ModSeq): Promise<MailboxChangesSince>;

  close(): Promise<void>;
}
