// Message rows: the insert shared by delivery, APPEND and COPY, and the reads (listing, full
// metadata, search text, trace prefix). A row refers to its blob; the structure and envelope are
// kept once per blob with blob offsets and shifted past the prefix when read.
import { foldCase } from "../../mail/case-fold.js";
import type { Envelope } from "../../mail/envelope.js";
import { headerSearchEntry } from "../../mail/header-search.js";
import { encodeImapItems } from "../imap-items.js";
import type { ParsedMessage } from "../../mail/mime-tree.js";
import { decodeStructure, encodeStructure } from "../../mail/stored-structure.js";
import { sentOctets } from "../../mail/sent-octets.js";
import { addUsage as addUsageDelta, quotaSql, type UsageDelta } from "../quota.js";
import { StoreError } from "../errors.js";
import type { DeliveredCopy, DeliveryResult, ImapItems, ImapItemsWanted, MessageAttributes, SelectionIndex, SortFacts } from "../mail-store.js";
import { newEmailId, newThreadId, previewOf, threadKeys } from "../object-ids.js";
import type { AccountId, BlobId, Flag, MailboxId, MessageSummary, ModSeq, StoredMessage, Uid } from "../types.js";
import { SYSTEM_FLAGS } from "../types.js";
import { logAdded, nextModSeq, reserveUids } from "./change-log.js";
import { hasFlag } from "./flag-rules.js";
import { requireMailbox } from "./mailboxes.js";
import { type MessageRow, parseFlags, toMessageSummary } from "./rows.js";
import type { StoreContext, UnitOfWork } from "./store-context.js";

export interface NewMessageRow {
  flags: Flag[];
  internalDate: number;
  /** Logical size: prefix + blob. */
  size: number;
  blobId: BlobId;
  prefix: Buffer | null;
  /** RFC 8474 EMAILID (a COPY keeps the source's); a new one when absent. */
  emailId?: string | null;
  /** RFC 8474 THREADID (assignThread); none when absent. */
  threadId?: string | null;
  /** RFC 8514 save date (ms); now when absent. */
  saveDate?: number;
}

export interface PlannedCopy {
  mailboxId: MailboxId;
  flags: Flag[];
  prefix: Buffer;
  /** A UID kept from another server (StagedAppend.uid): at least UIDNEXT. */
  uid?: Uid;
}

export interface DurableBlob {
  id: BlobId;
  size: number;
  /** Octets with CRLF line ends (mail/sent-octets.ts), counted while the blob was written. */
  crlfSize: number;
  parsed: ParsedMessage;
}

export function insertMessageRow(ctx: StoreContext, mailboxId: MailboxId, uid: Uid, modseq: ModSeq, row: NewMessageRow): void {
  ctx.sql.run(
    // text_id copied from the blob (schema.ts, version 22): the blob row is written first.
    `INSERT INTO messages (mailbox_id, uid, modseq, flags, seen, deleted, internal_date, size, blob_id, prefix, email_id, thread_id, save_date, text_id)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, (SELECT text_id FROM blobs WHERE id = ?))`,
    mailboxId,
    uid,
    modseq,
    JSON.stringify(row.flags),
    hasFlag(row.flags, "\\Seen") ? 1 : 0,
    hasFlag(row.flags, "\\Deleted") ? 1 : 0,
    row.internalDate,
    row.size,
    row.blobId,
    row.prefix && row.prefix.length > 0 ? row.prefix : null,
    row.emailId ?? newEmailId(),
    row.threadId ?? null,
    row.saveDate ?? ctx.clock().getTime(),
    row.blobId,
  );
}

/**
 * The THREADID of a new message of the account that names these message-ids (object-ids.ts
 * threadKeys): the thread of the first one already recorded, else a new thread; every id is
 * then recorded with it (the first record of an id stays).
 */
export function assignThread(ctx: StoreContext, accountId: AccountId, keys: readonly string[]): string {
  const found =
    keys.length === 0
      ? undefined
      : ctx.sql.get<{ thread_id: string }>(
          // CROSS JOIN keeps json_each outside: with a plain JOIN the planner walked every key of
          // the account for each message (an import's cost grew with the mailbox, ~0.3 ms a
          // message at 1 000 messages), instead of one primary-key lookup per message-id.
          "SELECT t.thread_id FROM json_each(?) j CROSS JOIN thread_keys t ON t.account_id = ? AND t.message_key = j.value ORDER BY j.key LIMIT 1",
          JSON.stringify(keys),
          accountId,
        );
  const threadId = found?.thread_id ?? newThreadId();
  for (const key of keys) ctx.sql.run("INSERT OR IGNORE INTO thread_keys (account_id, message_key, thread_id) VALUES (?, ?, ?)", accountId, key, threadId);
  return threadId;
}

/** MailStore.getMessageAttributes (object-ids.ts). */
export function getMessageAttributes(ctx: StoreContext, mailboxId: MailboxId, uids: readonly Uid[]): MessageAttributes[] {
  if (uids.length === 0) return [];
  const rows = ctx.sql.all<{ uid: number; email_id: string | null; thread_id: string | null; save_date: number | null; internal_date: number; preview: string | null }>(
    `SELECT m.uid, m.email_id, m.thread_id, m.save_date, m.internal_date, b.preview
       FROM messages m JOIN blobs b ON b.id = m.blob_id
      WHERE m.mailbox_id = ? AND m.uid IN (SELECT value FROM json_each(?)) ORDER BY m.uid`,
    mailboxId,
    JSON.stringify(uids),
  );
  return rows.map((row) => ({
    uid: row.uid as Uid,
    // Every row has one since migration 28; a row written without one (never expected) is named by its place.
    emailId: row.email_id ?? `E${mailboxId}x${row.uid}`,
    threadId: row.thread_id,
    saveDate: new Date(row.save_date ?? row.internal_date),
    preview: row.preview,
  }));
}

