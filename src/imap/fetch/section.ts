// BODY[section]<partial> and BINARY[part]<partial> contents (RFC 9051 §6.4.5, RFC 3516 §4.2).
//
// Every section is found from the MIME offsets stored at delivery and read as a byte range of the
// logical message (trace prefix + blob) through the store: BODY[1.2] never reads octets outside
// part 1.2. Plain ranges know their size from the offsets; a header subset or a decoded part is
// measured by one streaming pass before its literal is written, and either kept (when small) or
// produced again by a second pass.
//
// A section that does not exist, or a specifier that is meaningless for the part (HEADER or TEXT
// of a part that is not message/rfc822), is an empty string, as Crispin advised on imap-protocol
// (2011-04, "FETCH Response"); a partial starting past the end is an empty string too (§6.4.5).
//
// NUL in message data (a `binary` part appended as literal8, RFC 3516 §4.3): a literal cannot
// carry NUL (RFC 9051 §4.3 and §9: literal = "{" number64 ["+"] "}" CRLF *CHAR8, CHAR8 = %x01-ff),
// and only BINARY may answer with literal8 (RFC 3516 §4.2; RFC 9051 §6.4.5). We keep the
// message as appended (byte-exact, so BINARY[] and a later BINARY fetch give the client's octets
// back, and RFC 6855 §4 forbids altering UTF8 appends) and encode on FETCH: BODY[], RFC822 and
// their sections get every NUL replaced by 0x80, one octet for one. A same-length substitution
// keeps RFC822.SIZE, the BODYSTRUCTURE sizes, partial offsets and streamed literal sizes true
// without a second pass; re-encoding the part as base64 would change all of them and contradict
// the part's own Content-Transfer-Encoding header. Dovecot makes the same substitution.

import { PassThrough, pipeline, Transform, type Readable, type TransformCallback } from "node:stream";
import { findPart, type MimePart } from "../../mail/mime-tree.js";
import type { ByteRange } from "../../store/index.js";
import type { Partial, Section } from "../protocol/fetch-item.js";
import { literal, str, streamedLiteral, type ImapValue } from "../protocol/response-value.js";
import { HeaderFieldFilter } from "./header-filter.js";
import { createDecoder, isKnownEncoding } from "./transfer-decoding.js";

/** Streams a byte range of the logical message (MailStore.openMessage bound to one message). */
export type OpenRange = (range: ByteRange) => Readable;

/** Where a section's octets come from. */
export type SectionSource =
  | { kind: "range"; range: ByteRange }
  | { kind: "header-fields"; range: ByteRange; names: string[]; not: boolean }
  | { kind: "empty" };

/** RFC 3516 §4.3: the part's Content-Transfer-Encoding is not one the server can decode. */
export class UnknownCteError extends Error {
  override readonly name = "UnknownCteError";
  constructor(readonly encoding: string) {
    super(`cannot decode Content-Transfer-Encoding ${encoding}`);
  }
}

const EMPTY: SectionSource = { kind: "empty" };
const headerOf = (part: MimePart): ByteRange => ({ start: part.headerStart, end: part.headerEnd });
const bodyOf = (part: MimePart): ByteRange => ({ start: part.bodyStart, end: part.bodyEnd });

/**
 * The octets a section names. `messageSize` is RFC822.SIZE (the root part ends there).
 * HEADER, HEADER.FIELDS and TEXT apply to a message: the whole message, or a message/rfc822
 * part's encapsulated message (RFC 9051 §6.4.5); MIME is the part's own MIME header.
 */
export function locateSection(root: MimePart, messageSize: number, section: Section): SectionSource {
  const { text } = section;
  let message: MimePart | null = root;
  if (section.part.length > 0) {
    const part = findPart(root, section.part.join("."));
    if (part === null) return EMPTY;
    if (text.kind === "all") return { kind: "range", range: bodyOf(part) };
    if (text.kind === "mime") return { kind: "range", range: headerOf(part) };
    // A part numbered inside a single-part message resolves to that message's root, which is a
    // message only when it is itself message/rfc822 (then its encapsulated message is meant).
    message = part.encapsulated?.root ?? null;
  }
  if (message === null) return EMPTY;
  switch (text.kind) {
    case "all":
      return { kind: "range", range: { start: 0, end: messageSize } };
    case "header":
      return { kind: "range", range: headerOf(message) };
    case "text":
      return { kind: "range", range: bodyOf(message) };
    case "header-fields":
      return { kind: "header-fields", range: headerOf(message), names: text.names, not: text.not };
    case "mime":
      return EMPTY;
  }
}

