// One pass over a message's bytes -> the MIME part tree with byte offsets, stored at delivery so
// IMAP BODYSTRUCTURE, BODY[section]<partial>, BINARY and SEARCH never reparse the message.
//
// Hand-written on purpose: no MIME library reports the exact octet offsets of every part's header
// and body, and ranged reads (BODY[1.2]<0.100>) need exactly those.
//
//   const builder = new MimeTreeBuilder(limits?);
//   builder.push(chunk) ... (any chunking, same result)
//   const parsed: ParsedMessage = builder.finish();
//
// Memory stays bounded whatever the message size: only the header block being read (capped), the
// current line's first LINE_HEAD_CAP octets (for boundary matching), the part tree (capped in parts)
// and the search text (capped) are kept. The result never depends on how the input was chunked.
//
// Part numbers (RFC 9051 §6.4.5): the top-level message has partNumber "" and an encapsulated
// message (the body of a message/rfc822 part numbered N) has partNumber N, i.e. a "message root"
// carries the number of the message. A multipart's children are numbered under it ("1", "2.3").
// The body of a message root that is not multipart is IMAP part "1" (resp. "N.1"); it has no node
// of its own: findPart(root, "1") returns the root itself, whose bodyStart/bodyEnd are that body.
//
// Line ends may be CRLF or bare LF; offsets are always exact octet positions in the input.

import { isUtf8 } from "node:buffer";
import { readContentFields } from "./content-fields.js";
import { envelopeFromFields, type Envelope } from "./envelope.js";
import { decodeEncodedWords, parseHeaderBlock, type HeaderField } from "./header-fields.js";
import { BodyTextExtractor, SearchTextCollector } from "./search-text.js";
import type { ContentFields } from "./content-fields.js";

// Part lookup and offset shifting live beside the builder; importers use this module only.
export { findPart, shiftOffsets } from "./part-section.js";

export interface ContentType {
  /** Lower-cased, e.g. "text". Defaults to text/plain; charset=us-ascii (RFC 2045 §5.2). */
  type: string;
  subtype: string;
  /** Parameter names lower-cased; RFC 2231 continuations joined and charset-decoded to UTF-8. */
  params: Record<string, string>;
}

export interface ContentDisposition {
  type: string;
  params: Record<string, string>;
}

/** One part: its place and extent in the message, plus its content fields (content-fields.ts). */
export interface MimePart extends ContentFields {
  /** IMAP part number ("1", "1.2"); "" for the root; "TEXT" semantics are the caller's. */
  partNumber: string;
  /** Offsets are octet positions in the message, end exclusive. */
  headerStart: number;
  /** End of the header including the blank line that ends it (or the part end if none). */
  headerEnd: number;
  bodyStart: number;
  bodyEnd: number;
  /** Number of lines of the body (for text/* and message/rfc822 BODYSTRUCTURE). */
  bodyLines: number;
  /** Parts of a multipart/*, in order. */
  children: MimePart[];
  /** For message/rfc822 (and message/global): the encapsulated message. */
  encapsulated: { envelope: Envelope; root: MimePart } | null;
}

export interface ParsedMessage {
  root: MimePart;
  envelope: Envelope;
  /** Total octets seen. */
  size: number;
  /** Decoded header values and text/* bodies (UTF-8), capped; for SEARCH TEXT/BODY. */
  searchText: string;
  /**
   * UTF-16 units of searchText that come from the top-level header's values; the rest is body
   * text (SEARCH BODY). Absent from hand-made fixtures: then the whole text counts as header.
   */
  searchTextHeadLength?: number;
  /**
   * The top-level header's fields as parsed (capped like every header block, maxHeaderBytes):
   * what SEARCH HEADER compares with (mail/header-search.ts). Absent from hand-made fixtures.
   */
  headerFields?: HeaderField[];
}

export interface MimeTreeLimits {
  /** Nesting depth of multiparts and encapsulated messages; deeper parts are kept as leaves. */
  maxDepth?: number;
  /**
   * Parts in the whole tree, the root included. The part that reaches it is the last: it takes
   * the rest of the message as one opaque leaf, delimiters and all (as Dovecot does).
   */
  maxParts?: number;
  /** Octets kept of any one header block; fields past it are ignored (offsets stay exact). */
  maxHeaderBytes?: number;
  /** UTF-8 octets of search text kept. */
  maxSearchTextBytes?: number;
}

