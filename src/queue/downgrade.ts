// 8BITMIME downgrade (RFC 6152 §3: a server that does not offer 8BITMIME must be sent 7-bit data).
// The message is walked as a MIME tree (mail/mime-tree) and every leaf whose body is not 7-bit is
// re-encoded, which is lossless (RFC 2045 §6): text/* to quoted-printable (RFC 2045 §6.7), anything
// else to base64 (§6.8), with its Content-Transfer-Encoding field replaced. Multiparts and
// message/rfc822 parts whose children changed are relabelled 7bit (RFC 2045 §6.4, RFC 2046
// §5.2.1: composite types only carry 7bit, 8bit or binary). 8-bit octets in a header cannot be
// encoded this way (that is SMTPUTF8's business), so such a message is refused, not mangled.
import { MimeTreeBuilder, type MimePart } from "../mail/mime-tree.js";

export type DowngradeResult = { kind: "downgraded"; bytes: Buffer; parts: number } | { kind: "refused"; reason: string };

interface Edit {
  start: number;
  end: number;
  replacement: Buffer;
}

/**
 * Parts the downgrade reads (Dovecot's parser limit). Past the part limit the builder keeps the
 * rest of the message as one leaf, delimiters and all; re-encoding that leaf would bury the parts
 * after it, so a message that reaches the limit is refused instead.
 */
const DOWNGRADE_MAX_PARTS = 10_000;

export function downgradeTo7bit(message: Buffer): DowngradeResult {
  const builder = new MimeTreeBuilder({ maxParts: DOWNGRADE_MAX_PARTS });
  builder.push(message);
  const { root } = builder.finish();
  if (countParts(root) >= DOWNGRADE_MAX_PARTS) return { kind: "refused", reason: `more than ${DOWNGRADE_MAX_PARTS} MIME parts` };
  const edits: Edit[] = [];
  const refusal = walk(message, root, edits, true);
  if (refusal !== null) return { kind: "refused", reason: refusal };
  edits.sort((a, b) => a.start - b.start);
  const pieces: Buffer[] = [];
  let at = 0;
  for (const edit of edits) {
    pieces.push(message.subarray(at, edit.start), edit.replacement);
    at = edit.end;
  }
  pieces.push(message.subarray(at));
  const bytes = Buffer.concat(pieces);
  return { kind: "downgraded", bytes, parts: edits.filter((e) => e.replacement.length > 0 && e.end > e.start).length };
}

/** Adds the edits for `part`; returns a refusal reason, or null. `changed` reports back via edits. */
function walk(message: Buffer, part: MimePart, edits: Edit[], isRoot: boolean): string | null {
  const header = message.subarray(part.headerStart, part.headerEnd);
  // The root header's 8-bit octets are the SMTPUTF8 check's concern; a part header's are ours.
  if (!isRoot && hasHighOctet(header)) return `8-bit octets in the header of MIME part ${part.partNumber}`;
  const composite = part.children.length > 0 || part.encapsulated !== null;
  if (composite) {
    const before = edits.length;
    const inner = part.encapsulated ? [part.encapsulated.root] : part.children;
    for (const child of inner) {
      const refusal = walk(message, child, edits, false);
      if (refusal !== null) return refusal;
    }
    const childrenChanged = edits.length > before;
    if (childrenChanged && part.contentTransferEncoding !== "7bit") {
      edits.push({ start: part.headerStart, end: part.headerEnd, replacement: withEncoding(header, "7bit", isRoot) });
    }
    // Octets outside every child (preamble, epilogue) that are 8-bit cannot be relabelled.
    if (!childrenChanged && hasHighOctet(message.subarray(part.bodyStart, part.bodyEnd))) return `8-bit octets outside the parts of multipart ${part.partNumber || "message"}`;
    return null;
  }
  const body = message.subarray(part.bodyStart, part.bodyEnd);
  const encoding = part.contentTransferEncoding;
  if (encoding === "quoted-printable" || encoding === "base64") {
    return hasHighOctet(body) ? `8-bit octets in a ${encoding} part ${part.partNumber || "(the body)"}` : null;
  }
  const binary = encoding === "binary";
  if (!binary && !hasHighOctet(body)) return null;
  const target = part.contentType.type === "text" && !binary ? "quoted-printable" : "base64";
  const encoded = target === "quoted-printable" ? encodeQuotedPrintable(body) : encodeBase64Lines(body);
  edits.push({ start: part.headerStart, end: part.bodyEnd, replacement: Buffer.concat([withEncoding(header, target, isRoot), encoded]) });
  return null;
}