/** The part BINARY[part] decodes, or null when it does not exist. [] is the whole message, undecoded. */
export function locateBinary(root: MimePart, messageSize: number, part: number[]): { range: ByteRange; encoding: string } | null {
  if (part.length === 0) return { range: { start: 0, end: messageSize }, encoding: "binary" };
  const found = findPart(root, part.join("."));
  if (found === null) return null;
  return { range: bodyOf(found), encoding: found.contentTransferEncoding };
}

/** Passes on `length` octets starting at `start` of what it is given, then discards the rest. */
export class SliceTransform extends Transform {
  private position = 0;
  constructor(
    private readonly start: number,
    private readonly length: number,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const from = Math.max(0, this.start - this.position);
    const to = Math.min(chunk.length, this.start + this.length - this.position);
    this.position += chunk.length;
    callback(null, to > from ? chunk.subarray(from, to) : undefined);
  }
}

/** The octet a NUL becomes in a non-BINARY FETCH (see the comment at the top). */
const NUL_REPLACEMENT = 0x80;

/** `bytes` with every NUL replaced by NUL_REPLACEMENT; the same buffer when it holds none. */
export function withoutNul(bytes: Buffer): Buffer {
  if (!bytes.includes(0)) return bytes;
  const copy = Buffer.from(bytes);
  for (let at = copy.indexOf(0); at >= 0; at = copy.indexOf(0, at + 1)) copy[at] = NUL_REPLACEMENT;
  return copy;
}

/** Replaces NUL octets one for one (sizes unchanged), for literals that must not carry NUL. */
export class NulReplaceTransform extends Transform {
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    callback(null, withoutNul(chunk));
  }
}

/** A stream through transforms; an error anywhere destroys the returned (last) stream with it. */
function through(source: Readable, transforms: Transform[]): Readable {
  if (transforms.length === 0) return source;
  return pipeline([source, ...transforms], () => undefined) as unknown as Readable;
}

/** Decoded output kept in memory instead of being produced twice, up to this many octets. */
const KEEP_MEASURED = 64 * 1024;

export interface Measured {
  size: number;
  /** RFC 3516 §4.2: literal8 is needed when the octets include NUL. */
  hasNul: boolean;
  /** The octets themselves when at most KEEP_MEASURED. */
  bytes: Buffer | null;
}

/** One pass over a transformed stream: its size, whether it holds NUL, and the bytes if small. */
export async function measure(stream: Readable): Promise<Measured> {
  let size = 0;
  let hasNul = false;
  let kept: Buffer[] | null = [];
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (!hasNul && chunk.includes(0)) hasNul = true;
    if (kept !== null && size <= KEEP_MEASURED) kept.push(chunk);
    else kept = null;
  }
  return { size, hasNul, bytes: kept === null ? null : Buffer.concat(kept, size) };
}

/** The window a partial selects of `size` octets: [from, to). */
function window(size: number, partial: Partial | null): { from: number; to: number } {
  if (partial === null) return { from: 0, to: size };
  const from = Math.min(partial.start, size);
  return { from, to: Math.min(size, from + partial.length) };
}

/**
 * The value of a transformed source: measured first (the literal's size must precede it),
 * then kept or re-streamed; `binary` marks literal8.
 */
async function transformedValue(open: () => Readable, partial: Partial | null, allowBinary: boolean): Promise<ImapValue> {
  const measured = await measure(open());
  const { from, to } = window(measured.size, partial);
  if (to <= from) return str("");
  const binary = allowBinary && measured.hasNul;
  if (measured.bytes !== null) {
    const bytes = measured.bytes.subarray(from, to);
    return binary ? { kind: "literal", size: bytes.length, bytes, binary } : literal(withoutNul(bytes));
  }
  const slice = partial === null ? [] : [new SliceTransform(from, to - from)];
  const reopen = (): Readable => through(open(), binary || !measured.hasNul ? slice : [...slice, new NulReplaceTransform()]);
  return streamedLiteral(to - from, reopen, binary);
}