/**
 * Default limits (config limits.mime_max_depth and limits.mime_max_parts). Postfix refuses mail
 * nested deeper than 100 (mime_nesting_limit); Dovecot's parser stops at 100 levels and 10,000
 * parts and keeps the rest as one leaf. Real mail stays far below both: a forward of a forward
 * is a handful of levels, a large digest a few hundred parts. Each part costs a stored node and
 * a BODYSTRUCTURE entry on every FETCH, so a 20,000-part message of 850 KB must not cost more
 * than a thousand of them.
 */
export const DEFAULT_MIME_MAX_DEPTH = 32;
export const DEFAULT_MIME_MAX_PARTS = 1000;

/**
 * Octets of a line kept for boundary matching. RFC 2046 §5.1.1 limits a boundary to 70 characters,
 * so a delimiter line is far shorter; a longer line is body text and is streamed, never buffered.
 */
const LINE_HEAD_CAP = 1024;
/** Longest boundary parameter honoured, so that "--" boundary "--" always fits in the line head. */
const MAX_BOUNDARY_LENGTH = 256;
const LF = 0x0a;
const CR = 0x0d;

/** A part being read: the innermost open frame receives the lines. */
interface Frame {
  part: MimePart;
  depth: number;
  phase: "header" | "body";
  headerChunks: Buffer[];
  headerKept: number;
  /** Children of a multipart/digest default to message/rfc822 (RFC 2046 §5.1.5). */
  inDigest: boolean;
  /** The top-level message or an encapsulated one: it has an envelope. */
  isMessageRoot: boolean;
  envelope: Envelope | null;
  /** Line feeds seen before bodyStart, to count body lines without looking at the bytes again. */
  linesBeforeBody: number;
  /** For a multipart: "--" + boundary, and where we are among its parts. */
  delimiter: Buffer | null;
  /** How the header bytes were read as text, so a boundary turns back into the same octets. */
  headerEncoding: "utf8" | "latin1";
  multipartState: "preamble" | "parts" | "epilogue";
  text: BodyTextExtractor | null;
}

function joinPartNumber(prefix: string, index: number): string {
  return prefix === "" ? String(index) : `${prefix}.${index}`;
}

function emptyPart(partNumber: string, start: number): MimePart {
  return {
    partNumber,
    headerStart: start,
    headerEnd: start,
    bodyStart: start,
    bodyEnd: start,
    bodyLines: 0,
    contentType: { type: "text", subtype: "plain", params: { charset: "us-ascii" } },
    disposition: null,
    contentId: null,
    contentDescription: null,
    contentTransferEncoding: "7bit",
    contentLanguage: null,
    contentLocation: null,
    contentMd5: null,
    children: [],
    encapsulated: null,
  };
}

function isWhitespaceOnly(bytes: Buffer): boolean {
  for (const byte of bytes) if (byte !== 0x20 && byte !== 0x09 && byte !== CR && byte !== LF) return false;
  return true;
}

/** Streaming MIME structure parser; see the module comment. Never throws on any input. */
export class MimeTreeBuilder {
  private readonly maxDepth: number;
  private readonly maxParts: number;
  private readonly maxHeaderBytes: number;
  private readonly collector: SearchTextCollector;
  private readonly stack: Frame[] = [];
  private readonly root: MimePart;
  private rootEnvelope: Envelope | null = null;
  private partCount = 1;
  /** maxParts was reached: no delimiter is recognised and no part is opened any more. */
  private overflowed = false;
  private result: ParsedMessage | null = null;
  /** collector.length once the top-level header's values were collected. */
  private headTextLength: number | null = null;
  /** The top-level header's fields, once read. */
  private rootFields: HeaderField[] = [];

  /** Octets consumed so far. */
  private position = 0;
  private lineStart = 0;
  private readonly lineHead = Buffer.alloc(LINE_HEAD_CAP);
  private lineHeadLength = 0;
  /** The current line outgrew the head: its octets were passed on and it cannot be a delimiter. */
  private lineStreamed = false;
  /** Line feeds before lineStart. */
  private lineFeeds = 0;
  /** Length of the previous line's end (2 for CRLF, 1 for LF, 0 at the start). */
  private previousEolLength = 0;
  /** Octets of the previous line before its line end. */
  private previousContentLength = 0;
  /** The last two octets seen, to tell CRLF from a bare LF and to count a final partial line. */
  private lastByte = -1;
  private byteBeforeLast = -1;

