// The ManageSieve client grammar (RFC 5804 §4): a line of atoms, numbers and strings, where a
// string is quoted ("..." with \" and \\ escapes, at most managesieve.max_quoted_bytes octets) or a
// literal ({n+} CRLF n octets; the synchronizing {n} is read the same way, since RFC 5804 defines
// no continuation response a client could wait for). Only the framing lives here: which command
// takes which arguments is the session's business (commands/).
//
// Bounds: the bytes of a line outside its literals (managesieve.line_length) and each literal
// (managesieve.max_literal_bytes). A literal over its bound is read past without being kept, and
// the line is reported as an error with QUOTA/MAXSIZE (RFC 5804 §2.6, the PUTSCRIPT answer to a
// script that is too large), so a hostile {4294967295+} costs no memory.

export type Token =
  | { readonly kind: "atom"; readonly text: string }
  | { readonly kind: "number"; readonly value: number }
  | { readonly kind: "string"; readonly bytes: Buffer; readonly literal: boolean };

export type ReadItem =
  | { readonly kind: "line"; readonly tokens: readonly Token[] }
  | { readonly kind: "error"; readonly message: string; readonly code: "QUOTA/MAXSIZE" | null };

export interface ReaderLimits {
  readonly lineLength: number;
  readonly maxQuotedBytes: number;
  readonly maxLiteralBytes: number;
}

/** RFC 5804 §4: number = 1*DIGIT, a 32-bit unsigned number. */
const MAX_NUMBER = 4_294_967_295;
const LITERAL_HEADER = /^\{([0-9]{1,20})(\+?)\}\r?\n/;

type Scan = { kind: "need-more" } | { kind: "item"; item: ReadItem; end: number } | { kind: "bad-line"; message: string } | { kind: "oversized-literal"; size: number; bodyStart: number };

export class CommandReader {
  #buffer: Buffer = Buffer.alloc(0);
  /** Octets of an oversized literal still to be read past. */
  #discarding = 0;
  /** Skip everything up to the next line feed (the rest of a refused line). */
  #skippingLine = false;
  /** The error to report once the refused line has been read past. */
  #pending: ReadItem | null = null;

  constructor(private limits: ReaderLimits) {}

  setLimits(limits: ReaderLimits): void {
    this.limits = limits;
  }

  push(chunk: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
  }

  /** Octets received but not yet framed (for STARTTLS: what was pipelined in plaintext). */
  discardBuffered(): number {
    const n = this.#buffer.length;
    this.#buffer = Buffer.alloc(0);
    this.#discarding = 0;
    this.#skippingLine = false;
    this.#pending = null;
    return n;
  }

  /** True while a command has begun arriving but is not complete. */
  get partial(): boolean {
    return this.#buffer.length > 0 || this.#discarding > 0 || this.#skippingLine;
  }

