// The MIME content fields of one part (RFC 2045 §5-§8, RFC 2183, RFC 2231): Content-Type,
// Content-Disposition and their parameters, read from an already split header block. Pure and
// tolerant: a broken field yields the RFC default, never an exception.

import type { ContentDisposition, ContentType } from "./mime-tree.js";
import { decodeCharset, firstHeaderValue, type HeaderField } from "./header-fields.js";

/** The content fields a BODYSTRUCTURE needs, as stored in a MimePart. */
export interface ContentFields {
  contentType: ContentType;
  disposition: ContentDisposition | null;
  /** Raw (unfolded) header values, or null when absent. */
  contentId: string | null;
  contentDescription: string | null;
  /** Lower-cased; "7bit" when absent. */
  contentTransferEncoding: string;
  contentLanguage: string[] | null;
  contentLocation: string | null;
  contentMd5: string | null;
}

// RFC 2045 §5.1: token := 1*<any (US-ASCII) CHAR except SPACE, CTLs, or tspecials>.
const TOKEN = /^[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]+$/;

/** Splits "value; a=1; b=\"x;y\"" at the semicolons that are outside quoted strings. */
function splitOutsideQuotes(value: string): string[] {
  const pieces: string[] = [];
  let current = "";
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const ch = value[i] ?? "";
    if (quoted && ch === "\\" && i + 1 < value.length) {
      current += ch + (value[i + 1] ?? "");
      i++;
      continue;
    }
    if (ch === '"') quoted = !quoted;
    if (ch === ";" && !quoted) {
      pieces.push(current);
      current = "";
    } else current += ch;
  }
  pieces.push(current);
  return pieces;
}

/** RFC 5322 §3.2.4: the content of a quoted-string, with quoted-pairs resolved. */
function unquote(value: string): string {
  const end = value.lastIndexOf('"');
  const inner = end > 0 ? value.slice(1, end) : value.slice(1);
  return inner.replace(/\\([\s\S])/g, "$1");
}

/** Removes RFC 5322 comments "( ... )", nesting included, outside quoted strings. */
export function stripComments(value: string): string {
  let out = "";
  let depth = 0;
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const ch = value[i] ?? "";
    if (ch === "\\" && (quoted || depth > 0)) {
      if (depth === 0) out += ch + (value[i + 1] ?? "");
      i++;
    } else if (depth === 0 && ch === '"') {
      quoted = !quoted;
      out += ch;
    } else if (!quoted && ch === "(") depth++;
    else if (!quoted && ch === ")" && depth > 0) depth--;
    else if (depth === 0) out += ch;
  }
  return out;
}

interface Rfc2231Segment {
  index: number;
  extended: boolean;
  value: string;
}

function percentDecode(value: string): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const hex = value.slice(i + 1, i + 3);
    if (value[i] === "%" && /^[0-9a-fA-F]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else bytes.push(...Buffer.from(value[i] ?? "", "utf8"));
  }
  return Buffer.from(bytes);
}