  constructor(limits: MimeTreeLimits = {}) {
    this.maxDepth = limits.maxDepth ?? DEFAULT_MIME_MAX_DEPTH;
    this.maxParts = limits.maxParts ?? DEFAULT_MIME_MAX_PARTS;
    this.overflowed = this.maxParts <= 1;
    this.maxHeaderBytes = limits.maxHeaderBytes ?? 256 * 1024;
    this.collector = new SearchTextCollector(limits.maxSearchTextBytes ?? 1024 * 1024);
    this.root = emptyPart("", 0);
    this.stack.push(this.newFrame(this.root, 0, false, true));
  }

  push(chunk: Buffer): void {
    if (this.result !== null) throw new Error("MimeTreeBuilder: push after finish");
    let at = 0;
    while (at < chunk.length) {
      if (this.lineHeadLength === 0 && !this.lineStreamed) {
        at = this.skipPlainLines(chunk, at);
        if (at >= chunk.length) break;
      }
      const lf = chunk.indexOf(LF, at);
      const end = lf === -1 ? chunk.length : lf + 1;
      this.lineBytes(chunk.subarray(at, end));
      this.position += end - at;
      at = end;
      if (lf !== -1) this.endLine(true);
    }
  }

  /**
   * Fast path for the bulk of a large body: from a line start, passes over whole lines that need
   * nothing but counting (what endLine would record for them), without copying them into the
   * line head. That holds inside a body whose text is not collected (not text/*, or the search
   * text cap is reached: BodyTextExtractor.write ignores it then) for every line that cannot be a
   * delimiter line (one not starting with "--" while a multipart is open). Returns where the
   * ordinary path must take over.
   */
  private skipPlainLines(chunk: Buffer, from: number): number {
    const frame = this.top;
    if (frame === undefined || frame.phase !== "body" || (frame.text !== null && !this.collector.full)) return from;
    const delimitersOpen = !this.overflowed && this.stack.some((f) => f.delimiter !== null && f.multipartState !== "epilogue");
    let at = from;
    let lastStart = -1;
    let lastLf = -1;
    let lines = 0;
    while (at < chunk.length) {
      const lf = chunk.indexOf(LF, at);
      if (lf === -1) break;
      if (delimitersOpen && lf - at >= 3 && chunk[at] === 0x2d && chunk[at + 1] === 0x2d) break;
      lastStart = at;
      lastLf = lf;
      lines++;
      at = lf + 1;
    }
    if (lines === 0) return from;
    // The state endLine leaves after the last of these lines.
    const lineLength = lastLf + 1 - lastStart;
    this.byteBeforeLast = lineLength >= 2 ? chunk[lastLf - 1]! : this.lastByte;
    this.lastByte = LF;
    const eolLength = lineLength >= 2 && this.byteBeforeLast === CR ? 2 : 1;
    this.lineFeeds += lines;
    this.previousEolLength = eolLength;
    this.previousContentLength = lineLength - eolLength;
    this.position += at - from;
    this.lineStart = this.position;
    return at;
  }

  finish(): ParsedMessage {
    if (this.result !== null) return this.result;
    if (this.lineStreamed || this.lineHeadLength > 0) this.endLine(false);
    while (this.stack.length > 0) this.closeTop(this.position, false);
    this.result = {
      root: this.root,
      envelope: this.rootEnvelope ?? envelopeFromFields([]),
      size: this.position,
      searchText: this.collector.text(),
      searchTextHeadLength: this.headTextLength ?? this.collector.length,
      headerFields: this.rootFields,
    };
    return this.result;
  }

  private newFrame(part: MimePart, depth: number, inDigest: boolean, isMessageRoot: boolean): Frame {
    return {
      part,
      depth,
      phase: "header",
      headerChunks: [],
      headerKept: 0,
      inDigest,
      isMessageRoot,
      envelope: null,
      linesBeforeBody: 0,
      delimiter: null,
      headerEncoding: "utf8",
      multipartState: "preamble",
      text: null,
    };
  }

  private get top(): Frame | undefined {
    return this.stack[this.stack.length - 1];
  }

  /** Octets of the current line: buffered while it may be a delimiter line, else passed on. */
  private lineBytes(segment: Buffer): void {
    if (segment.length === 0) return;
    this.byteBeforeLast = segment.length >= 2 ? (segment[segment.length - 2] ?? -1) : this.lastByte;
    this.lastByte = segment[segment.length - 1] ?? -1;
    if (this.lineStreamed) {
      this.deliver(segment);
    } else if (this.lineHeadLength + segment.length <= LINE_HEAD_CAP) {
      segment.copy(this.lineHead, this.lineHeadLength);
      this.lineHeadLength += segment.length;
    } else {
      this.lineStreamed = true;
      this.deliver(this.lineHead.subarray(0, this.lineHeadLength));
      this.deliver(segment);
    }
  }