/**
 * The blob's row (what was derived from its bytes) and its full-text index entry, unless an
 * earlier delivery wrote them: a blob's text is indexed once, however many messages (COPY,
 * several recipients) refer to it. Same transaction as the message rows (schema.ts, version 9).
 */
export function insertBlobRow(ctx: StoreContext, blob: DurableBlob): void {
  if (ctx.sql.get("SELECT 1 FROM blobs WHERE id = ?", blob.id) !== undefined) return;
  const entry = searchIndexEntry(blob.parsed);
  const indexed = ctx.sql.run("INSERT INTO search_index (text) VALUES (?)", entry.text);
  ctx.sql.run(
    "INSERT INTO blobs (id, size, structure, envelope, crlf_size, text_id, text_head, preview) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    blob.id,
    blob.size,
    encodeStructure(blob.parsed.root),
    JSON.stringify(blob.parsed.envelope),
    blob.crlfSize,
    indexed.lastInsertRowid,
    entry.head,
    previewOf(blob.parsed),
  );
  insertHeaderIndexRow(ctx, Number(indexed.lastInsertRowid), blob.parsed);
  const items = encodeImapItems(blob.parsed.envelope, blob.parsed.root);
  ctx.sql.run(
    "INSERT OR REPLACE INTO fetch_items (text_id, envelope, bodystructure, bodystructure_utf8) VALUES (?, ?, ?, ?)",
    indexed.lastInsertRowid,
    items.envelope,
    items.bodyStructure,
    items.bodyStructureUtf8,
  );
}

/**
 * The blob's header search row (schema.ts, version 12), keyed by its text_id. `fields` stays NULL
 * for a hand-made ParsedMessage without header fields: SEARCH HEADER then reads the file.
 */
export function insertHeaderIndexRow(ctx: StoreContext, textId: number, parsed: Pick<ParsedMessage, "envelope" | "headerFields">): void {
  const entry = headerSearchEntry(parsed.envelope, parsed.headerFields ?? []);
  ctx.sql.run(
    "INSERT OR REPLACE INTO header_index (text_id, subject, from_text, to_text, cc_text, bcc_text, fields) VALUES (?, ?, ?, ?, ?, ?, ?)",
    textId,
    entry.subject,
    entry.from,
    entry.to,
    entry.cc,
    entry.bcc,
    parsed.headerFields === undefined ? null : JSON.stringify(entry.fields),
  );
}

/**
 * What the full-text index holds for a parsed message: the folded text and the UTF-16 units of it
 * that come from the top-level header (blobs.text_head). Also what `mailroom index check` compares
 * an entry with and `index rebuild` writes (search-index-check.ts).
 */
export function searchIndexEntry(parsed: Pick<ParsedMessage, "searchText" | "searchTextHeadLength">): { text: string; head: number } {
  const text = parsed.searchText;
  const headLength = Math.min(parsed.searchTextHeadLength ?? text.length, text.length);
  // Folded in two pieces so the header's length is known in folded units; the body text starts
  // with a line feed (SearchTextCollector.separate), so nothing composes across the cut.
  const head = foldCase(text.slice(0, headLength));
  return { text: head + foldCase(text.slice(headLength)), head: head.length };
}

/**
 * Refuses (OVERQUOTA) when adding the bytes and messages per account would pass either of an
 * account's limits (RFC 9208 STORAGE and MESSAGE; store/quota.ts resolves the defaults).
 */
export function checkQuota(ctx: StoreContext, added: Map<AccountId, UsageDelta>): void {
  const { bytesLimit, messagesLimit } = quotaSql(ctx.quota);
  for (const [accountId, delta] of added) {
    const account = ctx.sql.get<{ over_bytes: number | null; over_messages: number | null; address: string }>(
      `SELECT used_bytes + ? > ${bytesLimit} AS over_bytes, used_messages + ? > ${messagesLimit} AS over_messages, address FROM accounts WHERE id = ?`,
      delta.bytes,
      delta.messages,
      accountId,
    );
    if (!account) throw new StoreError("NONEXISTENT", "no such account");
    if (account.over_bytes === 1 || account.over_messages === 1) {
      throw new StoreError("OVERQUOTA", `quota of ${account.address} exceeded`);
    }
  }
}

/** Charges the usage counters in the same transaction as the rows they count. */
export function addUsage(ctx: StoreContext, added: Map<AccountId, UsageDelta>): void {
  for (const [accountId, delta] of added) {
    ctx.sql.run("UPDATE accounts SET used_bytes = used_bytes + ?, used_messages = used_messages + ? WHERE id = ?", delta.bytes, delta.messages, accountId);
  }
}

/**
 * The database half of a delivery: one row per target, all or nothing. The blob file is already
 * durable; this runs inside a commit-queue unit, so its COMMIT makes the delivery durable.
 */