function countParts(part: MimePart): number {
  let count = 1;
  for (const child of part.children) count += countParts(child);
  if (part.encapsulated !== null) count += countParts(part.encapsulated.root);
  return count;
}

function hasHighOctet(bytes: Buffer): boolean {
  for (const byte of bytes) if (byte >= 0x80) return true;
  return false;
}

/**
 * The header with its Content-Transfer-Encoding field (folded lines included) replaced, or one
 * added before the empty line; the root also gets MIME-Version when it has none (RFC 2045 §4).
 */
export function withEncoding(header: Buffer, encoding: string, isRoot: boolean): Buffer {
  const text = header.toString("latin1");
  const end = text.endsWith("\r\n\r\n") ? text.length - 2 : text.endsWith("\n\n") ? text.length - 1 : text.length;
  const lines = text.slice(0, end).split(/(?<=\n)/);
  const out: string[] = [];
  let skipping = false;
  for (const line of lines) {
    if (skipping && /^[ \t]/.test(line)) continue;
    skipping = /^content-transfer-encoding[ \t]*:/i.test(line);
    if (!skipping) out.push(line);
  }
  if (out.length > 0 && !out[out.length - 1]!.endsWith("\n")) out[out.length - 1] += "\r\n";
  if (isRoot && !out.some((line) => /^mime-version[ \t]*:/i.test(line))) out.push("MIME-Version: 1.0\r\n");
  out.push(`Content-Transfer-Encoding: ${encoding}\r\n`);
  return Buffer.from(out.join("") + text.slice(end), "latin1");
}

const HEX = "0123456789ABCDEF";

/**
 * RFC 2045 §6.7: CRLF line breaks stay line breaks; "=", controls and octets over 126 become =XX,
 * as do a space or tab ending a line; soft breaks ("=" CRLF) keep encoded lines within 76 characters.
 */
export function encodeQuotedPrintable(body: Buffer): Buffer {
  const out: string[] = [];
  let start = 0;
  while (start <= body.length) {
    let lineEnd = body.indexOf("\r\n", start);
    const hasBreak = lineEnd >= 0;
    if (!hasBreak) lineEnd = body.length;
    if (!hasBreak && start === body.length) break;
    out.push(encodeQpLine(body.subarray(start, lineEnd)));
    if (hasBreak) out.push("\r\n");
    start = lineEnd + 2;
  }
  return Buffer.from(out.join(""), "latin1");
}

function encodeQpLine(line: Buffer): string {
  let out = "";
  let width = 0;
  for (let i = 0; i < line.length; i++) {
    const byte = line[i]!;
    const last = i === line.length - 1;
    const literal = (byte >= 33 && byte <= 126 && byte !== 61) || ((byte === 32 || byte === 9) && !last);
    const token = literal ? String.fromCharCode(byte) : `=${HEX[byte >> 4]}${HEX[byte & 15]}`;
    // A soft break leaves room for the "=" itself: at most 76 characters per encoded line.
    if (width + token.length > (last ? 76 : 75)) {
      out += "=\r\n";
      width = 0;
    }
    out += token;
    width += token.length;
  }
  return out;
}

/** RFC 2045 §6.8: lines of 76 characters, each ended by CRLF. */
export function encodeBase64Lines(body: Buffer): Buffer {
  const text = body.toString("base64");
  const lines: string[] = [];
  for (let at = 0; at < text.length; at += 76) lines.push(text.slice(at, at + 76));
  return Buffer.from(lines.map((line) => `${line}\r\n`).join(""), "latin1");
}
