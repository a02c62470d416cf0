// Sans-IO framing of a byte stream into lines with a maximum length, with a counted-bytes mode for
// IMAP literals ({n}) and SMTP BDAT chunks. It knows bytes, not commands: the protocol pulls one item
// at a time with next(), so it can switch to counted bytes right after the line that announced them.
//
// Memory is bounded by the line limit: a line that grows past it is reported once as an overflow and
// the rest of it is dropped as it arrives, up to the next LF. Each line says whether it ended in CRLF
// or a bare LF, because SMTP must refuse bare LF in DATA (the "SMTP smuggling" defence, RFC 5321 §2.3.8).

const LF = 0x0a;
const CR = 0x0d;

export type LineEnding = "crlf" | "lf";

export type FramedInput =
  /** A complete line without its line end. */
  | { kind: "line"; line: Buffer; ending: LineEnding }
  /** A line longer than the limit (line end included) was dropped. */
  | { kind: "overflow"; limit: number }
  /** Raw bytes of a counted read; remaining is 0 on the last chunk, after which lines resume. */
  | { kind: "bytes"; chunk: Buffer; remaining: number };

export interface LineReaderOptions {
  /** Longest accepted line in octets, line end included (the way the RFCs count). */
  maxLineLength: number;
}

export class LineReader {
  private maxLineLength: number;
  private readonly chunks: Buffer[] = [];
  /** Index of the first chunk still holding unread bytes, and the offset of the first unread byte. */
  private headChunk = 0;
  private headOffset = 0;
  private total = 0;
  /** Bytes from the head already known to hold no LF, and where that scan stopped. */
  private scanned = 0;
  private scanChunk = 0;
  private scanOffset = 0;
  private discarding = false;
  private counted = 0;

  constructor(options: LineReaderOptions) {
    this.maxLineLength = checkedLength(options.maxLineLength);
  }

  /** SMTP uses one limit for command lines and a larger one for text lines inside DATA. */
  setMaxLineLength(maxLineLength: number): void {
    this.maxLineLength = checkedLength(maxLineLength);
  }

  /** Bytes received and not yet taken; a caller may stop reading the socket while this is large. */
  get buffered(): number {
    return this.total;
  }

  /** True while a counted read has bytes left to deliver. */
  get readingBytes(): boolean {
    return this.counted > 0;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.total += chunk.length;
  }

  /** The next item, or null when more input is needed. */
  next(): FramedInput | null {
    if (this.counted > 0) return this.nextCountedChunk();
    for (;;) {
      const lineFeed = this.findLineFeed();
      if (this.discarding) {
        if (lineFeed < 0) {
          this.drop(this.total);
          return null;
        }
        this.drop(lineFeed + 1);
        this.discarding = false;
        continue;
      }
      if (lineFeed < 0) {
        if (this.total < this.maxLineLength) return null;
        // No line end can arrive within the limit any more: report now, drop the rest as it comes.
        this.drop(this.total);
        this.discarding = true;
        return { kind: "overflow", limit: this.maxLineLength };
      }
      if (lineFeed + 1 > this.maxLineLength) {
        this.drop(lineFeed + 1);
        return { kind: "overflow", limit: this.maxLineLength };
      }
      const bytes = this.take(lineFeed + 1);
      const crlf = bytes.length >= 2 && bytes[bytes.length - 2] === CR;
      return { kind: "line", line: bytes.subarray(0, bytes.length - (crlf ? 2 : 1)), ending: crlf ? "crlf" : "lf" };
    }
  }

  /** Every item available now, in order; stops early if the caller switches mode in between. */
  *items(): Generator<FramedInput, void, undefined> {
    for (let item = this.next(); item !== null; item = this.next()) yield item;
  }

  /** Switches to counted mode: the next n bytes come out as raw chunks, whatever they contain. */
  readBytes(n: number): void {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`readBytes: invalid count ${n}`);
    if (this.counted > 0) throw new Error("readBytes: a counted read is already in progress");
    this.counted = n;
    this.discarding = false;
  }

  /**
   * Drops everything buffered and returns to line mode; returns how many bytes were dropped.
   * RFC 3207 §4.2 / RFC 9051 §6.2.1: input pipelined after STARTTLS arrived in plaintext and must
   * not be read as if it came over TLS (the STARTTLS command injection attack, CVE-2011-0411).
   */
  discardBuffered(): number {
    const dropped = this.total;
    this.chunks.length = 0;
    this.headChunk = 0;
    this.headOffset = 0;
    this.total = 0;
    this.counted = 0;
    this.discarding = false;
    this.resetScan();
    return dropped;
  }

  private nextCountedChunk(): FramedInput | null {
    const chunk = this.chunks[this.headChunk];
    if (chunk === undefined) return null;
    const size = Math.min(chunk.length - this.headOffset, this.counted);
    const piece = chunk.subarray(this.headOffset, this.headOffset + size);
    this.advance(size);
    this.counted -= size;
    return { kind: "bytes", chunk: piece, remaining: this.counted };
  }

  /** Offset of the next LF from the head, or -1; resumes where the previous scan stopped. */
  private findLineFeed(): number {
    while (this.scanChunk < this.chunks.length) {
      const chunk = this.chunks[this.scanChunk] as Buffer;
      const at = chunk.indexOf(LF, this.scanOffset);
      if (at >= 0) return this.scanned + (at - this.scanOffset);
      this.scanned += chunk.length - this.scanOffset;
      this.scanChunk++;
      this.scanOffset = 0;
    }
    return -1;
  }

  /** Copies n bytes from the head into one buffer (each byte is copied once). */
  private take(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.chunks[this.headChunk] as Buffer;
      const size = Math.min(chunk.length - this.headOffset, n - filled);
      chunk.copy(out, filled, this.headOffset, this.headOffset + size);
      filled += size;
      this.advance(size);
    }
    return out;
  }

  private drop(n: number): void {
    let left = n;
    while (left > 0) {
      const chunk = this.chunks[this.headChunk] as Buffer;
      const size = Math.min(chunk.length - this.headOffset, left);
      left -= size;
      this.advance(size);
    }
  }

  /** Moves the head forward within the current chunk (n never crosses its end). */
  private advance(n: number): void {
    this.headOffset += n;
    this.total -= n;
    const chunk = this.chunks[this.headChunk];
    if (chunk !== undefined && this.headOffset >= chunk.length) {
      this.headChunk++;
      this.headOffset = 0;
      // Compact now and then so the array does not grow with a long run of small chunks.
      if (this.headChunk >= 64 || this.headChunk === this.chunks.length) {
        this.chunks.splice(0, this.headChunk);
        this.headChunk = 0;
      }
    }
    this.resetScan();
  }

  private resetScan(): void {
    this.scanned = 0;
    this.scanChunk = this.headChunk;
    this.scanOffset = this.headOffset;
  }
}

function checkedLength(length: number): number {
  if (!Number.isSafeInteger(length) || length < 2) throw new RangeError(`maxLineLength must be an integer of at least 2, got ${length}`);
  return length;
}