export function insertDeliveryInTransaction(ctx: StoreContext, unit: UnitOfWork, blob: DurableBlob, copies: readonly PlannedCopy[], internalDate: Date): DeliveryResult {
  const mailboxes = copies.map((copy) => requireMailbox(ctx, copy.mailboxId));
  const added = new Map<AccountId, UsageDelta>();
  copies.forEach((copy, i) => addUsageDelta(added, mailboxes[i]!.accountId, copy.prefix.length + blob.size, 1));
  checkQuota(ctx, added);
  insertBlobRow(ctx, blob);
  const modseqs = new Map<MailboxId, ModSeq>();
  // One THREADID per account, and one EMAILID per account and trace prefix: copies of this
  // delivery into several folders of an account are the same message (object-ids.ts).
  const keys = threadKeys(blob.parsed.envelope, blob.parsed.headerFields);
  const threads = new Map<AccountId, string>();
  const emailIds = new Map<string, string>();
  const delivered: DeliveredCopy[] = copies.map((copy, i) => {
    const mailbox = mailboxes[i]!;
    let threadId = threads.get(mailbox.accountId);
    if (threadId === undefined) threads.set(mailbox.accountId, (threadId = assignThread(ctx, mailbox.accountId, keys)));
    const sameMessage = `${mailbox.accountId}:${copy.prefix.toString("base64")}`;
    let emailId = emailIds.get(sameMessage);
    if (emailId === undefined) emailIds.set(sameMessage, (emailId = newEmailId()));
    if (copy.uid !== undefined) keepUid(ctx, mailbox.id, copy.uid);
    const uid = reserveUids(ctx, mailbox.id, 1);
    const modseq = modseqs.get(mailbox.id) ?? nextModSeq(ctx, mailbox.id);
    modseqs.set(mailbox.id, modseq);
    insertMessageRow(ctx, mailbox.id, uid, modseq, {
      flags: copy.flags,
      internalDate: internalDate.getTime(),
      size: copy.prefix.length + blob.size,
      blobId: blob.id,
      prefix: copy.prefix,
      emailId,
      threadId,
    });
    logAdded(ctx, mailbox.id, uid, modseq);
    unit.add(mailbox.accountId, { kind: "added", mailboxId: mailbox.id, uid, modseq });
    return { mailboxId: mailbox.id, uidValidity: mailbox.uidValidity, uid, modseq };
  });
  addUsage(ctx, added);
  return { size: blob.size, copies: delivered };
}

export interface PlannedAppend {
  blob: DurableBlob;
  flags: Flag[];
  internalDate: Date;
  /** A UID kept from another server (StagedAppend.uid); all of a call's appends keep one or none. */
  uid?: Uid;
}

/**
 * The database half of appendStaged (MULTIAPPEND, `mailroom import`): many messages into one
 * mailbox, all or nothing, with the rows insertDeliveryInTransaction would write for each. The
 * counters are written once for the call and BEFORE any full-text row: SQLite opens a statement
 * savepoint for an UPDATE, and FTS5 writes its pending index data out as a new segment at every
 * savepoint (fts5SavepointMethod), so the former order (index row, then UIDNEXT, then the next
 * message's index row...) wrote one segment per message and cost more than the rest of the
 * insert together (~1.2 ms a message, measured in a 256 MB import). Now the batch's index rows are
 * written out once, at COMMIT.
 */
export function insertAppendsInTransaction(ctx: StoreContext, unit: UnitOfWork, mailboxId: MailboxId, appends: readonly PlannedAppend[]): DeliveredCopy[] {
  if (appends.length === 0) return [];
  const mailbox = requireMailbox(ctx, mailboxId);
  const added = new Map<AccountId, UsageDelta>();
  for (const append of appends) addUsageDelta(added, mailbox.accountId, append.blob.size, 1);
  checkQuota(ctx, added);
  addUsage(ctx, added);
  // Kept UIDs are ascending (checkKeptUids): the first must be at least UIDNEXT, and UIDNEXT ends
  // after the last; otherwise the messages take consecutive UIDs from UIDNEXT, as one by one.
  const keptUids = appends[0]!.uid !== undefined;
  if (keptUids) keepUid(ctx, mailbox.id, appends[0]!.uid!);
  const firstUid = keptUids ? appends[0]!.uid! : reserveUids(ctx, mailbox.id, appends.length);
  if (keptUids) reserveUids(ctx, mailbox.id, appends[appends.length - 1]!.uid! - firstUid + 1);
  // One modseq per message, consecutive, as one-by-one appends would have had.
  const lastModseq = ctx.sql.get<{ highest_modseq: number }>("UPDATE mailboxes SET highest_modseq = highest_modseq + ? WHERE id = ? RETURNING highest_modseq", appends.length, mailbox.id)!.highest_modseq;
  const firstModseq = lastModseq - appends.length + 1;
  return appends.map((append, i) => {
    const uid = (keptUids ? append.uid! : firstUid + i) as Uid;
    const modseq = (firstModseq + i) as ModSeq;
    insertBlobRow(ctx, append.blob);
    const threadId = assignThread(ctx, mailbox.accountId, threadKeys(append.blob.parsed.envelope, append.blob.parsed.headerFields));
    insertMessageRow(ctx, mailbox.id, uid, modseq, { flags: append.flags, internalDate: append.internalDate.getTime(), size: append.blob.size, blobId: append.blob.id, prefix: null, emailId: newEmailId(), threadId });
    logAdded(ctx, mailbox.id, uid, modseq);
    unit.add(mailbox.accountId, { kind: "added", mailboxId: mailbox.id, uid, modseq });
    return { mailboxId: mailbox.id, uidValidity: mailbox.uidValidity, uid, modseq };
  });
}

/** Moves UIDNEXT up to a kept UID, so reserveUids hands it out; below UIDNEXT it is refused. */
function keepUid(ctx: StoreContext, mailboxId: MailboxId, uid: Uid): void {
  const moved = ctx.sql.run("UPDATE mailboxes SET uid_next = ? WHERE id = ? AND uid_next <= ?", uid, mailboxId, uid);
  if (moved.changes === 0) throw new StoreError("INVALID", `UID ${uid} is below the mailbox's UIDNEXT`);
}

