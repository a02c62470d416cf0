// Trace header fields added when a message is received or delivered: Return-Path (RFC 5321 §4.4),
// Received (RFC 5321 §4.4 with the RFC 3848 / RFC 6531 §3.7.3 protocol names) and
// Authentication-Results (RFC 8601). They go into the per-recipient prefix stored beside the blob,
// so the message file is never rewritten. Pure: every value is passed in, including the date.
//
// Client-supplied text (the HELO name, addresses) reaches these fields, so each field is built to
// be one header field whatever it is given: no CR or LF survives, and folding only happens at
// spaces this module wrote itself.

/** RFC 5322 §2.1.1: lines SHOULD stay within 78 characters; folding keeps them there where it can. */
const FOLD_AT = 78;
const MAX_HELO_CHARS = 255;

export type ReceivedProtocol = "SMTP" | "ESMTP" | "ESMTPS" | "ESMTPA" | "ESMTPSA" | "UTF8SMTP" | "UTF8SMTPS" | "UTF8SMTPA" | "UTF8SMTPSA";

export interface ProtocolTraits {
  /** EHLO (true) or HELO (false). */
  readonly esmtp: boolean;
  readonly tls: boolean;
  readonly authenticated: boolean;
  /** The transaction used SMTPUTF8 (RFC 6531 §3.7.3 defines UTF8SMTP* names). */
  readonly smtputf8: boolean;
}

/** The "with" protocol of a Received field: RFC 3848 §4 and RFC 6531 §3.7.3. */
export function receivedProtocol(traits: ProtocolTraits): ReceivedProtocol {
  if (!traits.esmtp) return "SMTP";
  const base = traits.smtputf8 ? "UTF8SMTP" : "ESMTP";
  const suffix = `${traits.tls ? "S" : ""}${traits.authenticated ? "A" : ""}`;
  if (base === "ESMTP") return `ESMTP${suffix}` as ReceivedProtocol;
  return `UTF8SMTP${suffix}` as ReceivedProtocol;
}

export interface ReceivedFieldInput {
  /** The EHLO/HELO argument as sent, or null when the client never sent one. */
  readonly heloName: string | null;
  readonly clientAddress: string;
  /** The verified reverse DNS name of the client, when known. */
  readonly clientName: string | null;
  /** Our host name. */
  readonly byHost: string;
  readonly protocol: ReceivedProtocol;
  /** The transaction id, also given in the 250 reply and the logs. */
  readonly id: string;
  /** One recipient only: naming several would disclose Bcc recipients (RFC 5321 §7.2). */
  readonly recipient: string | null;
  readonly tls: { readonly protocol: string; readonly cipher: string } | null;
  readonly date: Date;
}

/**
 * RFC 5321 §4.4 Time-stamp-line:
 *   "Received:" FWS "from" FWS Extended-Domain CFWS "by" FWS Domain CFWS [Via] [With] [ID] [For] ";" FWS date-time
 * where Extended-Domain is `helo (name [ip])` or `helo ([ip])`.
 */
export function receivedField(input: ReceivedFieldInput): string {
  const literal = addressLiteral(input.clientAddress);
  const tcpInfo = input.clientName === null ? literal : `${sanitizeToken(input.clientName)} ${literal}`;
  const from = input.heloName === null ? `from ${literal}` : `from ${sanitizeHelo(input.heloName)} (${tcpInfo})`;
  const clauses = [from, `by ${sanitizeToken(input.byHost)}`];
  if (input.tls !== null) clauses.push(`(using ${sanitizeComment(input.tls.protocol)} with cipher ${sanitizeComment(input.tls.cipher)})`);
  clauses.push(`with ${input.protocol}`, `id ${sanitizeToken(input.id)}`);
  if (input.recipient !== null) clauses.push(`for <${sanitizeAddress(input.recipient)}>`);
  const last = clauses.length - 1;
  clauses[last] = `${clauses[last]};`;
  clauses.push(formatDateTime(input.date));
  return foldField("Received", clauses);
}

/** RFC 5321 §4.4: Return-path-line = "Return-Path:" FWS Reverse-path; "" is the null path. */
export function returnPathField(reversePath: string): string {
  return `Return-Path: <${sanitizeAddress(reversePath)}>\r\n`;
}

/**
 * RFC 8601 §2.2: the verifier composes the value (authserv-id and results); this makes it one
 * field. Line breaks inside the value are turned into folding so nothing can start a new field.
 */
export function authenticationResultsField(value: string): string {
  const words = value.replace(/^Authentication-Results:\s*/i, "").replace(/[\r\n\t]+/g, " ").replace(/[\x00-\x1f\x7f]/g, "").split(" ").filter((word) => word !== "");
  return foldField("Authentication-Results", words);
}

/** Any unstructured field we add (X-Spam-Status), folded at spaces, control characters removed. */
export function foldedField(name: string, value: string): string {
  return foldField(name, value.replace(/[\x00-\x1f\x7f]+/g, " ").split(" ").filter((word) => word !== ""));
}

/** The prefix stored beside the blob: the given fields in order, as bytes. */
export function tracePrefix(fields: readonly string[]): Buffer {
  return Buffer.from(fields.join(""), "utf8");
}

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** RFC 5322 §3.3 date-time in UTC: "Tue, 1 Jul 2003 10:52:37 +0000". */
export function formatDateTime(date: Date): string {
  const two = (n: number) => String(n).padStart(2, "0");
  const time = `${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())}`;
  return `${DAYS[date.getUTCDay()]}, ${date.getUTCDate()} ${MONTHS[date.getUTCMonth()]} ${date.getUTCFullYear()} ${time} +0000`;
}

/** "Name: w1 w2 …" folded before a word that would pass FOLD_AT (RFC 5322 §2.2.3). */
function foldField(name: string, words: readonly string[]): string {
  const lines: string[] = [];
  let line = `${name}:`;
  for (const word of words) {
    if (line.length + 1 + word.length > FOLD_AT && line.trim() !== `${name}:`) {
      lines.push(line);
      line = `\t${word}`;
    } else {
      line = `${line} ${word}`;
    }
  }
  lines.push(line);
  return `${lines.join("\r\n")}\r\n`;
}

/** RFC 5321 §4.1.3 address literal for the client's IP address. */
function addressLiteral(ip: string): string {
  const bare = ip.replace(/[^0-9A-Fa-f.:]/g, "");
  return bare.includes(":") ? `[IPv6:${bare}]` : `[${bare}]`;
}

// The HELO name is whatever the client sent: keep visible ASCII, replace what could close the
// comment or the field, and cap it (RFC 5321 §4.1.2 Domain is at most 255 octets anyway).
function sanitizeHelo(helo: string): string {
  const cleaned = helo.slice(0, MAX_HELO_CHARS).replace(/[^\x21-\x7e]|[()\\;"]/g, "_");
  return cleaned === "" ? "_" : cleaned;
}

function sanitizeToken(text: string): string {
  return text.replace(/[^\x21-\x7e]|[()\\;]/g, "_");
}

function sanitizeComment(text: string): string {
  return text.replace(/[^\x21-\x7e]|[()\\]/g, "_");
}

// Addresses may be UTF-8 (RFC 6532 allows it in header fields); only line breaks, controls and
// the closing ">" are dangerous here.
function sanitizeAddress(address: string): string {
  return address.replace(/[\x00-\x1f\x7f<>]/g, "");
}
