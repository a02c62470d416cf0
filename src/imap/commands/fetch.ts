// FETCH and UID FETCH (RFC 9051 §6.4.5, §6.4.9; RFC 3516 BINARY; RFC 7162 CONDSTORE/QRESYNC).
//
//   a5 UID FETCH 42 (UID FLAGS ENVELOPE BODY.PEEK[])
//   * 7 FETCH (UID 42 FLAGS (\Seen) ENVELOPE (...) BODY[] {1234}
//   ...the message, streamed from the store...)
//   a5 OK UID FETCH completed
//
// Run: the set is resolved through the session's sequence map (a UID set naming messages that
// do not exist is not an error, §6.4.9), metadata is loaded in batches, \Seen is set for the
// batch in one store call when a non-PEEK body item asks for it, and the batch's responses are
// written together. Small messages are read whole in one store call per batch and their literals
// go out with the batch's text; larger ones are streamed with back-pressure by the encoder. Items the light index
// answers (UID, FLAGS, MODSEQ, INTERNALDATE, RFC822.SIZE) skip the full metadata: UID/FLAGS/MODSEQ
// come from the session itself when it is current with the store, the rest from getSummaries().
// The command holds expunges (RFC 9051 §7.4.1): a message removed meanwhile is skipped.

import { Readable } from "node:stream";
import { isStoreError, type FlagUpdateResult, type Flag, type ImapItems, type ImapItemsWanted, type MessageAttributes, type MessageSummary, type ModSeq, type StoredMessage, type Uid } from "../../store/index.js";
import { ATTRIBUTE_KINDS, formatInternalDate, isSummaryItem, renderFetchItems, setsSeen, UnknownCteError, type SummaryItem } from "../fetch/index.js";
import type { ResolvedList, ResolvedMessage, SelectedMailbox, SeqNum } from "../session/selected-mailbox.js";
import type { FetchItem, FetchRequest } from "../protocol/fetch-item.js";
import { readFetchRequest } from "../protocol/fetch-item.js";
import { partialBounds } from "../protocol/search-key.js";
import { atom, list, type ImapValue } from "../protocol/response-value.js";
import { encodeNumbers, resolveRanges, type SequenceSet } from "../protocol/sequence-set.js";
import { ImapError, type CommandContext, type ImapCommand, type ParseContext } from "./command.js";
import type { ArgumentReader } from "../protocol/arguments.js";
import { fetchLead } from "./uid-only.js";
import { refuseOverLimit } from "./message-limit.js";

export interface FetchArgs {
  set: SequenceSet;
  request: FetchRequest;
}

/**
 * Page sizes of a FETCH: how many messages' metadata (stored) or light index (summary) one store
 * call reads and one write answers. Fixed in production; tests set small values to put page
 * boundaries where they want them (docs/architecture.md, "A FETCH of a big mailbox").
 */
export const fetchPageSizes = { stored: 200, summary: 1000 };
/**
 * Messages up to this size are read whole in one store call per batch (MailStore.readMessages),
 * at most READ_AHEAD_OCTETS of them per batch, and their sections written with the batch's
 * responses; larger ones stream with back-pressure as before.
 */
const SMALL_MESSAGE = 64 * 1024;
const READ_AHEAD_OCTETS = 2 * 1024 * 1024;
/** Items that read message bytes (everything else comes from the stored metadata). */
const BYTE_ITEMS: ReadonlySet<FetchItem["kind"]> = new Set(["body-section", "binary", "binary.size", "rfc822", "rfc822.header", "rfc822.text"]);
const SEEN = "\\Seen";
/** The tagged OK of a FETCH that left out messages expunged meanwhile (RFC 5530 §3). */
const EXPUNGE_ISSUED = { code: "EXPUNGEISSUED", text: "some messages were already expunged" } as const;