/**
 * Distinct keyword-bearing flag lists SELECT numbers per message (SelectionIndex.keywordSets);
 * the keyword messages of a mailbox with more lists have their flags read from the store per FETCH.
 */
const MAX_KEYWORD_SETS = 62;
/** Distinct flag lists up to which SELECT's scan maps each list text to its value (a CASE). */
const MAX_CASE_LISTS = 64;
/** The value of a list the CASE does not name: keyword list 63 is never handed out. */
const UNMAPPED = 4095;

/**
 * SYSTEM_FLAGS as bits (\\Answered 1, \\Flagged 2, \\Deleted 4, \\Seen 8, \\Draft 16), plus 32 for
 * any keyword: SelectionIndex.flagBits of a stored list (its system flags are in canonical case).
 */
function systemFlagBits(flags: readonly Flag[]): number {
  let bits = 0;
  for (const flag of flags) {
    const i = (SYSTEM_FLAGS as readonly string[]).indexOf(flag);
    bits |= i >= 0 ? 1 << i : flag.startsWith("\\") ? 0 : 32;
  }
  return bits;
}

/** MailStore.selectionIndex; runs inside one read, so the parts agree with each other. */
export function selectionIndex(ctx: StoreContext, mailboxId: MailboxId): SelectionIndex {
  const mailbox = requireMailbox(ctx, mailboxId);
  // The mailbox's distinct flag lists (few), from the (mailbox_id, flags) index: its keywords,
  // and the keyword-bearing lists the scan below numbers.
  const keywords = new Map<string, Flag>();
  const lists = ctx.sql.all<{ flags: string; first: number }>(
    "SELECT flags, min(uid) AS first FROM messages INDEXED BY messages_flags WHERE mailbox_id = ? GROUP BY flags ORDER BY first",
    mailboxId,
  );
  const setLists: Flag[][] = [];
  const setTexts: string[] = [];
  for (const row of lists) {
    const flags = parseFlags(row.flags);
    let withKeywords = false;
    for (const flag of flags) {
      if (flag.startsWith("\\")) continue;
      withKeywords = true;
      const key = flag.toLowerCase();
      if (!keywords.has(key)) keywords.set(key, flag);
    }
    if (withKeywords && setLists.length < MAX_KEYWORD_SETS) {
      setLists.push(flags);
      setTexts.push(row.flags);
    }
  }
  // The covering (mailbox_id, flags) index holds every UID and flag list (the primary key rides
  // along in a WITHOUT ROWID index) and is far narrower than the table. One number per message,
  // uid * 4096 + keyword list number * 64 + flag bits, computed in SQL in one scan: no row
  // object, and sorting it sorts by UID. With few distinct lists (the usual case) each list's
  // number and bits are worked out here once and the scan only maps the list text to its value
  // (a CASE, 4x cheaper than testing each row's text); with many, SQL tests each row's text for
  // the system flags. A list the CASE does not name (none can appear within this synchronous read)
  // would show as the sentinel, and the scan is then done the second way.
  let packed: Float64Array | null = null;
  if (lists.length <= MAX_CASE_LISTS) {
    const values = lists.map((row) => {
      const flags = parseFlags(row.flags);
      const set = setTexts.indexOf(row.flags) + 1;
      return set * 64 + systemFlagBits(flags);
    });
    const mapped = lists.length === 0 ? "0" : `CASE flags ${lists.map(() => "WHEN ? THEN ?").join(" ")} ELSE ${UNMAPPED} END`;
    packed = Float64Array.from(
      ctx.sql.column<number>(`SELECT uid * 4096 + ${mapped} FROM messages INDEXED BY messages_flags WHERE mailbox_id = ?`, ...lists.flatMap((row, i) => [row.flags, values[i]!]), mailboxId),
    );
    if (packed.some((value) => value % 4096 === UNMAPPED)) packed = null;
  }
  if (packed === null) {
    const setNumber = setTexts.length === 0 ? "0" : `CASE flags ${setTexts.map((_, i) => `WHEN ? THEN ${(i + 1) * 64}`).join(" ")} ELSE 0 END`;
    packed = Float64Array.from(
      ctx.sql.column<number>(
        `SELECT uid * 4096 + ${setNumber} + (instr(flags, '\\Answered"') > 0) + 2 * (instr(flags, '\\Flagged"') > 0) + 4 * (instr(flags, '\\Deleted"') > 0)
                + 8 * (instr(flags, '\\Seen"') > 0) + 16 * (instr(flags, '\\Draft"') > 0)
                + 32 * (json_array_length(flags) > (instr(flags, '\\Answered"') > 0) + (instr(flags, '\\Flagged"') > 0) + (instr(flags, '\\Deleted"') > 0)
                                                 + (instr(flags, '\\Seen"') > 0) + (instr(flags, '\\Draft"') > 0))
           FROM messages INDEXED BY messages_flags WHERE mailbox_id = ?`,
        ...setTexts,
        mailboxId,
      ),
    );
  }
  packed.sort();
  const uids = new Uint32Array(packed.length);
  const flagBits = new Uint8Array(packed.length);
  const ids = new Uint8Array(setTexts.length === 0 ? 0 : packed.length);
  for (let i = 0; i < packed.length; i++) {
    const value = packed[i]!;
    const low = value % 4096;
    uids[i] = (value - low) / 4096;
    flagBits[i] = low % 64;
    if (setTexts.length > 0) ids[i] = low >> 6;
  }
  const unseen = ctx.sql.get<{ uid: number | null }>("SELECT min(uid) AS uid FROM messages INDEXED BY messages_unseen WHERE mailbox_id = ? AND seen = 0", mailboxId);
  return {
    mailbox,
    uids,
    flagBits,
    firstUnseen: (unseen?.uid ?? null) as Uid | null,
    keywords: [...keywords.values()],
    ...(setTexts.length === 0 ? {} : { keywordSets: { lists: setLists, ids } }),
  };
}

