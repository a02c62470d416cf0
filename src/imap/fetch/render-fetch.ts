// One message's FETCH data (RFC 9051 §7.5.2 msg-att): the requested items as flattened
// name/value pairs, ready for `* n FETCH (...)`. Everything but the body sections comes from the
// stored metadata; body sections are literals streamed from the store when the encoder writes them.

import type { Flag, MessageAttributes, MessageSummary, StoredMessage } from "../../store/index.js";
import { MimeTreeBuilder } from "../../mail/mime-tree.js";
import { previewOf } from "../../store/index.js";
import { formatPartialOrigin, formatSection, type FetchItem, type Section } from "../protocol/fetch-item.js";
import { atom, list, NIL, num, str, type ImapValue } from "../protocol/response-value.js";
import { renderBody, renderBodyStructure } from "../protocol/body-structure.js";
import { renderEnvelope } from "../protocol/envelope.js";
import { binarySize, binaryValue, locateSection, sectionValue, type OpenRange } from "./section.js";

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const pad = (n: number): string => String(n).padStart(2, "0");

/**
 * RFC 9051 §9 date-time: DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE,
 * e.g. " 4-Mar-2025 10:00:00 +0000". The store keeps an instant; it is written in UTC.
 */
export function formatInternalDate(date: Date): string {
  const day = String(date.getUTCDate()).padStart(2, " ");
  const month = MONTHS[date.getUTCMonth()] ?? "Jan";
  const time = `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}`;
  return `${day}-${month}-${date.getUTCFullYear()} ${time} +0000`;
}

/** The message as the renderer needs it: metadata, current flags and a reader of its bytes. */
export interface FetchSubject {
  message: StoredMessage;
  /** The flags to report (they may have just changed by an implicit \Seen). */
  flags: readonly Flag[];
  /** Streams a byte range of the logical message. */
  open: OpenRange;
  /** The whole logical message when it was read ahead (small messages); sections are sliced from it. */
  whole?: Buffer | null;
  /** The client enabled UTF8=ACCEPT or IMAP4rev2: BODYSTRUCTURE parameters may be UTF-8 strings. */
  utf8: boolean;
  /** EMAILID, THREADID, SAVEDATE and PREVIEW (MailStore.getMessageAttributes), when one is asked for. */
  attributes?: MessageAttributes;
}

/** Items answered from MailStore.getMessageAttributes (RFC 8474, 8514, 8970). */
export const ATTRIBUTE_KINDS: ReadonlySet<FetchItem["kind"]> = new Set(["emailid", "threadid", "savedate", "preview"]);

/**
 * RFC 8970 §3.1 for a message stored before previews were kept: parsed from its bytes as at
 * delivery (the MIME parser's decoded text), so it is the preview delivery would have stored.
 */
async function previewFromBytes(subject: FetchSubject): Promise<string> {
  const builder = new MimeTreeBuilder();
  // The first text part is what the preview shows, and it comes early: only the first
  // PREVIEW_SCAN_OCTETS are parsed (a part cut there gives its first characters), so FETCH 1:*
  // (PREVIEW) of old large messages reads a bounded amount of each.
  const end = Math.min(subject.message.size, PREVIEW_SCAN_OCTETS);
  if (subject.whole !== undefined && subject.whole !== null) builder.push(subject.whole.subarray(0, end));
  else for await (const chunk of subject.open({ start: 0, end })) builder.push(chunk as Buffer);
  return previewOf(builder.finish());
}

/** Octets of a message parsed for a preview that was not stored at delivery. */
export const PREVIEW_SCAN_OCTETS = 256 * 1024;

const HEADER: Section = { part: [], text: { kind: "header" } };
const TEXT: Section = { part: [], text: { kind: "text" } };
const WHOLE: Section = { part: [], text: { kind: "all" } };

/** Items answered from the light index (MessageSummary) alone: no structure, envelope or bytes. */
export type SummaryItem = Extract<FetchItem, { kind: "uid" | "flags" | "modseq" | "internaldate" | "rfc822.size" }>;

const SUMMARY_KINDS: ReadonlySet<FetchItem["kind"]> = new Set(["uid", "flags", "modseq", "internaldate", "rfc822.size"]);

export function isSummaryItem(item: FetchItem): item is SummaryItem {
  return SUMMARY_KINDS.has(item.kind);
}

