// The encoder of typed response values (response-value.ts) to wire bytes (RFC 9051 §4, §7).
// Small values are gathered into one buffer; a streamed literal flushes what is gathered, then
// copies its stream chunk by chunk, awaiting the sink each time (back-pressure), and checks that
// the stream produced exactly the announced octet count, since a short or long literal would
// desynchronise the client for good.
import type { Readable } from "node:stream";
import type { ImapValue } from "./response-value.js";

export interface ResponseSink {
  write(bytes: Buffer): Promise<void>;
}

export type ResponseStatus = "OK" | "NO" | "BAD" | "BYE" | "PREAUTH";

export class LiteralSizeMismatchError extends Error {
  override readonly name = "LiteralSizeMismatchError";
}

/** Longest string written quoted; longer ones become literals so a client never needs a huge line. */
const MAX_QUOTED = 1024;

/** RFC 9051 §4.3: a quoted string holds 7-bit text without CR, LF or NUL; `"` and `\` are escaped. */
function quotable(bytes: Buffer): boolean {
  if (bytes.length > MAX_QUOTED) return false;
  for (const b of bytes) if (b < 0x20 || b > 0x7e) return false;
  return true;
}

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/** Only called with printable 7-bit text, so its UTF-8 and latin1 forms are the same bytes. */
function quoteText(text: string): string {
  return `"${text.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

/** Response text (resp-text) cannot hold CR or LF; they would end the line early. */
export function safeText(text: string): string {
  return text.replace(/[\r\n\u0000]+/g, " ");
}

type StreamedLiteral = Extract<ImapValue, { kind: "literal" }>;

/**
 * Where collect() puts bytes. Text (atoms, numbers, quoted strings, punctuation) is joined as a
 * string and turned into bytes once per run, not once per token: a FETCH of 10,000 messages would
 * otherwise allocate a Buffer for every atom, space and parenthesis. A streamed literal closes the
 * current segment, so the wire order is kept.
 */
class Gatherer {
  /** Gathered bytes and streams to copy, alternating, in wire order. */
  readonly segments: (Buffer[] | StreamedLiteral)[] = [];
  private current: Buffer[] = [];
  private text = "";

  constructor(private readonly streams: boolean) {
    this.segments.push(this.current);
  }

  /** Text whose UTF-8 form is what goes on the wire. */
  add(text: string): void {
    this.text += text;
  }

  push(bytes: Buffer): void {
    this.endText();
    this.current.push(bytes);
  }

  stream(literal: StreamedLiteral): void {
    if (!this.streams) throw new Error("encodeValue: a streamed literal needs writeResponse");
    this.endText();
    this.current = [];
    this.segments.push(literal, this.current);
  }

  /** Closes the text run; call before reading segments. */
  endText(): void {
    if (this.text === "") return;
    this.current.push(Buffer.from(this.text, "utf8"));
    this.text = "";
  }
}

/** Encodes values that hold no streamed literal; throws if one does. */
export function encodeValue(value: ImapValue): Buffer {
  const out = new Gatherer(false);
  collect(value, out);
  out.endText();
  return Buffer.concat(out.segments[0] as Buffer[]);
}

function collect(value: ImapValue, out: Gatherer): void {
  switch (value.kind) {
    case "atom":
      out.add(value.value);
      return;
    case "number":
      out.add(value.value.toString());
      return;
    case "nil":
      out.add("NIL");
      return;
    case "string":
      collectString(value.value, out);
      return;
    case "encoded":
      out.add(value.text);
      return;
    case "literal":
      out.add(`${value.binary === true ? "~" : ""}{${value.size}}\r\n`);
      if (Buffer.isBuffer(value.bytes)) out.push(value.bytes);
      else out.stream(value);
      return;
    case "list":
      out.add("(");
      value.items.forEach((item, i) => {
        // RFC 9051 §9 body-type-mpart: the leading `adjacent` items (part bodies) have no SP between them.
        if (i > 0 && i >= (value.adjacent ?? 0)) out.add(" ");
        collect(item, out);
      });
      out.add(")");
      return;
  }
}

const REPLACEMENT_CHARACTER = Buffer.from("\ufffd", "utf8");

/**
 * RFC 9051 §4.3, §9: no string may carry NUL, quoted or literal (CHAR8 = %x01-ff). A NUL in a
 * header value (Content-ID, Subject...) is sent as U+FFFD, which shows that something was there;
 * message octets never pass here (fetch/section.ts handles those with same-length 0x80).
 */
function withoutNul(bytes: Buffer): Buffer {
  if (!bytes.includes(0)) return bytes;
  const parts: Buffer[] = [];
  let from = 0;
  for (let at = bytes.indexOf(0); at >= 0; at = bytes.indexOf(0, from)) {
    parts.push(bytes.subarray(from, at), REPLACEMENT_CHARACTER);
    from = at + 1;
  }
  parts.push(bytes.subarray(from));
  return Buffer.concat(parts);
}

function collectString(value: string | Buffer, out: Gatherer): void {
  // A 7-bit string needs no byte form to be judged, and most strings (dates, flags) are 7-bit.
  if (typeof value === "string" && value.length <= MAX_QUOTED && PRINTABLE_ASCII.test(value)) {
    out.add(quoteText(value));
    return;
  }
  const bytes = withoutNul(typeof value === "string" ? Buffer.from(value, "utf8") : value);
  if (quotable(bytes)) out.add(quoteText(bytes.toString("latin1")));
  else {
    out.add(`{${bytes.length}}\r\n`);
    out.push(bytes);
  }
}

/**
 * Writes `prefix` + values separated by SP + CRLF, streaming literals (also inside lists).
 * `prefix` is "* " for untagged data (RFC 9051 §7).
 */
export function writeResponse(sink: ResponseSink, prefix: string, values: readonly ImapValue[]): Promise<void> {
  return writeResponses(sink, prefix, [values]);
}

/**
 * Several responses written as one: their gathered bytes go out in as few writes as the streamed
 * literals among them allow, so a FETCH of many messages is not a socket write per message.
 */
export async function writeResponses(sink: ResponseSink, prefix: string, responses: readonly (readonly ImapValue[])[]): Promise<void> {
  const out = new Gatherer(true);
  for (const values of responses) {
    out.add(prefix);
    values.forEach((value, i) => {
      if (i > 0) out.add(" ");
      collect(value, out);
    });
    out.add("\r\n");
  }
  out.endText();
  for (const segment of out.segments) {
    if (Array.isArray(segment)) {
      if (segment.length > 0) await sink.write(segment.length === 1 ? segment[0]! : Buffer.concat(segment));
    } else await copyLiteral(sink, segment.size, (segment.bytes as () => Readable)());
  }
}

async function copyLiteral(sink: ResponseSink, size: number, stream: Readable): Promise<void> {
  let written = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      if (written + chunk.length > size) throw new LiteralSizeMismatchError(`literal stream is longer than its announced ${size} octets`);
      written += chunk.length;
      await sink.write(chunk);
    }
  } finally {
    stream.destroy();
  }
  if (written !== size) throw new LiteralSizeMismatchError(`literal stream ended after ${written} of ${size} octets`);
}

/** `<tag|*> <status> [<code>] <text>` CRLF (RFC 9051 §7.1). */
export function statusLine(tag: string, status: ResponseStatus, code: string | null, text: string): Buffer {
  return Buffer.from(`${tag} ${status} ${code === null ? "" : `[${safeText(code)}] `}${safeText(text)}\r\n`, "utf8");
}

/** `+ <text>` CRLF (RFC 9051 §7.5). */
export function continuationLine(text: string): Buffer {
  return Buffer.from(`+ ${safeText(text)}\r\n`, "utf8");
}