export function listMessages(ctx: StoreContext, mailboxId: MailboxId): MessageSummary[] {
  requireMailbox(ctx, mailboxId);
  return ctx.sql
    .all<MessageRow>("SELECT uid, modseq, flags, internal_date, size FROM messages WHERE mailbox_id = ? ORDER BY uid", mailboxId)
    .map(toMessageSummary);
}

export function getSummaries(ctx: StoreContext, mailboxId: MailboxId, uids: readonly Uid[]): MessageSummary[] {
  if (uids.length === 0) return [];
  return ctx.sql
    .all<MessageRow>(
      "SELECT uid, modseq, flags, internal_date, size FROM messages WHERE mailbox_id = ? AND uid IN (SELECT value FROM json_each(?)) ORDER BY uid",
      mailboxId,
      JSON.stringify(uids),
    )
    .map(toMessageSummary);
}

export function getSummaryRange(ctx: StoreContext, mailboxId: MailboxId, first: Uid, last: Uid): MessageSummary[] {
  return ctx.sql
    .all<MessageRow>("SELECT uid, modseq, flags, internal_date, size FROM messages WHERE mailbox_id = ? AND uid BETWEEN ? AND ? ORDER BY uid", mailboxId, first, last)
    .map(toMessageSummary);
}

interface StoredRow extends MessageRow {
  blob_id: string;
  prefix_length: number;
  structure: string;
  envelope: string;
}

export function getMessages(ctx: StoreContext, mailboxId: MailboxId, uids: readonly Uid[]): StoredMessage[] {
  if (uids.length === 0) return [];
  const rows = ctx.sql.all<StoredRow>(
    `SELECT m.uid, m.modseq, m.flags, m.internal_date, m.size, m.blob_id, length(coalesce(m.prefix, x'')) AS prefix_length,
            b.structure, b.envelope
       FROM messages m JOIN blobs b ON b.id = m.blob_id
      WHERE m.mailbox_id = ? AND m.uid IN (SELECT value FROM json_each(?)) ORDER BY m.uid`,
    mailboxId,
    JSON.stringify(uids),
  );
  return rows.map((row) => ({
    ...toMessageSummary(row),
    mailboxId,
    blobId: row.blob_id as BlobId,
    prefixLength: row.prefix_length,
    structure: decodeStructure(row.structure, row.prefix_length),
    envelope: JSON.parse(row.envelope) as Envelope,
  }));
}

/**
 * MailStore.getImapItems: the light index and the encoded ENVELOPE/BODYSTRUCTURE of each given
 * message, one indexed read per message and no structure decoded. A blob without its fetch_items
 * row (not expected after migration 12) is rendered from its stored envelope and structure.
 */
export function getImapItems(ctx: StoreContext, mailboxId: MailboxId, uids: readonly Uid[], wanted?: ImapItemsWanted): ImapItems[] {
  if (uids.length === 0) return [];
  // A page of (nearly) consecutive UIDs (FETCH 1:*) is one range read of the primary key, the
  // others name their UIDs; either way one row per message, in UID order.
  const first = uids[0]!;
  const last = uids[uids.length - 1]!;
  const range = last >= first && last - first < 2 * uids.length;
  // Only the columns the caller reads (ImapItemsWanted): each text column costs a string per
  // row, and the summary a parsed flag list and a Date. fetch_items is reached through the
  // message row's own text_id (schema.ts, version 22): a join through blobs (keyed by random
  // hashes, wide with structure and envelope) cost a random page read per message, ~6x the time
  // of the whole query at 10k messages.
  const summary = wanted?.summary ?? true;
  const envelope = wanted?.envelope ?? true;
  const ascii = wanted === undefined || wanted.bodyStructure === "ascii";
  const utf8 = wanted === undefined || wanted.bodyStructure === "utf8";
  const rows = ctx.sql.all<{ uid: number; blob_id: string | null; modseq?: number; flags?: string; internal_date?: number; size?: number; envelope?: string; bs?: string; bs_utf8?: string }>(
    `SELECT m.uid, CASE WHEN f.text_id IS NULL THEN m.blob_id END AS blob_id${summary ? ", m.modseq, m.flags, m.internal_date, m.size" : ""}${envelope ? ", f.envelope" : ""}
            ${ascii ? ", f.bodystructure AS bs" : ""}${utf8 ? ", coalesce(f.bodystructure_utf8, f.bodystructure) AS bs_utf8" : ""}
       FROM messages m LEFT JOIN fetch_items f ON f.text_id = m.text_id
      WHERE m.mailbox_id = ? AND ${range ? "m.uid BETWEEN ? AND ?" : "m.uid IN (SELECT value FROM json_each(?))"} ORDER BY m.uid`,
    mailboxId,
    ...(range ? [first, last] : [JSON.stringify(uids)]),
  );
  const named = range && last - first + 1 !== uids.length ? new Set<number>(uids) : null;
  const out: ImapItems[] = [];
  for (const row of rows) {
    if (named !== null && !named.has(row.uid)) continue;
    if (row.blob_id !== null) {
      // No fetch_items row (not expected after migration 12): rendered from the stored envelope and structure.
      const blob = ctx.sql.get<{ envelope: string; structure: string }>("SELECT envelope, structure FROM blobs WHERE id = ?", row.blob_id)!;
      const items = encodeImapItems(JSON.parse(blob.envelope) as Envelope, decodeStructure(blob.structure));
      if (envelope) row.envelope = items.envelope;
      if (ascii) row.bs = items.bodyStructure;
      if (utf8) row.bs_utf8 = items.bodyStructureUtf8 ?? items.bodyStructure;
    }
    out.push({
      uid: row.uid as Uid,
      modseq: (row.modseq ?? 0) as ModSeq,
      flags: row.flags === undefined ? (NO_FLAGS as Flag[]) : parseFlags(row.flags),
      internalDate: row.internal_date === undefined ? EPOCH : new Date(row.internal_date),
      size: row.size ?? 0,
      envelope: row.envelope ?? "",
      bodyStructure: row.bs ?? "",
      bodyStructureUtf8: row.bs_utf8 ?? "",
    });
  }
  return out;
}

