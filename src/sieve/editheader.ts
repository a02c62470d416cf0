// RFC 5293 editheader: the message header as an editable list of fields. addheader inserts a field
// (encoded and folded here, §4), deleteheader removes fields (§5); later tests see the edited list
// and each action that files or sends the message captures the header as it is at that moment
// (interpreter.ts). Only the header changes: an edited message is the new header bytes followed by
// the original bytes from the end of the old header on, so delivery can stream a large body
// unchanged (src/delivery/sieve-filter.ts). Pure: no I/O.
import { isUtf8 } from "node:buffer";
import { decodeHeaderBytes, unfoldHeaderValue } from "../mail/header-fields.js";

/** One line group of the header: a field, or a line that is no field (kept, invisible to tests). */
export interface HeaderEntry {
  /** Field name as written; null for a line that parseHeaderBlock skips (no colon, bad name). */
  readonly name: string | null;
  /** The value as tests see it before RFC 2047 decoding: unfolded and trimmed (parseHeaderBlock's rule). */
  readonly value: string;
  /** The text as written (name, colon, value with its folding), without the final line break. */
  readonly raw: string;
}

export interface EditableHeader {
  readonly entries: readonly HeaderEntry[];
  /** The line break the message uses; added fields use the same. */
  readonly eol: "\r\n" | "\n";
  /** The header text was valid UTF-8 (else read as Latin-1): written back the same way, byte for byte. */
  readonly utf8: boolean;
}

/**
 * The header as delivered after edits: `header` replaces the original's first `resumeAt` octets
 * (its header block, up to the blank line); the rest of the original follows unchanged.
 */
export interface EditedHeader {
  readonly header: Buffer;
  readonly resumeAt: number;
}

/** RFC 5322 §3.6.8 field-name: printable US-ASCII except colon. */
export function isFieldName(name: string): boolean {
  return /^[!-9;-~]+$/.test(name);
}

/**
 * RFC 5293 §6: "implementations MUST NOT permit attempts to delete 'Received' header fields and
 * MUST permit both addition and deletion of the 'Subject' header field ... If a script tries to
 * make a change that isn't permitted, the attempt MUST be silently ignored." Like Dovecot
 * Pigeonhole, Received and Auto-Submitted (RFC 3834 loop protection) can never be deleted; the
 * redirect loop mark (X-Mailroom-Sieve-Redirected, Pigeonhole's X-Sieve-Redirected-From) can be
 * neither added nor deleted, so a script cannot forge or hide it.
 */
export const REDIRECT_MARK_FIELD = "X-Mailroom-Sieve-Redirected";
const NEVER_DELETED = new Set(["received", "auto-submitted", REDIRECT_MARK_FIELD.toLowerCase()]);
const NEVER_ADDED = new Set([REDIRECT_MARK_FIELD.toLowerCase()]);

export function mayDelete(name: string): boolean {
  return !NEVER_DELETED.has(name.toLowerCase());
}

export function mayAdd(name: string): boolean {
  return !NEVER_ADDED.has(name.toLowerCase());
}

/** Splits a header block into entries exactly as parseHeaderBlock splits it into fields, keeping the raw text. */
export function editableHeader(block: Buffer): EditableHeader {
  const text = decodeHeaderBytes(block);
  const utf8 = isUtf8(block);
  const firstBreak = text.indexOf("\n");
  const eol = firstBreak > 0 && text[firstBreak - 1] === "\r" ? "\r\n" : firstBreak < 0 ? "\r\n" : "\n";
  const entries: HeaderEntry[] = [];
  let name: string | null = null;
  let rawValue = "";
  let lines: string[] = [];
  const flush = (): void => {
    if (lines.length > 0) entries.push({ name, value: name === null ? "" : unfoldHeaderValue(rawValue).trim(), raw: lines.join(eol) });
    name = null;
    rawValue = "";
    lines = [];
  };
  for (const line of text.split("\n")) {
    const content = line.endsWith("\r") ? line.slice(0, -1) : line;
    if (content === "") break;
    if (content.startsWith(" ") || content.startsWith("\t")) {
      // A continuation before any field belongs to no field: kept with the lines that are no field.
      if (name !== null) rawValue += "\n" + content;
      lines.push(content);
      continue;
    }
    flush();
    const colon = content.indexOf(":");
    const candidate = colon > 0 ? content.slice(0, colon).trim() : "";
    lines.push(content);
    if (colon <= 0 || !isFieldName(candidate)) continue;
    name = candidate;
    rawValue = content.slice(colon + 1);
  }
  flush();
  return { entries, eol, utf8 };
}

