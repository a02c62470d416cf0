// The text IMAP SEARCH looks in, collected while the MIME tree is built: decoded header values and
// the decoded bodies of text/* parts, capped in UTF-8 octets. Streaming and bounded: a body is
// decoded block by block (transfer encoding, then charset, then rough HTML tag removal).
//
// Invariant: the output depends only on the bytes, never on how they were chunked. Body bytes
// are re-cut into fixed-size blocks counted from the start of the body before any stateful decoder
// sees them, so every decoder gets the same sequence of calls whatever the input chunking.

import iconv from "iconv-lite";

/** Bytes handed to the decoders at once; the only unit the decoders ever see. */
const DECODE_BLOCK = 8192;

/** Accumulates search text up to a cap of UTF-8 octets; what passes the cap is dropped. */
export class SearchTextCollector {
  private readonly pieces: string[] = [];
  private used = 0;
  private chars = 0;

  constructor(private readonly maxBytes: number) {}

  get full(): boolean {
    return this.used >= this.maxBytes;
  }

  append(text: string): void {
    if (text === "" || this.full) return;
    const bytes = Buffer.byteLength(text, "utf8");
    if (this.used + bytes <= this.maxBytes) {
      this.pieces.push(text);
      this.used += bytes;
      this.chars += text.length;
      return;
    }
    // Cut on a character boundary: the UTF-8 decoder drops a split trailing sequence as U+FFFD,
    // which is then removed.
    const room = this.maxBytes - this.used;
    const cut = Buffer.from(text, "utf8").subarray(0, room).toString("utf8").replace(/\uFFFD$/, "");
    this.pieces.push(cut);
    this.chars += cut.length;
    this.used = this.maxBytes;
  }

  /** Starts a new field or part, so words from two sources never run together. */
  separate(): void {
    if (this.pieces.length > 0 && !this.full) this.append("\n");
  }

  /** UTF-16 units collected so far: where text() would be cut to keep only what came before. */
  get length(): number {
    return this.chars;
  }

  text(): string {
    return this.pieces.join("");
  }
}

/** RFC 2045 §6.8: base64 decoding across block ends; characters outside the alphabet are ignored. */
class Base64Decoder {
  private carry = "";
  write(block: Buffer): Buffer {
    const clean = this.carry + block.toString("latin1").replace(/[^A-Za-z0-9+/]/g, "");
    const usable = clean.length - (clean.length % 4);
    this.carry = clean.slice(usable);
    return Buffer.from(clean.slice(0, usable), "base64");
  }
  end(): Buffer {
    const rest = Buffer.from(this.carry, "base64");
    this.carry = "";
    return rest;
  }
}

/** RFC 2045 §6.7: quoted-printable, with "=" soft line breaks; a malformed "=" is kept literally. */
class QuotedPrintableDecoder {
  private carry = "";
  write(block: Buffer): Buffer {
    let text = this.carry + block.toString("latin1");
    // Keep a possibly incomplete escape ("=", "=A", "=\r") for the next block.
    const tail = /=(?:[0-9A-Fa-f]?|\r)$/.exec(text);
    this.carry = tail ? tail[0] : "";
    if (tail) text = text.slice(0, tail.index);
    return this.decode(text);
  }
  end(): Buffer {
    const rest = this.decode(this.carry.replace(/^=\r?$/, ""));
    this.carry = "";
    return rest;
  }
  private decode(text: string): Buffer {
    const replaced = text.replace(/=(?:\r?\n|([0-9A-Fa-f]{2}))/g, (_m, hex: string | undefined) =>
      hex === undefined ? "" : String.fromCharCode(parseInt(hex, 16)),
    );
    return Buffer.from(replaced, "latin1");
  }
}

/** Removes HTML tags and decodes the few entities that matter for matching words. */
class HtmlTextFilter {
  private inTag = false;
  write(text: string): string {
    let out = "";
    let start = 0;
    for (let i = 0; i < text.length; i++) {
      const ch = text[i];
      if (!this.inTag && ch === "<") {
        out += text.slice(start, i) + " ";
        this.inTag = true;
      } else if (this.inTag && ch === ">") {
        this.inTag = false;
        start = i + 1;
      }
    }
    if (!this.inTag) out += text.slice(start);
    return out
      .replace(/&nbsp;/gi, " ")
      .replace(/&lt;/gi, "<")
      .replace(/&gt;/gi, ">")
      .replace(/&quot;/gi, '"')
      .replace(/&#(\d{1,7});/g, (_m, code: string) => String.fromCodePoint(Math.min(Number(code), 0x10ffff)))
      .replace(/&amp;/gi, "&");
  }
}

function charsetDecoder(charset: string): iconv.DecoderStream {
  const name = charset.trim().toLowerCase();
  // us-ascii bodies very often carry UTF-8 in practice; UTF-8 is a superset, so read them as such.
  const usable = name !== "" && name !== "us-ascii" && iconv.encodingExists(name) ? name : "utf-8";
  return iconv.getDecoder(usable);
}

/** Decodes one text/* body into a collector; fed raw body bytes in any chunking. */
export class BodyTextExtractor {
  private readonly pending: Buffer[] = [];
  private pendingLength = 0;
  private readonly transfer: Base64Decoder | QuotedPrintableDecoder | null;
  private readonly charset: iconv.DecoderStream;
  private readonly html: HtmlTextFilter | null;

  constructor(
    private readonly collector: SearchTextCollector,
    transferEncoding: string,
    charset: string,
    isHtml: boolean,
  ) {
    this.transfer =
      transferEncoding === "base64" ? new Base64Decoder() : transferEncoding === "quoted-printable" ? new QuotedPrintableDecoder() : null;
    this.charset = charsetDecoder(charset);
    this.html = isHtml ? new HtmlTextFilter() : null;
    collector.separate();
  }

  write(bytes: Buffer): void {
    if (this.collector.full || bytes.length === 0) return;
    this.pending.push(Buffer.from(bytes));
    this.pendingLength += bytes.length;
    if (this.pendingLength < DECODE_BLOCK) return;
    const all = Buffer.concat(this.pending);
    const whole = all.length - (all.length % DECODE_BLOCK);
    for (let at = 0; at < whole; at += DECODE_BLOCK) this.decodeBlock(all.subarray(at, at + DECODE_BLOCK));
    this.pending.length = 0;
    this.pendingLength = all.length - whole;
    if (this.pendingLength > 0) this.pending.push(all.subarray(whole));
  }

  end(): void {
    if (this.collector.full) return;
    if (this.pendingLength > 0) this.decodeBlock(Buffer.concat(this.pending));
    this.pending.length = 0;
    this.pendingLength = 0;
    const rest = this.transfer === null ? Buffer.alloc(0) : this.transfer.end();
    this.emit(this.charset.write(rest) + (this.charset.end() ?? ""));
  }

  private decodeBlock(block: Buffer): void {
    const decoded = this.transfer === null ? block : this.transfer.write(block);
    this.emit(this.charset.write(decoded));
  }

  private emit(text: string): void {
    this.collector.append(this.html === null ? text : this.html.write(text));
  }
}
