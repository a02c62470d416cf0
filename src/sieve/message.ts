// The message as Sieve sees it (RFC 5228 §2.4.2.2 headers with RFC 2047 decoded, §5.7 size,
// RFC 5173 body parts), built from the message bytes. Pure: the caller reads the bytes (bounded
// by sieve.max_body_bytes for the body test) and passes them in.
import { decodeCharset, decodeEncodedWords, parseHeaderBlock, type HeaderField } from "../mail/header-fields.js";

export interface SieveEnvelope {
  /** Reverse-path without brackets; "" for the null sender. */
  readonly from: string;
  /** The envelope recipient this run is for. */
  readonly to: string;
}

export interface BodyPart {
  readonly contentType: string;
  /** Decoded text (transfer encoding and charset) for text parts; raw for others. */
  readonly text: string;
}

export interface SieveMessage {
  readonly size: number;
  readonly fields: readonly HeaderField[];
  /** The undecoded body, after the header block (for body :raw). */
  readonly rawBody: string;
  readonly parts: readonly BodyPart[];
  /**
   * The header block as read (up to the blank line) for editheader (RFC 5293, editheader.ts);
   * `complete` is false when the bytes given ended inside the header (a header larger than
   * sieve.max_message_bytes), which makes an edit a run-time error.
   */
  readonly header?: { readonly bytes: Buffer; readonly complete: boolean };
}

function splitHeader(bytes: Buffer): { header: Buffer; body: Buffer; ended: boolean } {
  const crlf = bytes.indexOf("\r\n\r\n");
  const lf = bytes.indexOf("\n\n");
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return { header: bytes.subarray(0, crlf + 2), body: bytes.subarray(crlf + 4), ended: true };
  if (lf >= 0) return { header: bytes.subarray(0, lf + 1), body: bytes.subarray(lf + 2), ended: true };
  return { header: bytes, body: Buffer.alloc(0), ended: false };
}

/**
 * Parses the header; `size` is the whole message's size (it may exceed the bytes given). The body
 * (rawBody, parts) is decoded only when a test reads it: most scripts never use the body test,
 * and decoding every part of every message would cost them for nothing.
 */
export function sieveMessage(bytes: Buffer, size: number = bytes.length, maxDepth = 16): SieveMessage {
  const { header, body, ended } = splitHeader(bytes);
  const fields = parseHeaderBlock(header);
  let rawBody: string | null = null;
  let parts: BodyPart[] | null = null;
  return {
    size,
    fields,
    header: { bytes: header, complete: ended || bytes.length >= size },
    get rawBody(): string {
      rawBody ??= body.toString("latin1");
      return rawBody;
    },
    get parts(): readonly BodyPart[] {
      if (parts === null) {
        parts = [];
        collectParts(fields, body, parts, maxDepth);
      }
      return parts;
    },
  };
}

function param(value: string, name: string): string | null {
  const m = new RegExp(`;\\s*${name}\\s*=\\s*(?:"((?:[^"\\\\]|\\\\.)*)"|([^;\\s]+))`, "i").exec(value);
  return m ? (m[1] ?? m[2] ?? null) : null;
}

function header(fields: readonly HeaderField[], name: string): string | null {
  const f = fields.find((x) => x.name.toLowerCase() === name);
  return f ? f.value : null;
}

function collectParts(fields: readonly HeaderField[], body: Buffer, out: BodyPart[], depth: number): void {
  const ctValue = header(fields, "content-type") ?? "text/plain";
  const contentType = (ctValue.split(";")[0] ?? "text/plain").trim().toLowerCase() || "text/plain";
  if (contentType.startsWith("multipart/") && depth > 0) {
    const boundary = param(ctValue, "boundary");
    if (boundary) {
      out.push({ contentType, text: "" });
      for (const part of splitMultipart(body, boundary)) {
        const { header: h, body: b } = splitHeader(part);
        collectParts(parseHeaderBlock(h), b, out, depth - 1);
      }
      return;
    }
  }
  if (contentType === "message/rfc822" && depth > 0) {
    out.push({ contentType, text: "" });
    const { header: h, body: b } = splitHeader(body);
    collectParts(parseHeaderBlock(h), b, out, depth - 1);
    return;
  }
  const cte = (header(fields, "content-transfer-encoding") ?? "7bit").trim().toLowerCase();
  let decoded: Buffer = body;
  if (cte === "base64") decoded = Buffer.from(body.toString("latin1").replace(/[^A-Za-z0-9+/=]/g, ""), "base64");
  else if (cte === "quoted-printable") decoded = decodeQuotedPrintable(body.toString("latin1"));
  const text = contentType.startsWith("text/") ? decodeCharset(decoded, param(ctValue, "charset") ?? "us-ascii") : decoded.toString("latin1");
  out.push({ contentType, text });
}