/** The header text of the entries, each line ended with the message's line break. */
export function serializeHeader(header: EditableHeader): Buffer {
  const text = header.entries.map((e) => e.raw + header.eol).join("");
  return Buffer.from(text, header.utf8 ? "utf8" : "latin1");
}

/**
 * Why a value cannot be added as it is, or null. RFC 5293 §4: the value must be "unstructured"
 * (RFC 5322 §3.2.5) or be encoded; a line break is allowed only as folding (followed by
 * whitespace), a NUL never (Pigeonhole refuses both the same way).
 */
export function invalidFieldValue(value: string): string | null {
  if (value.includes("\u0000")) return "a header value may not contain NUL";
  if (/\r(?!\n)|\r?\n(?![ \t])/.test(value)) return "a line break in a header value must be followed by whitespace (folding)";
  return null;
}

const NEEDS_ENCODING = /[^\x20-\x7e\t]/;
const LINE = 78;
/** RFC 5322 §2.1.1: no line longer than 998 characters; a plain word longer than this is encoded (encoded-words split anywhere). */
const LONG_WORD = 900;

/**
 * The raw text of a new field `name: value` (RFC 5293 §4): words holding non-ASCII or control
 * characters become RFC 2047 Q encoded-words (UTF-8, at most 75 characters each, never splitting a
 * character), and the field is folded at whitespace so lines stay within 78 characters where the
 * words allow. Unfolding and decoding the result gives the value back.
 */
export function formatField(name: string, value: string, eol: "\r\n" | "\n"): string {
  const unfolded = value.replace(/\r?\n(?=[ \t])/g, "");
  // Words and the whitespace before each, so plain text keeps its spacing exactly.
  const tokens: { space: string; word: string }[] = [];
  for (const m of unfolded.matchAll(/([ \t]*)([^ \t]+|$)/g)) {
    if (m[1] === "" && m[2] === "") continue;
    tokens.push({ space: m[1]!, word: m[2]! });
  }
  const needs = tokens.map((t) => NEEDS_ENCODING.test(t.word) || t.word.length > LONG_WORD);
  const first = needs.indexOf(true);
  const pieces: { space: string; word: string }[] = [];
  if (first < 0) pieces.push(...tokens);
  else {
    const last = needs.lastIndexOf(true);
    pieces.push(...tokens.slice(0, first));
    // RFC 2047 §6.2: whitespace between adjacent encoded-words is dropped when decoding, so the
    // whole run from the first to the last word that needs encoding is encoded, spaces included.
    const span = tokens.slice(first, last + 1).map((t, i) => (i === 0 ? t.word : t.space + t.word)).join("");
    // The first word shares its line with the field name when nothing comes before it.
    encodeWords(span, first === 0 ? LINE - name.length - 2 : 75).forEach((w, i) => pieces.push({ space: i === 0 ? tokens[first]!.space || " " : " ", word: w }));
    pieces.push(...tokens.slice(last + 1));
  }
  const lines: string[] = [];
  let line = `${name}:`;
  for (const [i, piece] of pieces.entries()) {
    const space = i === 0 ? piece.space || " " : piece.space || "";
    if (line.length + space.length + piece.word.length > LINE && line.trim() !== `${name}:` && space !== "") {
      lines.push(line);
      line = space + piece.word;
    } else line += space + piece.word;
  }
  lines.push(line);
  return lines.join(eol);
}

/** RFC 2047 §4.2 Q encoding of UTF-8 text, as encoded-words of at most 75 characters. */
function encodeWords(text: string, firstLength: number): string[] {
  const prefix = "=?utf-8?q?";
  const words: string[] = [];
  let current = "";
  for (const ch of text) {
    const room = Math.max(12, Math.min(75, words.length === 0 ? firstLength : 75)) - prefix.length - 2;
    let encoded = "";
    if (ch === " ") encoded = "_";
    else if (/^[A-Za-z0-9!*+\-/]$/.test(ch)) encoded = ch;
    else for (const byte of Buffer.from(ch, "utf8")) encoded += `=${byte.toString(16).toUpperCase().padStart(2, "0")}`;
    if (current.length + encoded.length > room) {
      words.push(`${prefix}${current}?=`);
      current = "";
    }
    current += encoded;
  }
  if (current !== "" || words.length === 0) words.push(`${prefix}${current}?=`);
  return words;
}

/** The entry of a formatted field, with the value tests see (parseHeaderBlock's rule applied to the raw text). */
export function fieldEntry(name: string, raw: string): HeaderEntry {
  const colon = raw.indexOf(":");
  return { name, value: unfoldHeaderValue(raw.slice(colon + 1)).trim(), raw };
}