/** The INTERNALDATE and flags of ImapItems whose summary was not wanted (never sent): shared, not one per row. */
const EPOCH = new Date(0);
const NO_FLAGS: readonly Flag[] = Object.freeze([]);

/**
 * MailStore.getSortFacts: the stored envelope per message and, when asked, the References value
 * from the header index's fields (schema.ts, version 12; folded, as SEARCH HEADER keeps it),
 * extracted inside SQLite so the fields JSON never reaches this process. Blobs indexed before
 * version 12 (fields NULL) have no References here: threading then uses In-Reply-To.
 */
export function getSortFacts(ctx: StoreContext, mailboxId: MailboxId, uids: readonly Uid[], withReferences: boolean): SortFacts[] {
  if (uids.length === 0) return [];
  const references = withReferences
    ? `(SELECT json_extract(f.value, '$[1]') FROM header_index h, json_each(h.fields) f
         WHERE h.text_id = b.text_id AND json_extract(f.value, '$[0]') = 'references' LIMIT 1)`
    : "NULL";
  const rows = ctx.sql.all<MessageRow & { envelope: string; refs: string | null }>(
    `SELECT m.uid, m.modseq, m.flags, m.internal_date, m.size, b.envelope, ${references} AS refs
       FROM messages m JOIN blobs b ON b.id = m.blob_id
      WHERE m.mailbox_id = ? AND m.uid IN (SELECT value FROM json_each(?)) ORDER BY m.uid`,
    mailboxId,
    JSON.stringify(uids),
  );
  return rows.map((row) => ({
    uid: row.uid as Uid,
    internalDate: new Date(row.internal_date),
    size: row.size,
    envelope: JSON.parse(row.envelope) as Envelope,
    references: typeof row.refs === "string" ? row.refs : null,
  }));
}

export function getSearchText(ctx: StoreContext, mailboxId: MailboxId, uid: Uid): string | null {
  const row = ctx.sql.get<{ search_text: string }>(
    `SELECT s.text AS search_text FROM messages m JOIN blobs b ON b.id = m.blob_id JOIN search_index s ON s.rowid = b.text_id
      WHERE m.mailbox_id = ? AND m.uid = ?`,
    mailboxId,
    uid,
  );
  return row ? row.search_text : null;
}

export function getSearchTexts(ctx: StoreContext, mailboxId: MailboxId, uids: readonly Uid[]): Map<Uid, string> {
  const texts = new Map<Uid, string>();
  if (uids.length === 0) return texts;
  const rows = ctx.sql.all<{ uid: number; search_text: string }>(
    `SELECT m.uid, s.text AS search_text FROM messages m JOIN blobs b ON b.id = m.blob_id JOIN search_index s ON s.rowid = b.text_id
      WHERE m.mailbox_id = ? AND m.uid IN (SELECT value FROM json_each(?))`,
    mailboxId,
    JSON.stringify(uids),
  );
  for (const row of rows) texts.set(row.uid as Uid, row.search_text);
  return texts;
}

/** Messages per page of the scan that answers search strings too short for the trigram index. */
export const TEXT_SCAN_PAGE = 500;

/** Which text a search string is looked for in: everything (TEXT) or what follows the top-level header (BODY). */
export type TextPart = "text" | "body";

export interface TextMatchRows {
  matches: Uid[];
  /** Text matches whose header/body split is unknown (blobs indexed by the migration): BODY only. */
  unverified: Uid[];
}

/** A folded search string's length in characters, which is what the trigram tokenizer counts. */
export function indexableNeedle(folded: string): boolean {
  // A NUL cannot be put in an FTS5 query string: such a string takes the verified scan.
  if (folded.includes("\0")) return false;
  let count = 0;
  for (const _ of folded) if (++count >= 3) return true;
  return false;
}

/**
 * Characters of a string asked of the index as one phrase at most. A phrase of n characters is
 * n - 2 trigram doclists merged by position; past this length a few more characters rarely cut
 * the answer, while each adds a doclist to read. A longer string's phrase is its first
 * MAX_PHRASE_CHARS characters, and the messages holding that are verified with instr().
 */
export const MAX_PHRASE_CHARS = 48;

/**
 * The FTS5 phrase query for a folded string of 3 or more characters (its first MAX_PHRASE_CHARS):
 * the trigram tokenizer turns the quoted string into its consecutive trigrams, and a phrase
 * matches them at consecutive positions, so a blob matches exactly when its folded text contains
 * the string (schema.ts, version 27). `exact` is false when the phrase was cut.
 */
