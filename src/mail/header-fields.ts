// Header fields of one header block (RFC 5322 §2.2): split into fields, unfold, decode the bytes
// and the RFC 2047 encoded-words. Pure: no I/O, no clock. Every function is linear in its input
// and the caller bounds the input (the MIME tree builder caps each header block).

import { isUtf8 } from "node:buffer";
import iconv from "iconv-lite";

export interface HeaderField {
  /** Field name as written (compare case-insensitively). */
  name: string;
  /** Unfolded value, leading and trailing whitespace removed; encoded-words left as they are. */
  value: string;
}

/**
 * Header bytes as a string. RFC 6532 allows UTF-8 in header fields, so valid UTF-8 is decoded as
 * such; anything else (stray 8-bit bytes from legacy software) is read as Latin-1 so that no byte is
 * replaced or lost.
 */
export function decodeHeaderBytes(bytes: Buffer): string {
  return isUtf8(bytes) ? bytes.toString("utf8") : bytes.toString("latin1");
}

/** RFC 5322 §2.2.3: unfolding removes every CRLF (or bare LF) that is followed by whitespace. */
export function unfoldHeaderValue(value: string): string {
  return value.replace(/\r?\n(?=[ \t])/g, "").replace(/[\r\n]+/g, " ");
}

/**
 * Splits a header block into fields. Tolerant by design: a line without a colon that is not a
 * continuation is skipped (broken or mbox "From " lines), and a continuation before any field is
 * dropped. The blank line that ends the block, and anything after it, is ignored.
 */
export function parseHeaderBlock(block: Buffer | string): HeaderField[] {
  const text = typeof block === "string" ? block : decodeHeaderBytes(block);
  const fields: HeaderField[] = [];
  let name: string | null = null;
  let raw = "";
  const flush = (): void => {
    if (name !== null) fields.push({ name, value: unfoldHeaderValue(raw).trim() });
    name = null;
    raw = "";
  };
  for (const line of text.split("\n")) {
    const content = line.endsWith("\r") ? line.slice(0, -1) : line;
    if (content === "") {
      // RFC 5322 §2.1: the first empty line ends the header section.
      break;
    }
    if (content.startsWith(" ") || content.startsWith("\t")) {
      if (name !== null) raw += "\n" + content;
      continue;
    }
    flush();
    const colon = content.indexOf(":");
    if (colon <= 0) continue;
    const candidate = content.slice(0, colon).trim();
    // RFC 5322 §3.6.8: field names are printable ASCII without spaces; anything else is not a field.
    if (!/^[!-9;-~]+$/.test(candidate)) continue;
    name = candidate;
    raw = content.slice(colon + 1);
  }
  flush();
  return fields;
}

/** The value of the first field with this name (case-insensitive), or null. */
export function firstHeaderValue(fields: readonly HeaderField[], name: string): string | null {
  const wanted = name.toLowerCase();
  for (const field of fields) if (field.name.toLowerCase() === wanted) return field.value;
  return null;
}

/** Decodes bytes in a MIME charset to a string; an unknown charset falls back to UTF-8. */
export function decodeCharset(bytes: Buffer, charset: string): string {
  const name = charset.trim().toLowerCase();
  if (name === "" || name === "us-ascii" || name === "utf-8" || name === "utf8" || !iconv.encodingExists(name)) {
    return bytes.toString("utf8");
  }
  return iconv.decode(bytes, name);
}

// RFC 2047 §2: encoded-word = "=?" charset "?" encoding "?" encoded-text "?=", where charset may carry
// an RFC 2231 §5 language suffix ("utf-8*en").
const ENCODED_WORD = /=\?([^?\s*]+)(?:\*[^?\s]*)?\?([bBqQ])\?([^?\s]*)\?=/g;

function encodedWordBytes(encoding: string, text: string): Buffer {
  if (encoding === "b" || encoding === "B") return Buffer.from(text, "base64");
  // RFC 2047 §4.2: "_" is a space, "=XX" a hex octet.
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 0x5f) bytes.push(0x20);
    else if (ch === 0x3d && /^[0-9a-fA-F]{2}$/.test(text.slice(i + 1, i + 3))) {
      bytes.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(ch & 0xff);
  }
  return Buffer.from(bytes);
}

/**
 * Decodes RFC 2047 encoded-words in an unstructured value. Whitespace between two adjacent
 * encoded-words is dropped (RFC 2047 §6.2), and adjacent words in the same charset are decoded
 * together so a multi-byte character split across two words (a common encoder habit) survives.
 */
export function decodeEncodedWords(value: string): string {
  let out = "";
  let last = 0;
  let pendingCharset: string | null = null;
  let pendingBytes: Buffer[] = [];
  const flushPending = (): void => {
    if (pendingCharset !== null) out += decodeCharset(Buffer.concat(pendingBytes), pendingCharset);
    pendingCharset = null;
    pendingBytes = [];
  };
  for (const match of value.matchAll(ENCODED_WORD)) {
    const start = match.index;
    const between = value.slice(last, start);
    const charset = (match[1] ?? "").toLowerCase();
    const adjacent = pendingCharset !== null && /^[ \t\r\n]*$/.test(between);
    if (!adjacent || pendingCharset !== charset) {
      flushPending();
      if (!adjacent) out += between;
    }
    pendingCharset = charset;
    pendingBytes.push(encodedWordBytes(match[2] ?? "b", match[3] ?? ""));
    last = start + match[0].length;
  }
  flushPending();
  return out + value.slice(last);
}