const hasItem = (items: readonly FetchItem[], kind: FetchItem["kind"]): boolean => items.some((item) => item.kind === kind);
const hasFlag = (flags: readonly Flag[], flag: string): boolean => flags.some((f) => f.toLowerCase() === flag.toLowerCase());

function parseFetch(args: ArgumentReader, ctx: ParseContext): FetchArgs {
  const set = args.sequenceSet();
  args.space();
  const request = readFetchRequest(args, ctx.byUid);
  if (request.modifiers.vanished) {
    // RFC 7162 §3.2.6: VANISHED is for UID FETCH, once QRESYNC is enabled.
    if (!ctx.byUid) throw ImapError.bad(null, "VANISHED is only allowed in UID FETCH");
    if (!ctx.enabled.has("QRESYNC")) throw ImapError.bad(null, "VANISHED requires ENABLE QRESYNC");
  }
  return { set, request };
}

/** RFC 7162 §3.2.6: `* VANISHED (EARLIER) uids` for the set's UIDs expunged after the modseq. */
async function reportVanished(ctx: CommandContext, set: SequenceSet, since: bigint): Promise<void> {
  const selected = ctx.requireSelected();
  const changes = await ctx.store.changesSince(selected.mailboxId, Number(since) as ModSeq);
  if (changes.expunged.length === 0 || set.kind === "saved") return;
  // "*" is the largest UID in use; an expunged UID above it is still one the client may know.
  const largest = changes.expunged.reduce((max, uid) => Math.max(max, uid), selected.lastUid);
  const ranges = resolveRanges(set, largest);
  const inSet = (uid: number): boolean => ranges.some((range) => uid >= range.start && uid <= range.end);
  const vanished = changes.expunged.filter(inSet);
  if (vanished.length > 0) await ctx.untagged(atom("VANISHED"), list([atom("EARLIER")]), atom(encodeNumbers(vanished)));
}

/** Sets \Seen on the batch's unseen messages (one store call); returns the new flags per UID. */
async function markSeen(ctx: CommandContext, messages: readonly StoredMessage[]): Promise<Map<Uid, FlagUpdateResult["updated"][number]>> {
  const selected = ctx.requireSelected();
  const unseen = messages.filter((m) => !hasFlag(m.flags, SEEN)).map((m) => m.uid);
  const changed = new Map<Uid, FlagUpdateResult["updated"][number]>();
  if (unseen.length === 0) return changed;
  const result = await ctx.store.updateFlags(selected.mailboxId, unseen, { mode: "add", flags: [SEEN] });
  for (const update of result.updated) changed.set(update.uid, update);
  return changed;
}

/** What every message of one FETCH is answered with, settled before the first is rendered. */
interface FetchPlan {
  items: readonly FetchItem[];
  changedSince: bigint | null;
  condstore: boolean;
  marksSeen: boolean;
  /** Some item reads message bytes, so small messages are read ahead per batch. */
  readsBytes: boolean;
  /** EMAILID/THREADID/SAVEDATE/PREVIEW asked for: MailStore.getMessageAttributes per batch. */
  attributes: boolean;
}