  /** The next complete line or error, or null until more bytes arrive. */
  next(): ReadItem | null {
    for (;;) {
      if (this.#discarding > 0) {
        const n = Math.min(this.#discarding, this.#buffer.length);
        this.#buffer = this.#buffer.subarray(n);
        this.#discarding -= n;
        if (this.#discarding > 0) return null;
        this.#skippingLine = true;
      }
      if (this.#skippingLine) {
        const lf = this.#buffer.indexOf(0x0a);
        if (lf < 0) {
          this.#buffer = Buffer.alloc(0);
          return null;
        }
        this.#buffer = this.#buffer.subarray(lf + 1);
        this.#skippingLine = false;
        const pending = this.#pending;
        this.#pending = null;
        if (pending) return pending;
        continue;
      }
      if (this.#buffer.length === 0) return null;
      const scan = scanLine(this.#buffer, this.limits);
      switch (scan.kind) {
        case "need-more":
          return null;
        case "item":
          this.#buffer = this.#buffer.subarray(scan.end);
          return scan.item;
        case "bad-line":
          this.#skippingLine = true;
          this.#pending = { kind: "error", message: scan.message, code: null };
          continue;
        case "oversized-literal":
          this.#buffer = this.#buffer.subarray(scan.bodyStart);
          this.#discarding = scan.size;
          this.#pending = { kind: "error", message: `literal of ${scan.size} octets is larger than the limit of ${this.limits.maxLiteralBytes}`, code: "QUOTA/MAXSIZE" };
          if (this.#discarding === 0) this.#skippingLine = true;
          continue;
      }
    }
  }
}

/** Frames one line from the start of `b`. */
function scanLine(b: Buffer, limits: ReaderLimits): Scan {
  const tokens: Token[] = [];
  let at = 0;
  let outside = 0;
  // The bytes outside literals seen so far; past the limit the line is refused whatever follows.
  const tooLong = (): Scan | null => (outside > limits.lineLength ? { kind: "bad-line", message: `line longer than ${limits.lineLength} octets` } : null);
  for (;;) {
    const before = at;
    while (at < b.length && (b[at] === 0x20 || b[at] === 0x09)) {
      at++;
      outside++;
    }
    const over = tooLong();
    if (over) return over;
    if (at >= b.length) return { kind: "need-more" };
    const c = b[at]!;
    if (c === 0x0a || (c === 0x0d && b[at + 1] === 0x0a)) return { kind: "item", item: { kind: "line", tokens }, end: at + (c === 0x0a ? 1 : 2) };
    if (c === 0x0d) {
      if (at + 1 >= b.length) return { kind: "need-more" };
      return { kind: "bad-line", message: "bare CR in a command line" };
    }
    // RFC 5804 §4: arguments are separated by SP (after a literal, by SP after its data).
    if (tokens.length > 0 && at === before) return { kind: "bad-line", message: "expected a space between arguments" };
    if (c === 0x22) {
      // RFC 5804 §4: quoted = DQUOTE *QUOTED-CHAR DQUOTE; QUOTED-CHAR excludes CR, LF, and
      // allows "\" only before DQUOTE or "\".
      const bytes: number[] = [];
      let i = at + 1;
      for (;;) {
        if (i >= b.length) {
          outside += i - at;
          return tooLong() ?? { kind: "need-more" };
        }
        const q = b[i]!;
        if (q === 0x22) break;
        if (q === 0x0d || q === 0x0a || q === 0x00) return { kind: "bad-line", message: "line break or NUL inside a quoted string" };
        if (q === 0x5c) {
          if (i + 1 >= b.length) {
            outside += i - at;
            return tooLong() ?? { kind: "need-more" };
          }
          const e = b[i + 1]!;
          if (e !== 0x22 && e !== 0x5c) return { kind: "bad-line", message: 'only \\" and \\\\ may be escaped in a quoted string' };
          bytes.push(e);
          i += 2;
        } else {
          bytes.push(q);
          i++;
        }
        if (bytes.length > limits.maxQuotedBytes) return { kind: "bad-line", message: `quoted string longer than ${limits.maxQuotedBytes} octets; send a literal` };
      }
      outside += i + 1 - at;
      tokens.push({ kind: "string", bytes: Buffer.from(bytes), literal: false });
      at = i + 1;
      continue;
    }
    if (c === 0x7b) {
      const head = b.subarray(at, Math.min(b.length, at + 26)).toString("latin1");
      const m = LITERAL_HEADER.exec(head);
      if (!m) {
        if (/^\{[0-9]{0,20}\+?\}?\r?$/.test(head) && head.length < 26) return { kind: "need-more" };
        return { kind: "bad-line", message: "malformed literal: expected {n+} or {n} then CRLF" };
      }
      const size = Number(m[1]);
      const bodyStart = at + m[0].length;
      outside += m[0].length;
      if (!Number.isSafeInteger(size) || size > limits.maxLiteralBytes) return { kind: "oversized-literal", size: Number.isSafeInteger(size) ? size : Number.MAX_SAFE_INTEGER, bodyStart };
      if (b.length < bodyStart + size) return { kind: "need-more" };
      tokens.push({ kind: "string", bytes: Buffer.from(b.subarray(bodyStart, bodyStart + size)), literal: true });
      at = bodyStart + size;
      continue;
    }
    // An atom or a number: up to the next space or line end.
    let i = at;
    while (i < b.length && b[i] !== 0x20 && b[i] !== 0x09 && b[i] !== 0x0d && b[i] !== 0x0a) i++;
    outside += i - at;
    if (i >= b.length) return tooLong() ?? { kind: "need-more" };
    const text = b.subarray(at, i).toString("latin1");
    if (/^[0-9]+$/.test(text)) {
      const value = Number(text);
      if (text.length > 10 || value > MAX_NUMBER) return { kind: "bad-line", message: "number larger than 4294967295" };
      tokens.push({ kind: "number", value });
    } else if (/^[A-Za-z][A-Za-z0-9_-]*$/.test(text)) tokens.push({ kind: "atom", text });
    else return { kind: "bad-line", message: `unexpected ${JSON.stringify(text.slice(0, 40))}` };
    at = i;
  }
}