export function phraseQuery(folded: string): { query: string; exact: boolean } {
  const chars = [...folded];
  const cut = chars.length > MAX_PHRASE_CHARS ? chars.slice(0, MAX_PHRASE_CHARS).join("") : folded;
  return { query: `"${cut.replace(/"/g, '""')}"`, exact: cut === folded };
}

/**
 * The messages whose folded text contains `folded` (3 or more characters, no NUL), from the
 * positional trigram index (schema.ts, version 27) of the blobs' folded text.
 *
 * Plan (docs/architecture.md, "SEARCH through the index"): the index's answer (the phrase of the
 * string's trigrams) is built once as an ephemeral b-tree, and the mailbox's (text_id, uid) pairs,
 * one range of messages_text (schema.ts, version 22), are probed against it: no lookup through
 * blobs and nothing of other mailboxes. TEXT reads no text at all (strings longer than
 * MAX_PHRASE_CHARS excepted: their phrase's matches are verified with instr()). BODY reads the
 * text of the TEXT matches only, to look for the string after the top-level header.
 */
export function indexedTextMatches(ctx: StoreContext, mailboxId: MailboxId, folded: string, part: TextPart): TextMatchRows {
  const { query, exact } = phraseQuery(folded);
  const candidates = "m.text_id IN (SELECT rowid FROM search_index WHERE search_index MATCH ?)";
  if (part === "text") {
    const uids = exact
      ? ctx.sql.column<number>(`SELECT m.uid FROM messages m WHERE m.mailbox_id = ? AND ${candidates}`, mailboxId, query)
      : ctx.sql.column<number>(
          `SELECT m.uid FROM messages m CROSS JOIN search_index s ON s.rowid = m.text_id
            WHERE m.mailbox_id = ? AND ${candidates} AND instr(s.text, ?) > 0`,
          mailboxId,
          query,
          folded,
        );
    return { matches: sortedUids(uids), unverified: [] };
  }
  const rows = ctx.sql.all<{ uid: number; head: number | null; body: number | null }>(
    `SELECT m.uid, b.text_head AS head,
            CASE WHEN b.text_head IS NOT NULL THEN instr(substr(s.text, b.text_head + 1), ?)
                 ELSE instr(s.text, ?) END AS body
       FROM messages m CROSS JOIN search_index s ON s.rowid = m.text_id CROSS JOIN blobs b ON b.text_id = m.text_id
      WHERE m.mailbox_id = ? AND ${candidates}
      ORDER BY m.uid`,
    folded,
    folded,
    mailboxId,
    query,
  );
  return splitRows(rows, part);
}

/**
 * UIDs ascending. The probe yields them in text_id order, which is delivery order and so nearly
 * UID order: the sort (a merge sort on runs) is close to one pass, cheaper than ORDER BY's b-tree.
 */
function sortedUids(uids: number[]): Uid[] {
  return uids.sort((a, b) => a - b) as Uid[];
}

/**
 * FUZZY TEXT/BODY (mail/fuzzy-match.ts) for a folded string of 3 or more characters: each
 * message's overlap, the number of the string's trigrams its text holds, for the messages of the
 * mailbox holding at least `minOverlap` of them. Candidates are the mailbox's messages holding any
 * of the trigrams (one FTS5 OR query, probed per mailbox as indexedTextMatches does); each
 * trigram's own answer is an ephemeral b-tree the candidate is looked up in, so no text is read
 * for TEXT. For BODY the overlap is then counted with instr() on the text after the top-level
 * header of the candidates that passed on the whole text (the body's overlap can only be lower).
 */
export function fuzzyTextOverlaps(ctx: StoreContext, mailboxId: MailboxId, grams: readonly string[], part: TextPart, minOverlap: number): { uid: Uid; overlap: number }[] {
  if (grams.length === 0) return [];
  const quoted = grams.map((g) => `"${g.replace(/"/g, '""')}"`);
  const present = quoted.map(() => "(m.text_id IN (SELECT rowid FROM search_index WHERE search_index MATCH ?))").join(" + ");
  const rows = ctx.sql.all<{ uid: number; overlap: number }>(
    `SELECT uid, overlap FROM (
       SELECT m.uid, ${present} AS overlap FROM messages m
        WHERE m.mailbox_id = ? AND m.text_id IN (SELECT rowid FROM search_index WHERE search_index MATCH ?))
      WHERE overlap >= ?`,
    ...quoted,
    mailboxId,
    quoted.join(" OR "),
    minOverlap,
  );
  if (part === "text" || rows.length === 0) return rows.map((r) => ({ uid: r.uid as Uid, overlap: r.overlap }));
  const inBody = grams.map(() => "(instr(t.body, ?) > 0)").join(" + ");
  const bodyRows = ctx.sql.all<{ uid: number; overlap: number }>(
    `SELECT uid, overlap FROM (
       SELECT t.uid, ${inBody} AS overlap FROM (
         SELECT m.uid, CASE WHEN b.text_head IS NULL THEN s.text ELSE substr(s.text, b.text_head + 1) END AS body
           FROM messages m CROSS JOIN search_index s ON s.rowid = m.text_id CROSS JOIN blobs b ON b.text_id = m.text_id
          WHERE m.mailbox_id = ? AND m.uid IN (SELECT value FROM json_each(?))) AS t)
      WHERE overlap >= ?`,
    ...grams,
    mailboxId,
    JSON.stringify(rows.map((r) => r.uid)),
    minOverlap,
  );
  return bodyRows.map((r) => ({ uid: r.uid as Uid, overlap: r.overlap }));
}