  /** The current line is complete (hasEol) or the input ended inside it. */
  private endLine(hasEol: boolean): void {
    const line = this.lineHead.subarray(0, this.lineHeadLength);
    const eolLength = !hasEol ? 0 : this.position - this.lineStart >= 2 && this.byteBeforeLast === CR ? 2 : 1;
    const contentLength = this.position - this.lineStart - eolLength;
    if (this.lineStreamed || !this.delimiterLine(line)) {
      if (!this.lineStreamed) this.deliver(line);
      const frame = this.top;
      // RFC 5322 §2.1 / RFC 2045 §3: the first empty line ends the header block.
      if (frame?.phase === "header" && hasEol && contentLength === 0) {
        this.finishHeader(frame, this.position, this.lineFeeds + 1, true);
      }
    }
    if (hasEol) this.lineFeeds++;
    this.previousEolLength = eolLength;
    this.previousContentLength = contentLength;
    this.lineStart = this.position;
    this.lineHeadLength = 0;
    this.lineStreamed = false;
  }

  /** Hands line octets to the innermost frame: its header block, or its text for search. */
  private deliver(bytes: Buffer): void {
    const frame = this.top;
    if (frame === undefined || bytes.length === 0) return;
    if (frame.phase === "header") {
      const room = this.maxHeaderBytes - frame.headerKept;
      if (room <= 0) return;
      const kept = Buffer.from(bytes.subarray(0, room));
      frame.headerChunks.push(kept);
      frame.headerKept += kept.length;
    } else frame.text?.write(bytes);
  }

  /**
   * RFC 2046 §5.1.1: a line "--boundary" followed only by whitespace opens the next part, and
   * "--boundary--" closes the multipart. The innermost open multipart whose boundary matches wins;
   * a match on an outer boundary also closes every part inside it (a missing close delimiter).
   */
  private delimiterLine(line: Buffer): boolean {
    if (this.overflowed || line.length < 3 || line[0] !== 0x2d || line[1] !== 0x2d) return false;
    for (let index = this.stack.length - 1; index >= 0; index--) {
      const frame = this.stack[index];
      if (frame === undefined || frame.delimiter === null || frame.multipartState === "epilogue") continue;
      const delimiter = frame.delimiter;
      if (line.length < delimiter.length || !line.subarray(0, delimiter.length).equals(delimiter)) continue;
      const rest = line.subarray(delimiter.length);
      const closes = rest.length >= 2 && rest[0] === 0x2d && rest[1] === 0x2d;
      if (!closes && !isWhitespaceOnly(rest)) continue;
      this.atDelimiter(index, closes);
      return true;
    }
    return false;
  }

  private atDelimiter(multipartIndex: number, closes: boolean): void {
    // RFC 2046 §5.1.1: the line end before a delimiter belongs to the delimiter, not the part.
    const partEnd = this.lineStart - this.previousEolLength;
    while (this.stack.length > multipartIndex + 1) this.closeTop(partEnd, true);
    const multipart = this.stack[multipartIndex];
    if (multipart === undefined) return;
    if (closes) {
      multipart.multipartState = "epilogue";
      return;
    }
    multipart.multipartState = "parts";
    this.countPart();
    const lineEnd = this.lineStart + this.lineHeadLength;
    const child = emptyPart(joinPartNumber(multipart.part.partNumber, multipart.part.children.length + 1), lineEnd);
    multipart.part.children.push(child);
    this.stack.push(this.newFrame(child, multipart.depth + 1, multipart.part.contentType.subtype === "digest", false));
  }

  /** The header block of `frame` ended at headerEnd; its body starts there. */
  private finishHeader(frame: Frame, headerEnd: number, linesBeforeBody: number, bodyFollows: boolean): void {
    const part = frame.part;
    const block = Buffer.concat(frame.headerChunks);
    frame.headerChunks = [];
    frame.headerEncoding = isUtf8(block) ? "utf8" : "latin1";
    const fields = parseHeaderBlock(block);
    Object.assign(part, readContentFields(fields, frame.inDigest));
    part.headerEnd = headerEnd;
    part.bodyStart = headerEnd;
    part.bodyEnd = headerEnd;
    if (frame.isMessageRoot) frame.envelope = envelopeFromFields(fields);
    for (const field of fields) {
      this.collector.separate();
      this.collector.append(decodeEncodedWords(field.value));
    }
    if (part === this.root) {
      this.headTextLength = this.collector.length;
      this.rootFields = fields;
    }
    frame.phase = "body";
    frame.linesBeforeBody = linesBeforeBody;
    if (bodyFollows) this.startBody(frame);
  }

