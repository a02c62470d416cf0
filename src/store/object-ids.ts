// Per-message facts kept at delivery for IMAP OBJECTID (RFC 8474), SAVEDATE (RFC 8514) and
// PREVIEW (RFC 8970), shared by every backend so both compute them alike:
//
// - EMAILID: a random id per stored message, carried by COPY and MOVE (RFC 8474 §5.1: "the
//   server SHOULD return the same EMAILID" for a copy, MUST for a move). Copies of one delivery
//   into several folders of an account with the same bytes share one.
// - THREADID: messages are linked by Message-ID, In-Reply-To and References as THREAD=REFERENCES
//   links them (RFC 5256 §2.2 steps 1-2), per account: each message-id a message names is recorded
//   with the thread it went into, and a new message joins the thread of the first of its ids
//   already recorded (a reply arriving before its parent records the parent's id, so the parent
//   joins later). A THREADID never changes once given (RFC 8474 §5.2), so two threads that a later
//   message would join stay apart, and subject-only grouping (RFC 5256 step 5) is not applied.
// - MAILBOXID: derived from the mailbox row's id and its UIDVALIDITY (unique, since UIDVALIDITY
//   values come from a counter that never goes back), so it survives RENAME (the row is kept)
//   and is never given to another mailbox (RFC 8474 §4).
// - preview: the first characters of the message's body text (RFC 8970 §3.1), from the decoded
//   text the MIME parser collects for SEARCH, whitespace collapsed.
import { randomBytes } from "node:crypto";
import type { Envelope } from "../mail/envelope.js";
import type { HeaderField } from "../mail/header-fields.js";
import type { ParsedMessage } from "../mail/mime-tree.js";
import type { Mailbox } from "./types.js";

/** RFC 8474 §7: objectid = 1*255(ALPHA / DIGIT / "_" / "-"). */
export const OBJECT_ID = /^[A-Za-z0-9_-]{1,255}$/;

/** A new EMAILID: "E" and 96 random bits (base64url, whose alphabet is the objectid one). */
export function newEmailId(): string {
  return `E${randomBytes(12).toString("base64url")}`;
}

/** A new THREADID, as newEmailId. */
export function newThreadId(): string {
  return `T${randomBytes(12).toString("base64url")}`;
}

/** RFC 8474 §4 MAILBOXID of a mailbox. */
export function mailboxObjectId(mailbox: Pick<Mailbox, "id" | "uidValidity">): string {
  return `F${mailbox.uidValidity.toString(36)}-${mailbox.id.toString(36)}`;
}

/** Message-ids a message names, at most this many (a References field can be long). */
export const MAX_THREAD_KEYS = 100;

/** `<a@b>` tokens of a field value, lower-cased (message-ids compare case-insensitively in practice, as RFC 5256 threading does here). */
function messageIds(value: string | null | undefined): string[] {
  if (value === null || value === undefined) return [];
  const out: string[] = [];
  for (const match of value.matchAll(/<([^<>\s]{1,500})>/g)) out.push(match[1]!.toLowerCase());
  return out;
}

/**
 * The message-ids that tie a message to its thread: its own Message-ID first, then what
 * References names (newest last, as written), then In-Reply-To; distinct, at most MAX_THREAD_KEYS.
 */
export function threadKeys(envelope: Pick<Envelope, "messageId" | "inReplyTo">, headerFields: readonly HeaderField[] = []): string[] {
  const references = headerFields.filter((f) => f.name.toLowerCase() === "references").map((f) => f.value).join(" ");
  const keys = new Set<string>([...messageIds(envelope.messageId).slice(0, 1), ...messageIds(references).reverse(), ...messageIds(envelope.inReplyTo)]);
  return [...keys].slice(0, MAX_THREAD_KEYS);
}

/** RFC 8970 §3.1: a preview "MUST NOT exceed 256 characters"; 200 as Dovecot and Cyrus use. */
export const PREVIEW_CHARACTERS = 200;

/**
 * The preview text of a parsed message: its body text (the search text after the top-level
 * header's values), control characters removed and whitespace runs collapsed to one space, cut
 * to PREVIEW_CHARACTERS characters (code points). Empty when the message has no text part.
 */
export function previewOf(parsed: Pick<ParsedMessage, "searchText" | "searchTextHeadLength">): string {
  const head = Math.min(parsed.searchTextHeadLength ?? parsed.searchText.length, parsed.searchText.length);
  // Only the start is needed: a bounded slice, so a megabyte of text is not regex-scanned.
  const body = parsed.searchText.slice(head, head + PREVIEW_CHARACTERS * 8);
  return previewFromText(body);
}

export function previewFromText(text: string): string {
  const collapsed = text
    .replace(/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b\ufeff\ufffd]/g, "")
    .replace(/[\s\u00a0]+/g, " ")
    .trim();
  const chars = Array.from(collapsed);
  return chars.length <= PREVIEW_CHARACTERS ? collapsed : chars.slice(0, PREVIEW_CHARACTERS).join("").trimEnd();
}