/**
 * A plain byte range as a literal. Without keepNul (every BODY and RFC822 form) NUL becomes 0x80;
 * with it (BINARY) the octets are sent as stored and the caller picks literal8.
 */
function rangeValue(sourceRange: ByteRange, partial: Partial | null, open: OpenRange, whole: Buffer | null, keepNul: boolean): ImapValue {
  const size = Math.max(0, sourceRange.end - sourceRange.start);
  const { from, to } = window(size, partial);
  if (to <= from) return str("");
  const range = { start: sourceRange.start + from, end: sourceRange.start + to };
  if (whole !== null && range.end <= whole.length) {
    const bytes = whole.subarray(range.start, range.end);
    return literal(keepNul ? bytes : withoutNul(bytes));
  }
  return streamedLiteral(to - from, keepNul ? () => open(range) : () => through(open(range), [new NulReplaceTransform()]));
}

/**
 * BODY[section]<partial>: a literal of the section's octets, or "" when there are none. `whole` is
 * the logical message when it was read ahead (small messages, MailStore.readMessages): a plain
 * range is then a slice of it, written with the batch's other responses instead of streamed.
 */
export async function sectionValue(source: SectionSource, partial: Partial | null, open: OpenRange, whole: Buffer | null = null): Promise<ImapValue> {
  switch (source.kind) {
    case "empty":
      return str("");
    case "range":
      return rangeValue(source.range, partial, open, whole, false);
    case "header-fields": {
      // RFC 9051 §6.4.5: a partial of HEADER.FIELDS is taken after subsetting.
      const { range, names, not } = source;
      return transformedValue(() => through(open(range), [new HeaderFieldFilter(names, not)]), partial, false);
    }
  }
}

const IDENTITY = ["7bit", "8bit", "binary"];

/** BINARY[part]<partial>: the decoded content; throws UnknownCteError (RFC 3516 §4.3). */
export async function binaryValue(root: MimePart, messageSize: number, part: number[], partial: Partial | null, open: OpenRange, whole: Buffer | null = null): Promise<ImapValue> {
  const located = locateBinary(root, messageSize, part);
  if (located === null) return str("");
  const { range, encoding } = located;
  if (IDENTITY.includes(encoding)) {
    // Nothing to decode: the size is known. Only "binary" content should hold NUL (RFC 2045
    // §2.8), but a 7bit or 8bit part may hold one anyway: literal8 wherever a NUL is or may be
    // (a streamed range is not scanned ahead; literal8 is always valid for BINARY, RFC 3516 §4.2).
    const value = rangeValue(range, partial, open, whole, true);
    if (value.kind !== "literal") return value;
    const mayHoldNul = encoding === "binary" || typeof value.bytes === "function" || value.bytes.includes(0);
    return mayHoldNul ? { ...value, binary: true } : value;
  }
  if (!isKnownEncoding(encoding)) throw new UnknownCteError(encoding);
  const decoder = (): Transform => createDecoder(encoding) ?? new PassThrough();
  return transformedValue(() => through(open(range), [decoder()]), partial, true);
}

/** BINARY.SIZE[part]: octets of the decoded content (RFC 3516 §4.2), by decoding it once. */
export async function binarySize(root: MimePart, messageSize: number, part: number[], open: OpenRange): Promise<number> {
  const located = locateBinary(root, messageSize, part);
  if (located === null) return 0;
  const { range, encoding } = located;
  if (IDENTITY.includes(encoding)) return Math.max(0, range.end - range.start);
  const decoder = createDecoder(encoding);
  if (decoder === null) throw new UnknownCteError(encoding);
  let size = 0;
  for await (const chunk of through(open(range), [decoder]) as AsyncIterable<Buffer>) size += chunk.length;
  return size;
}