/** Name and value of an item the summary answers; synchronous, since FETCH 1:* of a big mailbox is all these. */
export function renderSummaryItem(item: SummaryItem, message: MessageSummary, flags: readonly Flag[]): [ImapValue, ImapValue] {
  switch (item.kind) {
    case "flags":
      return [atom("FLAGS"), list(flags.map((flag) => atom(flag)))];
    case "uid":
      return [atom("UID"), num(message.uid)];
    case "internaldate":
      return [atom("INTERNALDATE"), str(formatInternalDate(message.internalDate))];
    case "rfc822.size":
      return [atom("RFC822.SIZE"), num(message.size)];
    case "modseq":
      // RFC 7162 §3.1.4.1: MODSEQ (<mod-sequence-value>).
      return [atom("MODSEQ"), list([num(message.modseq)])];
  }
}

/** Name and value of one item. Throws UnknownCteError for BINARY of an unknown encoding. */
async function renderItem(item: FetchItem, subject: FetchSubject): Promise<[ImapValue, ImapValue]> {
  const { message, open } = subject;
  const whole = subject.whole ?? null;
  const section = (s: Section) => sectionValue(locateSection(message.structure, message.size, s), null, open, whole);
  if (isSummaryItem(item)) return renderSummaryItem(item, message, subject.flags);
  switch (item.kind) {
    case "envelope":
      return [atom("ENVELOPE"), renderEnvelope(message.envelope)];
    case "body":
      return [atom("BODY"), renderBody(message.structure, { utf8: subject.utf8 })];
    case "bodystructure":
      return [atom("BODYSTRUCTURE"), renderBodyStructure(message.structure, { utf8: subject.utf8 })];
    case "body-section": {
      const name = `BODY[${formatSection(item.section)}]${formatPartialOrigin(item.partial)}`;
      const source = locateSection(message.structure, message.size, item.section);
      return [atom(name), await sectionValue(source, item.partial, open, whole)];
    }
    case "binary": {
      const name = `BINARY[${item.part.join(".")}]${formatPartialOrigin(item.partial)}`;
      return [atom(name), await binaryValue(message.structure, message.size, item.part, item.partial, open, whole)];
    }
    case "binary.size":
      return [atom(`BINARY.SIZE[${item.part.join(".")}]`), num(await binarySize(message.structure, message.size, item.part, open))];
    // RFC 3501 §6.4.5: the RFC822 forms are BODY[], BODY.PEEK[HEADER] and BODY[TEXT] under other names.
    case "rfc822":
      return [atom("RFC822"), await section(WHOLE)];
    case "rfc822.header":
      return [atom("RFC822.HEADER"), await section(HEADER)];
    case "rfc822.text":
      return [atom("RFC822.TEXT"), await section(TEXT)];
    // RFC 8474 §5: EMAILID (id), THREADID (id) or NIL.
    case "emailid":
      return [atom("EMAILID"), subject.attributes === undefined ? NIL : list([atom(subject.attributes.emailId)])];
    case "threadid":
      return [atom("THREADID"), subject.attributes?.threadId == null ? NIL : list([atom(subject.attributes.threadId)])];
    // RFC 8514 §3: SAVEDATE date-time, NIL when the mailbox keeps none.
    case "savedate":
      return [atom("SAVEDATE"), subject.attributes === undefined ? NIL : str(formatInternalDate(subject.attributes.saveDate))];
    // RFC 8970 §3: PREVIEW nstring; with LAZY, NIL for a preview that was never stored (§3.2).
    case "preview": {
      const stored = subject.attributes?.preview ?? null;
      if (stored !== null) return [atom("PREVIEW"), str(stored)];
      return [atom("PREVIEW"), item.lazy ? NIL : str(await previewFromBytes(subject))];
    }
  }
}

/** All items of one message, flattened: [name, value, name, value, ...]. */
export async function renderFetchItems(items: readonly FetchItem[], subject: FetchSubject): Promise<ImapValue[]> {
  const out: ImapValue[] = [];
  for (const item of items) out.push(...(await renderItem(item, subject)));
  return out;
}

/** Whether an item sets \Seen when the mailbox is read-write (RFC 9051 §6.4.5). */
export function setsSeen(item: FetchItem): boolean {
  switch (item.kind) {
    case "body-section":
    case "binary":
      return !item.peek;
    case "rfc822":
    case "rfc822.text":
      return true;
    default:
      return false;
  }
}

