// Content-Transfer-Encoding decoders for FETCH BINARY (RFC 3516 §4.2), as streaming transforms:
// a part is decoded as it is read from the blob, never held whole. Memory is bounded by one
// base64 quantum, or by one quoted-printable line (capped, see below).
//
// RFC 3516 §4.3: an encoding the server cannot decode is answered NO [UNKNOWN-CTE]; that is
// what a null from createDecoder() means.

import { PassThrough, Transform, type TransformCallback } from "node:stream";

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HTAB = 0x09;
const EQUALS = 0x3d;

/** RFC 2045 §6.8 alphabet → 6-bit value, -1 for anything else. */
const BASE64_VALUES = (() => {
  const table = new Int8Array(256).fill(-1);
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (let i = 0; i < alphabet.length; i++) table[alphabet.charCodeAt(i)] = i;
  return table;
})();

/**
 * RFC 2045 §6.8: characters outside the alphabet (line breaks, stray spaces) are ignored; "="
 * ends a quantum early. Decoding resumes after padding, so that concatenated encodings (a known
 * habit of some mailers) decode to the concatenation.
 */
export class Base64Decoder extends Transform {
  private quantum = 0;
  private count = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const out = Buffer.allocUnsafe(Math.ceil((chunk.length * 3) / 4) + 3);
    let length = 0;
    for (const byte of chunk) {
      const value = BASE64_VALUES[byte] ?? -1;
      if (value >= 0) {
        this.quantum = (this.quantum << 6) | value;
        if (++this.count === 4) {
          out[length++] = (this.quantum >> 16) & 0xff;
          out[length++] = (this.quantum >> 8) & 0xff;
          out[length++] = this.quantum & 0xff;
          this.quantum = 0;
          this.count = 0;
        }
      } else if (byte === EQUALS) length = this.endQuantum(out, length);
    }
    callback(null, length === 0 ? undefined : out.subarray(0, length));
  }

  override _flush(callback: TransformCallback): void {
    const out = Buffer.alloc(3);
    const length = this.endQuantum(out, 0);
    callback(null, length === 0 ? undefined : out.subarray(0, length));
  }

  /** Writes the octets of a partial quantum (2 or 3 characters give 1 or 2 octets). */
  private endQuantum(out: Buffer, at: number): number {
    let length = at;
    if (this.count === 2) out[length++] = (this.quantum >> 4) & 0xff;
    else if (this.count === 3) {
      out[length++] = (this.quantum >> 10) & 0xff;
      out[length++] = (this.quantum >> 2) & 0xff;
    }
    this.quantum = 0;
    this.count = 0;
    return length;
  }
}

const hexValue = (byte: number): number => {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  if (byte >= 0x41 && byte <= 0x46) return byte - 0x41 + 10;
  if (byte >= 0x61 && byte <= 0x66) return byte - 0x61 + 10;
  return -1;
};

/** Longest line kept whole; past it, the line is decoded in pieces (its trailing spaces may stay). */
const MAX_QP_LINE = 64 * 1024;

/**
 * RFC 2045 §6.7 quoted-printable: "=XX" is an octet, "=" at the end of a line is a soft line break,
 * and trailing whitespace on a line is removed (rule 3: added by transport). Hard line breaks are
 * kept as written (CRLF, or a bare LF). A malformed "=" sequence is kept as it is, as the RFC's
 * robustness note recommends.
 */
export class QuotedPrintableDecoder extends Transform {
  private line: Buffer[] = [];
  private lineLength = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const pieces: Buffer[] = [];
    let at = 0;
    while (at < chunk.length) {
      const lf = chunk.indexOf(LF, at);
      if (lf === -1) {
        this.line.push(chunk.subarray(at));
        this.lineLength += chunk.length - at;
        if (this.lineLength > MAX_QP_LINE) pieces.push(this.decodePieceOfLongLine());
        break;
      }
      this.line.push(chunk.subarray(at, lf + 1));
      pieces.push(decodeLine(Buffer.concat(this.line)));
      this.line = [];
      this.lineLength = 0;
      at = lf + 1;
    }
    const out = Buffer.concat(pieces);
    callback(null, out.length === 0 ? undefined : out);
  }

  override _flush(callback: TransformCallback): void {
    const out = decodeLine(Buffer.concat(this.line));
    this.line = [];
    callback(null, out.length === 0 ? undefined : out);
  }

  /** Decodes all of a long unfinished line but its last octets, which may hold "=X" or spaces. */
  private decodePieceOfLongLine(): Buffer {
    const line = Buffer.concat(this.line);
    // An "=" among the last two octets may start an escape whose hex digits are still to come.
    let cut = line.length;
    for (const at of [line.length - 1, line.length - 2]) if (at >= 0 && line[at] === EQUALS) cut = at;
    while (cut > 0 && (line[cut - 1] === SP || line[cut - 1] === HTAB || line[cut - 1] === EQUALS)) cut--;
    if (cut <= 0) return Buffer.alloc(0);
    this.line = [line.subarray(cut)];
    this.lineLength = line.length - cut;
    return decodeText(line.subarray(0, cut));
  }
}

/** One line, with its line end if it has one. */
function decodeLine(line: Buffer): Buffer {
  let end = line.length;
  let eol: Buffer | null = null;
  if (end > 0 && line[end - 1] === LF) {
    const crlf = end > 1 && line[end - 2] === CR;
    eol = crlf ? Buffer.from([CR, LF]) : Buffer.from([LF]);
    end -= crlf ? 2 : 1;
  }
  while (end > 0 && (line[end - 1] === SP || line[end - 1] === HTAB)) end--;
  // A soft line break: the "=" and the line end are removed.
  if (end > 0 && line[end - 1] === EQUALS) return decodeText(line.subarray(0, end - 1));
  const text = decodeText(line.subarray(0, end));
  return eol === null ? text : Buffer.concat([text, eol]);
}

function decodeText(text: Buffer): Buffer {
  const out = Buffer.allocUnsafe(text.length);
  let length = 0;
  for (let i = 0; i < text.length; i++) {
    const byte = text[i] ?? 0;
    if (byte === EQUALS && i + 2 < text.length && hexValue(text[i + 1] ?? 0) >= 0 && hexValue(text[i + 2] ?? 0) >= 0) {
      out[length++] = hexValue(text[i + 1] ?? 0) * 16 + hexValue(text[i + 2] ?? 0);
      i += 2;
    } else out[length++] = byte;
  }
  return out.subarray(0, length);
}

/** The decoder for a (lower-cased) Content-Transfer-Encoding, or null when it is unknown. */
export function createDecoder(encoding: string): Transform | null {
  switch (encoding.toLowerCase()) {
    case "7bit":
    case "8bit":
    case "binary":
      return new PassThrough();
    case "base64":
      return new Base64Decoder();
    case "quoted-printable":
      return new QuotedPrintableDecoder();
    default:
      return null;
  }
}

/** Whether BINARY can decode this encoding (RFC 3516 §4.3). */
export const isKnownEncoding = (encoding: string): boolean =>
  ["7bit", "8bit", "binary", "base64", "quoted-printable"].includes(encoding.toLowerCase());