  /** Sets up how the body of `frame` is read, by content type. */
  private startBody(frame: Frame): void {
    const { contentType, contentTransferEncoding } = frame.part;
    const nestable = frame.depth < this.maxDepth;
    const boundary = contentType.params.boundary ?? "";
    if (contentType.type === "multipart" && nestable && !this.overflowed && boundary !== "" && boundary.length <= MAX_BOUNDARY_LENGTH) {
      frame.delimiter = Buffer.from(`--${boundary}`, frame.headerEncoding);
      return;
    }
    const encapsulates = contentType.type === "message" && (contentType.subtype === "rfc822" || contentType.subtype === "global");
    // RFC 2046 §5.2.1: only 7bit, 8bit or binary message/rfc822 bodies are messages we can read.
    const readable = ["7bit", "8bit", "binary"].includes(contentTransferEncoding);
    if (encapsulates && readable && nestable && !this.overflowed) {
      this.countPart();
      const number = frame.isMessageRoot ? joinPartNumber(frame.part.partNumber, 1) : frame.part.partNumber;
      const inner = emptyPart(number, frame.part.bodyStart);
      this.stack.push(this.newFrame(inner, frame.depth + 1, false, true));
      return;
    }
    if (contentType.type === "text" && !this.collector.full) {
      frame.text = new BodyTextExtractor(
        this.collector,
        contentTransferEncoding,
        contentType.params.charset ?? "us-ascii",
        contentType.subtype === "html",
      );
    }
  }

  /** A part is opened; the one that reaches maxParts is the last (see MimeTreeLimits.maxParts). */
  private countPart(): void {
    this.partCount++;
    if (this.partCount >= this.maxParts) this.overflowed = true;
  }

  /** Closes the innermost frame at `end` (before a delimiter's line end, or the end of input). */
  private closeTop(end: number, atDelimiter: boolean): void {
    const frame = this.stack.pop();
    if (frame === undefined) return;
    const part = frame.part;
    if (frame.phase === "header") {
      // No empty line: the part is all header and its body is empty (RFC 2045 §3 default fields).
      const headerEnd = Math.max(part.headerStart, end);
      this.finishHeader(frame, headerEnd, this.lineFeeds, false);
      this.sealFrame(frame, headerEnd, 0);
      return;
    }
    const partEnd = Math.max(part.headerStart, end);
    if (partEnd < part.bodyStart) {
      // RFC 2046 §5.1.1: the line end before a delimiter is the delimiter's, even when it is the
      // empty line that ended this part's header; the header then ends there, and the body is empty.
      part.headerEnd = partEnd;
      part.bodyStart = partEnd;
      const inner = part.encapsulated?.root;
      if (inner !== undefined && inner.headerStart > partEnd) {
        inner.headerStart = inner.headerEnd = inner.bodyStart = inner.bodyEnd = partEnd;
        inner.bodyLines = 0;
      }
    }
    part.bodyEnd = Math.max(part.bodyStart, partEnd);
    this.sealFrame(frame, part.bodyEnd, this.bodyLines(frame, atDelimiter));
  }

  /**
   * Lines of the body: line feeds inside it, plus a last line without one. At a delimiter the
   * previous line's end is outside the body, so that line feed is not counted.
   */
  private bodyLines(frame: Frame, atDelimiter: boolean): number {
    const part = frame.part;
    if (part.bodyEnd <= part.bodyStart) return 0;
    if (atDelimiter) return this.lineFeeds - frame.linesBeforeBody - 1 + (this.previousContentLength > 0 ? 1 : 0);
    return this.lineFeeds - frame.linesBeforeBody + (this.lastByte !== LF ? 1 : 0);
  }

  private sealFrame(frame: Frame, bodyEnd: number, bodyLines: number): void {
    frame.part.bodyEnd = bodyEnd;
    frame.part.bodyLines = bodyLines;
    frame.text?.end();
    frame.text = null;
    const envelope = frame.envelope ?? envelopeFromFields([]);
    if (frame.part === this.root) this.rootEnvelope = envelope;
    else if (frame.isMessageRoot) {
      const container = this.top;
      if (container !== undefined) container.part.encapsulated = { envelope, root: frame.part };
    }
  }
}