function splitMultipart(body: Buffer, boundary: string): Buffer[] {
  const text = body.toString("latin1");
  const delimiter = `--${boundary}`;
  const parts: Buffer[] = [];
  const lines = text.split(/\r?\n/);
  let current: string[] | null = null;
  for (const line of lines) {
    if (line.startsWith(delimiter)) {
      const rest = line.slice(delimiter.length);
      if (current) parts.push(Buffer.from(current.join("\r\n"), "latin1"));
      if (rest.startsWith("--")) return parts;
      current = [];
      continue;
    }
    if (current) current.push(line);
  }
  if (current) parts.push(Buffer.from(current.join("\r\n"), "latin1"));
  return parts;
}

function decodeQuotedPrintable(text: string): Buffer {
  const bytes: number[] = [];
  const s = text.replace(/=\r?\n/g, "");
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === "=" && /^[0-9A-Fa-f]{2}$/.test(s.slice(i + 1, i + 3))) {
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(s.charCodeAt(i) & 0xff);
  }
  return Buffer.from(bytes);
}

// Decoded values by lower-case field name, built once per message: a 50-rule script asks for the
// same few fields dozens of times.
const decodedFields = new WeakMap<SieveMessage, Map<string, string[]>>();

/** Header values as Sieve tests see them: unfolded, RFC 2047 decoded (RFC 5228 §2.7.2). */
export function headerValues(message: SieveMessage, name: string): string[] {
  let byName = decodedFields.get(message);
  if (byName === undefined) {
    byName = new Map();
    decodedFields.set(message, byName);
  }
  const wanted = name.toLowerCase();
  let values = byName.get(wanted);
  if (values === undefined) {
    values = message.fields.filter((f) => f.name.toLowerCase() === wanted).map((f) => decodeEncodedWords(f.value));
    byName.set(wanted, values);
  }
  return [...values];
}

const parsedAddresses = new WeakMap<SieveMessage, Map<string, string[]>>();

/**
 * The addresses of a header field as the address test sees them, parsed once per message: an
 * empty field is one empty address (what Pigeonhole does), so :is "" can test for it.
 */
export function addressValues(message: SieveMessage, name: string, only?: readonly string[]): string[] {
  const parse = (values: readonly string[]): string[] => values.flatMap((v) => (v.trim() === "" ? [""] : parseAddressList(v)));
  // One occurrence chosen by :index (RFC 5260 §6) is parsed as it comes.
  if (only !== undefined) return parse(only);
  let byName = parsedAddresses.get(message);
  if (byName === undefined) {
    byName = new Map();
    parsedAddresses.set(message, byName);
  }
  const key = name.toLowerCase();
  let out = byName.get(key);
  if (out === undefined) {
    out = parse(headerValues(message, name));
    byName.set(key, out);
  }
  return [...out];
}

/**
 * The addr-specs in an address header (RFC 5322 §3.4): groups and display names dropped, comments
 * ignored. Tolerant: a value that does not parse gives its text as one address.
 */
export function parseAddressList(value: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let current = "";
  const flush = (): void => {
    let item = current.trim();
    current = "";
    const colon = item.indexOf(":");
    if (colon >= 0 && !item.slice(0, colon).includes("<") && !item.slice(0, colon).includes("@")) item = item.slice(colon + 1).trim();
    if (item.endsWith(";")) item = item.slice(0, -1).trim();
    if (!item) return;
    const angle = /<([^>]*)>/.exec(item);
    out.push((angle ? angle[1]! : item).trim());
  };
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (quoted) {
      if (c === "\\") {
        current += c + (value[i + 1] ?? "");
        i++;
        continue;
      }
      if (c === '"') quoted = false;
      current += c;
      continue;
    }
    if (c === '"') quoted = true;
    else if (c === "(") {
      depth++;
      continue;
    } else if (c === ")") {
      depth = Math.max(0, depth - 1);
      continue;
    }
    if (depth > 0) continue;
    if (c === "," || c === ";") {
      if (c === ";") current += c;
      flush();
      continue;
    }
    current += c;
  }
  flush();
  return out;
}