async function runFetch(ctx: CommandContext, { set, request }: FetchArgs): Promise<void> {
  const selected = ctx.requireSelected();
  const { changedSince, vanished } = request.modifiers;
  let items = request.items;
  // RFC 7162 §3.1: MODSEQ or CHANGEDSINCE is a CONDSTORE-enabling command.
  const wantsModSeq = hasItem(items, "modseq") || changedSince !== null;
  if (wantsModSeq && !ctx.enabled.has("CONDSTORE") && !ctx.enabled.has("QRESYNC")) {
    ctx.session.enable("CONDSTORE");
    // RFC 7162 §3.1: enabled by a command in the selected state, the server sends HIGHESTMODSEQ.
    await ctx.untaggedStatus("OK", `HIGHESTMODSEQ ${selected.highestModSeq}`, "Highest");
  }
  const condstore = wantsModSeq || ctx.enabled.has("CONDSTORE") || ctx.enabled.has("QRESYNC");
  // RFC 7162 §3.1.4.1: CHANGEDSINCE implies the MODSEQ item.
  if (changedSince !== null && !hasItem(items, "modseq")) items = [...items, { kind: "modseq" }];
  // RFC 9051 §6.4.5: \Seen is set only in a mailbox opened read-write.
  const marksSeen = !selected.readOnly && items.some(setsSeen);

  const listed = selected.resolveList(set, ctx.byUid);
  const partial = request.modifiers.partial;
  // RFC 9738: a PARTIAL page longer than MESSAGELIMIT is refused (message-limit.ts).
  if (partial !== null) refuseOverLimit(ctx, partial.last - partial.first + 1, "the PARTIAL range");
  // RFC 9394 §3.3: PARTIAL pages through the messages the set names, in UID order.
  let resolved = partial === null ? listed : listed.window(...partialBounds(listed.length, partial));
  // RFC 9738: past MESSAGELIMIT only the messages with the highest UIDs are fetched.
  const limit = ctx.messageLimit ?? null;
  if (limit !== null && resolved.length > limit) {
    resolved = resolved.window(resolved.length - limit, resolved.length);
    ctx.messageLimitReached(resolved.uidAt(0));
  }
  if (vanished && changedSince !== null) await reportVanished(ctx, set, changedSince);
  const plan: FetchPlan = { items, changedSince, condstore, marksSeen, readsBytes: items.some((item) => BYTE_ITEMS.has(item.kind)), attributes: items.some((item) => ATTRIBUTE_KINDS.has(item.kind)) };
  if (items.every(isIndexItem)) await fetchSummaries(ctx, resolved, plan, items);
  else await fetchStored(ctx, resolved, plan);
}

/**
 * Whether the session's view of flags is the store's: every mutation of a mailbox takes a new
 * modseq, so when the mailbox's highest modseq is the one the session synced to, nothing changed
 * and nothing was expunged that the session does not know of, and UID/FLAGS of messages without
 * keywords can be answered from the session's flag bits (SelectedMailbox.sessionFlags).
 */
async function sessionIsCurrent(ctx: CommandContext, items: readonly SummaryItem[]): Promise<boolean> {
  if (!items.every((item) => item.kind === "uid" || item.kind === "flags")) return false;
  const selected = ctx.requireSelected();
  const mailbox = await ctx.store.getMailboxById(selected.mailboxId);
  return mailbox !== null && mailbox.highestModSeq === selected.highestModSeq;
}

/** ENVELOPE and BODYSTRUCTURE: encoded at delivery, read with the light index (MailStore.getImapItems). */
type EncodedItem = Extract<FetchItem, { kind: "envelope" | "bodystructure" }>;
type IndexItem = SummaryItem | EncodedItem;

const isIndexItem = (item: FetchItem): item is IndexItem => isSummaryItem(item) || item.kind === "envelope" || item.kind === "bodystructure";

const NOT_LOADED = new Date(0);

/** The session's summary of each message of a page, or null when one needs the store (keywords). */
function sessionPage(selected: SelectedMailbox, batch: readonly ResolvedMessage[]): MessageSummary[] | null {
  const out: MessageSummary[] = [];
  for (const { uid } of batch) {
    if (selected.isExpunged(uid)) continue;
    const flags = selected.sessionFlags(uid);
    if (flags === null) return null;
    // INTERNALDATE, size and modseq are never read: sessionIsCurrent allows UID and FLAGS only.
    out.push({ uid, flags: flags as Flag[], modseq: 0 as ModSeq, internalDate: NOT_LOADED, size: 0 });
  }
  return out;
}

/**
 * FETCH (UID FLAGS) of one page from the session's flag bytes alone (the session is current, see
 * sessionIsCurrent): a tight loop writing the response lines as text, with no summary object or
 * response tree per message. Null when a message of the page has keywords (the session keeps
 * only a has-keywords bit), so the page is read from the store instead.
 */
