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

const CRLF = Buffer.from("\r\n");
/** Longest string written quoted; longer ones become literals so a client never needs a huge line. */
const MAX_QUOTED = 1024;

/** RFC 9051 §4.3: a quoted string holds 7-bit text without CR, LF or NUL; `"` and `\` are escaped. */
function quotable(bytes: Buffer): boolean {
  if (bytes.length > MAX_QUOTED) return false;
  for (const b of bytes) if (b < 0x20 || b > 0x7e) return false;
  return true;
}

function quote(bytes: Buffer): Buffer {
  return Buffer.from(`"${bytes.toString("latin1").replace(/["\\]/g, (c) => `\\${c}`)}"`, "latin1");
}

/** Response text (resp-text) cannot hold CR or LF; they would end the line early. */
export function safeText(text: string): string {
  return text.replace(/[\r\n\u0000]+/g, " ");
}

type StreamedLiteral = Extract<ImapValue, { kind: "literal" }>;

/** Where collect() puts bytes, and what it does with a streamed literal. */
interface Gatherer {
  push(bytes: Buffer): void;
  stream(literal: StreamedLiteral): void;
}

/** Encodes values that hold no streamed literal; throws if one does. */
export function encodeValue(value: ImapValue): Buffer {
  const parts: Buffer[] = [];
  collect(value, {
    push: (bytes) => parts.push(bytes),
    stream: () => {
      throw new Error("encodeValue: a streamed literal needs writeResponse");
    },
  });
  return Buffer.concat(parts);
}

function collect(value: ImapValue, out: Gatherer): void {
  switch (value.kind) {
    case "atom":
      out.push(Buffer.from(value.value, "utf8"));
      return;
    case "number":
      out.push(Buffer.from(value.value.toString(), "latin1"));
      return;
    case "nil":
      out.push(Buffer.from("NIL"));
      return;
    case "string": {
      const bytes = typeof value.value === "string" ? Buffer.from(value.value, "utf8") : value.value;
      if (quotable(bytes)) out.push(quote(bytes));
      else {
        out.push(Buffer.from(`{${bytes.length}}\r\n`, "latin1"));
        out.push(bytes);
      }
      return;
    }
    case "literal":
      out.push(Buffer.from(`${value.binary === true ? "~" : ""}{${value.size}}\r\n`, "latin1"));
      if (Buffer.isBuffer(value.bytes)) out.push(value.bytes);
      else out.stream(value);
      return;
    case "list":
      out.push(Buffer.from("("));
      value.items.forEach((item, i) => {
        if (i > 0) out.push(Buffer.from(" "));
        collect(item, out);
      });
      out.push(Buffer.from(")"));
      return;
  }
}

/**
 * Writes `prefix` + values separated by SP + CRLF, streaming literals (also inside lists).
 * `prefix` is "* " for untagged data (RFC 9051 §7).
 */
export async function writeResponse(sink: ResponseSink, prefix: string, values: readonly ImapValue[]): Promise<void> {
  // Segments alternate between gathered bytes and streams to copy, in wire order.
  const segments: (Buffer[] | StreamedLiteral)[] = [];
  let current: Buffer[] = [Buffer.from(prefix, "utf8")];
  segments.push(current);
  const gatherer: Gatherer = {
    push: (bytes) => current.push(bytes),
    stream: (literal) => {
      current = [];
      segments.push(literal, current);
    },
  };
  values.forEach((value, i) => {
    if (i > 0) gatherer.push(Buffer.from(" "));
    collect(value, gatherer);
  });
  gatherer.push(CRLF);
  for (const segment of segments) {
    if (Array.isArray(segment)) {
      if (segment.length > 0) await sink.write(Buffer.concat(segment));
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