/** RFC 2231 §3-§4: joins name*0, name*1*, ... and decodes charset'language'percent-octets. */
function joinRfc2231(segments: Rfc2231Segment[]): string {
  segments.sort((a, b) => a.index - b.index);
  let charset = "utf-8";
  const bytes: Buffer[] = [];
  segments.forEach((segment, position) => {
    let value = segment.value;
    if (segment.extended && position === 0) {
      const parts = /^([^']*)'[^']*'([\s\S]*)$/.exec(value);
      if (parts) {
        charset = parts[1] || "utf-8";
        value = parts[2] ?? "";
      }
    }
    bytes.push(segment.extended ? percentDecode(value) : Buffer.from(value, "utf8"));
  });
  return decodeCharset(Buffer.concat(bytes), charset);
}

/**
 * Parameters after the first ";" of a Content-Type or Content-Disposition value: names lower-cased,
 * quoted strings unquoted, RFC 2231 continuations joined. When both "name" and "name*" forms are
 * present the RFC 2231 form wins, as it carries the charset. Encoded-words are left as they are.
 */
export function parseParameters(pieces: readonly string[]): Record<string, string> {
  const plain = new Map<string, string>();
  const extended = new Map<string, Rfc2231Segment[]>();
  for (const piece of pieces) {
    const eq = piece.indexOf("=");
    if (eq <= 0) continue;
    const rawName = stripComments(piece.slice(0, eq)).trim().toLowerCase();
    let rawValue = piece.slice(eq + 1).trim();
    if (rawValue.startsWith('"')) rawValue = unquote(rawValue);
    // An unquoted value ends where a comment starts: `charset=us-ascii (Plain text)` (RFC 2045 §5.1).
    else {
      const comment = /\s\(/.exec(rawValue);
      if (comment) rawValue = rawValue.slice(0, comment.index).trim();
    }
    const continuation = /^([^*]+)\*(?:(\d{1,3})(\*)?|)$/.exec(rawName);
    if (continuation && continuation[1] !== undefined) {
      const segments = extended.get(continuation[1]) ?? [];
      const index = continuation[2] === undefined ? 0 : Number(continuation[2]);
      const isExtended = continuation[2] === undefined || continuation[3] === "*";
      if (!segments.some((s) => s.index === index)) segments.push({ index, extended: isExtended, value: rawValue });
      extended.set(continuation[1], segments);
    } else if (rawName !== "" && !plain.has(rawName)) {
      plain.set(rawName, rawValue);
    }
  }
  const params: Record<string, string> = {};
  for (const [name, value] of plain) params[name] = value;
  for (const [name, segments] of extended) params[name] = joinRfc2231(segments);
  return params;
}

/**
 * Content-Type (RFC 2045 §5). Absent or unparsable: text/plain; charset=us-ascii (RFC 2045 §5.2),
 * or message/rfc822 inside multipart/digest (RFC 2046 §5.1.5).
 */
export function parseContentType(value: string | null, inDigest: boolean): ContentType {
  const fallback: ContentType = inDigest
    ? { type: "message", subtype: "rfc822", params: {} }
    : { type: "text", subtype: "plain", params: { charset: "us-ascii" } };
  if (value === null) return fallback;
  const [head = "", ...rest] = splitOutsideQuotes(value);
  const match = /^\s*([^/\s]+)\s*\/\s*([^\s]+)\s*$/.exec(stripComments(head));
  if (!match || !TOKEN.test(match[1] ?? "") || !TOKEN.test(match[2] ?? "")) return fallback;
  const params = parseParameters(rest);
  const type = (match[1] ?? "").toLowerCase();
  if (type === "text" && (params.charset === undefined || params.charset === "")) params.charset = "us-ascii";
  return { type, subtype: (match[2] ?? "").toLowerCase(), params };
}

/** Content-Disposition (RFC 2183 §2); null when absent or without a disposition type. */
export function parseContentDisposition(value: string | null): ContentDisposition | null {
  if (value === null) return null;
  const [head = "", ...rest] = splitOutsideQuotes(value);
  const type = stripComments(head).trim().toLowerCase();
  if (!TOKEN.test(type)) return null;
  return { type, params: parseParameters(rest) };
}

/** All content fields of a part from its header fields. */
export function readContentFields(fields: readonly HeaderField[], inDigest: boolean): ContentFields {
  const cte = firstHeaderValue(fields, "content-transfer-encoding");
  const language = firstHeaderValue(fields, "content-language");
  const languages = language === null ? [] : stripComments(language).split(",").map((l) => l.trim()).filter((l) => l !== "");
  return {
    contentType: parseContentType(firstHeaderValue(fields, "content-type"), inDigest),
    disposition: parseContentDisposition(firstHeaderValue(fields, "content-disposition")),
    contentId: firstHeaderValue(fields, "content-id"),
    contentDescription: firstHeaderValue(fields, "content-description"),
    // RFC 2045 §6.1: "Content-Transfer-Encoding: 7BIT" is assumed when the field is absent.
    contentTransferEncoding: cte === null || stripComments(cte).trim() === "" ? "7bit" : stripComments(cte).trim().toLowerCase(),
    contentLanguage: languages.length === 0 ? null : languages,
    contentLocation: firstHeaderValue(fields, "content-location"),
    contentMd5: firstHeaderValue(fields, "content-md5"),
  };
}