function sessionText(
  selected: SelectedMailbox,
  resolved: ResolvedList,
  start: number,
  end: number,
  items: readonly SummaryItem[],
  withRecent: boolean,
  uidOnly: boolean,
): { text: string; skipped: boolean } | null {
  let text = "";
  let skipped = false;
  for (let i = start; i < end; i++) {
    const uid = resolved.uidAt(i);
    const seq = resolved.seqAt(i);
    if (selected.isExpunged(uid)) {
      skipped = true;
      continue;
    }
    const flags = selected.sessionFlags(uid);
    if (flags === null) return null;
    text += fetchLead(uidOnly, seq, uid);
    for (let k = 0; k < items.length; k++) {
      if (k > 0) text += " ";
      // sessionIsCurrent allows UID and FLAGS only; system flags and \Recent are atoms.
      text += items[k]!.kind === "uid" ? `UID ${uid}` : `FLAGS (${selected.reportedFlags(uid, flags, withRecent).join(" ")})`;
    }
    text += ")\r\n";
  }
  return { text, skipped };
}

/**
 * FETCH of items the light index answers (FETCH 1:* (UID FLAGS) of a big mailbox): from the
 * session when it is current, else one getSummaries() per batch; responses rendered without a
 * promise per message and written a batch at a time. With ENVELOPE or BODYSTRUCTURE the batch is
 * one getImapItems() instead, whose bytes were encoded at delivery and are written as they are:
 * no structure is decoded and no message file opened (docs/architecture.md).
 */
async function fetchSummaries(ctx: CommandContext, resolved: ResolvedList, plan: FetchPlan, items: readonly IndexItem[]): Promise<void> {
  const selected = ctx.requireSelected();
  const encodedItems = items.some((item) => !isSummaryItem(item));
  const fromSession = !encodedItems && (await sessionIsCurrent(ctx, items as readonly SummaryItem[]));
  // Only what the responses show is read: `FETCH 1:* (ENVELOPE)` needs no flags, dates or sizes.
  const wanted: ImapItemsWanted = {
    summary: plan.changedSince !== null || items.some((item) => isSummaryItem(item) && item.kind !== "uid"),
    envelope: hasItem(items, "envelope"),
    bodyStructure: !hasItem(items, "bodystructure") ? false : ctx.utf8 ? "utf8" : "ascii",
  };
  let skippedExpunged = false;
  for (let start = 0; start < resolved.length; start += fetchPageSizes.summary) {
    const end = Math.min(start + fetchPageSizes.summary, resolved.length);
    if (fromSession && plan.changedSince === null) {
      const page = sessionText(selected, resolved, start, end, items as readonly SummaryItem[], !ctx.rev2, ctx.uidOnly);
      if (page !== null) {
        if (page.text.length > 0) await ctx.fetchText(page.text);
        if (page.skipped) skippedExpunged = true;
        continue;
      }
    }
    const batch = resolved.slice(start, end);
    // One page of the light index per batch: the session keeps no flags (selected-mailbox.ts).
    // A page of (nearly) consecutive UIDs is one range read; a sparse one names its UIDs.
    const first = batch[0]!.uid;
    const last = batch[batch.length - 1]!.uid;
    const local = fromSession ? sessionPage(selected, batch) : null;
    const summaries: (MessageSummary | ImapItems)[] = encodedItems
      ? await ctx.store.getImapItems(selected.mailboxId, batch.map((m) => m.uid), wanted)
      : (local ??
        (last >= first && last - first < 2 * batch.length
          ? await ctx.store.getSummaryRange(selected.mailboxId, first, last)
          : await ctx.store.getSummaries(selected.mailboxId, batch.map((m) => m.uid))));
    const page = renderIndexPage(ctx, batch, summaries, items, plan, local === null);
    // As in fetchStored: a message expunged meanwhile is left out.
    if (page.missing) skippedExpunged = true;
    if (page.bytes.length > 0) await ctx.fetchText(page.bytes);
  }
  if (skippedExpunged) ctx.complete(EXPUNGE_ISSUED);
}