/**
 * One page of the scan for strings too short for the index: the messages with UID in
 * (afterUid, the page's last UID], at most TEXT_SCAN_PAGE of them, matched inside SQLite so no
 * text reaches JavaScript. Returns the page's last UID (null when the mailbox has no more).
 */
export function scannedTextMatches(ctx: StoreContext, mailboxId: MailboxId, folded: string, part: TextPart, afterUid: number): TextMatchRows & { lastUid: number | null } {
  const last = ctx.sql.get<{ uid: number | null }>(
    "SELECT max(uid) AS uid FROM (SELECT uid FROM messages WHERE mailbox_id = ? AND uid > ? ORDER BY uid LIMIT ?)",
    mailboxId,
    afterUid,
    TEXT_SCAN_PAGE,
  );
  const lastUid = last?.uid ?? null;
  if (lastUid === null) return { matches: [], unverified: [], lastUid };
  const rows = ctx.sql.all<{ uid: number; head: number | null; body: number | null }>(
    `SELECT m.uid, b.text_head AS head,
            CASE WHEN ? = 'body' AND b.text_head IS NOT NULL THEN instr(substr(s.text, b.text_head + 1), ?) ELSE 1 END AS body
       FROM messages m JOIN blobs b ON b.id = m.blob_id JOIN search_index s ON s.rowid = b.text_id
      WHERE m.mailbox_id = ? AND m.uid > ? AND m.uid <= ? AND (? = '' OR instr(s.text, ?) > 0)
      ORDER BY m.uid`,
    part,
    folded,
    mailboxId,
    afterUid,
    lastUid,
    folded,
    folded,
  );
  return { ...splitRows(rows, part), lastUid };
}

function splitRows(rows: { uid: number; head: number | null; body: number | null }[], part: TextPart): TextMatchRows {
  const matches: Uid[] = [];
  const unverified: Uid[] = [];
  for (const row of rows) {
    if (part === "body" && row.head === null) unverified.push(row.uid as Uid);
    else if (row.body !== null && row.body > 0) matches.push(row.uid as Uid);
  }
  return { matches, unverified };
}

/**
 * Octets each message has once every line end is CRLF: the prefix (already CRLF-terminated, so
 * the blob starts at a line start and the two counts add up) plus the blob's count from delivery.
 * Null for a blob stored before that count was kept.
 */
export function getCrlfSizes(ctx: StoreContext, mailboxId: MailboxId, uids: readonly Uid[]): Map<Uid, number | null> {
  const sizes = new Map<Uid, number | null>();
  if (uids.length === 0) return sizes;
  const rows = ctx.sql.all<{ uid: number; prefix: Buffer | null; crlf_size: number | null }>(
    `SELECT m.uid, m.prefix, b.crlf_size FROM messages m JOIN blobs b ON b.id = m.blob_id
      WHERE m.mailbox_id = ? AND m.uid IN (SELECT value FROM json_each(?))`,
    mailboxId,
    JSON.stringify(uids),
  );
  for (const row of rows) sizes.set(row.uid as Uid, row.crlf_size === null ? null : (row.prefix === null ? 0 : sentOctets(row.prefix)) + row.crlf_size);
  return sizes;
}

export interface SmallMessageRow {
  uid: Uid;
  size: number;
  blobId: BlobId;
  prefix: Buffer | null;
}

/** What readMessages needs of the batch's messages up to maxSize octets, ascending by UID. */
export function getSmallMessageRows(ctx: StoreContext, mailboxId: MailboxId, uids: readonly Uid[], maxSize: number): SmallMessageRow[] {
  if (uids.length === 0) return [];
  return ctx.sql
    .all<{ uid: number; size: number; blob_id: string; prefix: Buffer | null }>(
      `SELECT uid, size, blob_id, prefix FROM messages
        WHERE mailbox_id = ? AND uid IN (SELECT value FROM json_each(?)) AND size <= ? ORDER BY uid`,
      mailboxId,
      JSON.stringify(uids),
      maxSize,
    )
    .map((row) => ({ uid: row.uid as Uid, size: row.size, blobId: row.blob_id as BlobId, prefix: row.prefix }));
}

/** The stored trace prefix of a message, or null when the message no longer exists. */
export function getPrefix(ctx: StoreContext, mailboxId: MailboxId, uid: Uid): Buffer | null {
  const row = ctx.sql.get<{ prefix: Buffer | null }>("SELECT prefix FROM messages WHERE mailbox_id = ? AND uid = ?", mailboxId, uid);
  if (!row) return null;
  return row.prefix ?? Buffer.alloc(0);
}

/** Each existing message's blob and the blob's own size (without the prefix), ascending by UID. */
export function getBlobSizes(ctx: StoreContext, mailboxId: MailboxId, uids: readonly Uid[]): { uid: Uid; blobId: BlobId; blobSize: number }[] {
  if (uids.length === 0) return [];
  return ctx.sql
    .all<{ uid: number; blob_id: string; size: number }>(
      `SELECT m.uid, m.blob_id, b.size FROM messages m JOIN blobs b ON b.id = m.blob_id
        WHERE m.mailbox_id = ? AND m.uid IN (SELECT value FROM json_each(?)) ORDER BY m.uid`,
      mailboxId,
      JSON.stringify(uids),
    )
    .map((row) => ({ uid: row.uid as Uid, blobId: row.blob_id as BlobId, blobSize: row.size }));
}