/**
 * One page of index-item responses as bytes: `* seq FETCH (...)` per message, written the way the
 * response encoder would write the same values (atoms, numbers, a quoted INTERNALDATE, ENVELOPE
 * and BODYSTRUCTURE as encoded at delivery), with no response tree or per-message promise.
 * `batch` and `summaries` are both ascending by UID, so they are walked together; a message of
 * the batch the store no longer has is skipped and reported as `missing`.
 */
function renderIndexPage(
  ctx: CommandContext,
  batch: readonly ResolvedMessage[],
  summaries: readonly (MessageSummary | ImapItems)[],
  items: readonly IndexItem[],
  plan: FetchPlan,
  fromStore: boolean,
): { bytes: Buffer; missing: boolean } {
  const selected = ctx.requireSelected();
  const notesFlags = fromStore && hasItem(items, "flags");
  const withRecent = !ctx.rev2;
  // Sized for the page up front (ENVELOPE and BODYSTRUCTURE run to a few hundred octets each),
  // so the buffer rarely grows and is copied.
  const perMessage = 48 + (hasItem(items, "envelope") ? 512 : 0) + (hasItem(items, "bodystructure") ? 384 : 0) + (hasItem(items, "flags") ? 64 : 0);
  const out = new ResponseBytes(summaries.length * perMessage);
  let found = 0;
  let j = 0;
  for (const summary of summaries) {
    while (j < batch.length && batch[j]!.uid < summary.uid) j++;
    // getSummaryRange may return UIDs between the batch's that the batch does not name.
    if (j === batch.length || batch[j]!.uid !== summary.uid) continue;
    const seq = batch[j++]!.seq;
    found++;
    if (plan.changedSince !== null && BigInt(summary.modseq) <= plan.changedSince) continue;
    if (notesFlags) selected.noteFlags(summary.uid, summary.flags, summary.modseq);
    out.ascii(fetchLead(ctx.uidOnly, seq, summary.uid));
    for (let k = 0; k < items.length; k++) {
      if (k > 0) out.ascii(" ");
      const item = items[k]!;
      switch (item.kind) {
        case "uid":
          out.ascii(`UID ${summary.uid}`);
          break;
        case "flags":
          // RFC 3501 §2.3.2: \Recent is session state, shown to rev1 clients only.
          out.utf8(`FLAGS (${selected.reportedFlags(summary.uid, summary.flags, withRecent).join(" ")})`);
          break;
        case "modseq":
          // RFC 7162 §3.1.4.1: MODSEQ (<mod-sequence-value>).
          out.ascii(`MODSEQ (${summary.modseq})`);
          break;
        case "internaldate":
          out.ascii(`INTERNALDATE "${formatInternalDate(summary.internalDate)}"`);
          break;
        case "rfc822.size":
          out.ascii(`RFC822.SIZE ${summary.size}`);
          break;
        case "envelope":
          out.ascii("ENVELOPE ");
          out.utf8((summary as ImapItems).envelope);
          break;
        case "bodystructure":
          out.ascii("BODYSTRUCTURE ");
          out.utf8(ctx.utf8 ? (summary as ImapItems).bodyStructureUtf8 : (summary as ImapItems).bodyStructure);
          break;
      }
    }
    out.ascii(")\r\n");
  }
  return { bytes: out.bytes(), missing: found < batch.length };
}

/**
 * A page of responses built in one buffer: ASCII pieces copied as Latin-1 (the same bytes), the
 * encoded ENVELOPE/BODYSTRUCTURE as UTF-8. Joining a page's strings first and encoding the result
 * cost twice as much (V8 flattens the joined rope, then scans it again for UTF-8).
 */
class ResponseBytes {
  private buffer: Buffer;
  private length = 0;

  constructor(capacity: number) {
    this.buffer = Buffer.allocUnsafe(Math.max(1024, capacity));
  }

  /** Text of code points below 0x80 only (numbers, atoms, punctuation). */
  ascii(text: string): void {
    this.reserve(text.length);
    this.length += this.buffer.write(text, this.length, "latin1");
  }

  utf8(text: string): void {
    this.reserve(text.length * 3);
    this.length += this.buffer.write(text, this.length, "utf8");
  }

  bytes(): Buffer {
    return this.buffer.subarray(0, this.length);
  }

  private reserve(octets: number): void {
    if (this.length + octets <= this.buffer.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + octets));
    this.buffer.copy(bigger, 0, 0, this.length);
    this.buffer = bigger;
  }
}

/**
 * FETCH of anything needing the stored metadata or bytes: getMessages() per batch, one write per
 * batch. A message another session expunges while this runs (the session still numbers it, its
 * EXPUNGE being held back, RFC 9051 §7.4.1) is left out, and the tagged OK says so with
 * EXPUNGEISSUED (RFC 5530 §3; RFC 2180 §4.1.2 allows the server to omit its data), as Dovecot does.
 */
async function fetchStored(ctx: CommandContext, resolved: ResolvedList, plan: FetchPlan): Promise<void> {
  const selected = ctx.requireSelected();
  let skippedExpunged = false;
  const damaged: SeqNum[] = [];
  for (let start = 0; start < resolved.length; start += fetchPageSizes.stored) {
    const batch = resolved.slice(start, start + fetchPageSizes.stored);
    const seqOf = new Map(batch.map((m) => [m.uid, m.seq]));
    let messages = await ctx.store.getMessages(selected.mailboxId, batch.map((m) => m.uid));
    // Still numbered in the session but no longer in the store: expunged meanwhile.
    if (messages.length < batch.length) skippedExpunged = true;
    if (plan.changedSince !== null) messages = messages.filter((m) => BigInt(m.modseq) > plan.changedSince!);
    const seenNow = plan.marksSeen ? await markSeen(ctx, messages) : new Map<Uid, FlagUpdateResult["updated"][number]>();
    const { read: wholes, gone } = plan.readsBytes ? await readSmall(ctx, messages) : { read: new Map<Uid, Buffer>(), gone: new Set<Uid>() };
    if (gone.size > 0) skippedExpunged = true;
    // A message whose stored bytes are lost gets no response rather than a literal we could not
    // fill (which would end the connection); the others are answered, the command fails below.
    const unread = plan.readsBytes ? messages.filter((m) => !wholes.has(m.uid) && !gone.has(m.uid)).map((m) => m.uid) : [];
    const batchDamaged = new Set(unread.length > 0 ? await ctx.store.findDamaged(selected.mailboxId, unread) : []);
    const attributes = plan.attributes ? new Map((await ctx.store.getMessageAttributes(selected.mailboxId, messages.map((m) => m.uid))).map((a) => [a.uid, a])) : null;
    const responses: [SeqNum, ImapValue[]][] = [];
    for (const message of messages) {
      const seq = seqOf.get(message.uid);
      if (seq === undefined || gone.has(message.uid)) continue;
      if (batchDamaged.has(message.uid)) {
        damaged.push(seq);
        continue;
      }
      const items = await renderStored(ctx, message, seq, plan, seenNow.get(message.uid), wholes.get(message.uid) ?? null, attributes?.get(message.uid));
      if (items === null) skippedExpunged = true;
      else responses.push([seq, items]);
    }
    if (responses.length > 0) await ctx.fetchResponses(responses);
  }
  // RFC 5530 SERVERBUG: the store lost these messages' bytes (logged by the store as store.blob_damaged).
  if (damaged.length > 0) throw ImapError.no("SERVERBUG", `message ${encodeNumbers(damaged)} cannot be read: its data is missing on the server`);
  if (skippedExpunged) ctx.complete(EXPUNGE_ISSUED);
}

/**
 * The batch's small messages read whole with one store call, instead of a prefix query and a
 * stream each. A message missing from the answer is either gone (expunged since getMessages:
 * `gone`, to be left out) or still listed, whose bytes could not be read: that one streams, and
 * the stream reports the failure.
 */
async function readSmall(ctx: CommandContext, messages: readonly StoredMessage[]): Promise<{ read: Map<Uid, Buffer>; gone: Set<Uid> }> {
  const uids: Uid[] = [];
  let octets = 0;
  for (const message of messages) {
    if (message.size > SMALL_MESSAGE) continue;
    if (octets + message.size > READ_AHEAD_OCTETS) break;
    uids.push(message.uid);
    octets += message.size;
  }
  const gone = new Set<Uid>();
  if (uids.length === 0) return { read: new Map(), gone };
  const mailboxId = ctx.requireSelected().mailboxId;
  const read = await ctx.store.readMessages(mailboxId, uids, { maxSize: SMALL_MESSAGE });
  const missing = uids.filter((uid) => !read.has(uid));
  if (missing.length > 0) {
    const listed = new Set((await ctx.store.getSummaries(mailboxId, missing)).map((m) => m.uid));
    for (const uid of missing) if (!listed.has(uid)) gone.add(uid);
  }
  return { read, gone };
}

async function renderStored(
  ctx: CommandContext,
  message: StoredMessage,
  seq: SeqNum,
  plan: FetchPlan,
  update: FlagUpdateResult["updated"][number] | undefined,
  whole: Buffer | null,
  attributes?: MessageAttributes,
): Promise<ImapValue[] | null> {
  const selected = ctx.requireSelected();
  const flags = update?.flags ?? message.flags;
  const modseq = update?.modseq ?? message.modseq;
  let messageItems = plan.items;
  if (update !== undefined) {
    // RFC 9051 §6.4.5: flags changed by \Seen are included in the response; with CONDSTORE
    // their new modseq too (RFC 7162 §3.2).
    if (!hasItem(messageItems, "flags")) messageItems = [...messageItems, { kind: "flags" }];
    if (plan.condstore && !hasItem(messageItems, "modseq")) messageItems = [...messageItems, { kind: "modseq" }];
  }
  if (update !== undefined || hasItem(messageItems, "flags")) selected.noteFlags(message.uid, flags, modseq);
  try {
    return await renderFetchItems(messageItems, {
      message: { ...message, flags: [...flags], modseq },
      // RFC 3501 §2.3.2: \Recent is session state, shown to rev1 clients only.
      flags: selected.reportedFlags(message.uid, flags, !ctx.rev2),
      open: (range) => (whole === null ? ctx.store.openMessage(message, range) : Readable.from([whole.subarray(range.start, range.end)], { objectMode: false })),
      whole,
      utf8: ctx.utf8,
      ...(attributes === undefined ? {} : { attributes }),
    });
  } catch (error) {
    // RFC 3516 §4.3.
    if (error instanceof UnknownCteError) throw ImapError.no("UNKNOWN-CTE", `cannot decode ${error.encoding} of message ${seq}`);
    // Its bytes were read while rendering (a header filter, a decoder) and it is gone.
    if (isStoreError(error, "NONEXISTENT")) return null;
    throw error;
  }
}

export const fetchCommand: ImapCommand<FetchArgs> = {
  names: ["FETCH"],
  uid: true,
  states: ["selected"],
  sequenceUse: "uses",
  holdsExpunges: true,
  capabilities: ["BINARY", "CONDSTORE", "QRESYNC", "OBJECTID", "SAVEDATE", "PREVIEW", "PARTIAL"],
  parse: parseFetch,
  run: runFetch,
};
