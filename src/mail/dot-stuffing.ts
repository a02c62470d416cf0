// Dot-stuffing (RFC 5321 §4.5.2) for SMTP DATA and POP3 multi-line responses (RFC 1939 §3), in both
// directions, sans-IO. The receiving side ends a body ONLY on <CRLF>.<CRLF>: a server that also
// accepts <LF>.<LF> or <CR>.<CR> can be made to see a second message inside the first one when a
// relay in front of it does not (SMTP smuggling, CVE-2023-51764/51765/51766). Bare CR and bare LF
// are therefore never line ends here; they pass through as body octets and are reported so the
// session can refuse the message. The body is never buffered: output is slices of the input.

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;
const CR_BYTE = Buffer.from([CR]);
const CRLF_BYTES = Buffer.from([CR, LF]);
const DOT_BYTE = Buffer.from([DOT]);
const END_MARKER = Buffer.from(".\r\n");

// RFC 5321 §4.5.3.1.6: a text line is at most 1000 octets including the CRLF.
export const MAX_TEXT_LINE_OCTETS = 998;

export interface DotUnstufferOptions {
  /** Body octets (after unstuffing, excluding the terminator) beyond which output stops. */
  readonly maxOctets: number;
  /** Longest line content in octets before `longLine` is reported. */
  readonly maxLineOctets?: number;
}

export interface UnstuffSummary {
  /** Unstuffed body octets seen, including any past the maximum. */
  readonly octets: number;
  /** The body exceeded `maxOctets`; output stopped there (RFC 1870 §6.3: answer 552 5.3.4). */
  readonly overflow: boolean;
  /** A CR not followed by LF, or an LF not preceded by CR, occurred in the body. */
  readonly bareLineEnding: boolean;
  /** Some line exceeded the line limit (RFC 5321 §4.5.3.1.6). */
  readonly longLine: boolean;
  readonly longestLine: number;
}

export type UnstuffStep =
  | { readonly done: false; readonly body: readonly Buffer[] }
  | { readonly done: true; readonly body: readonly Buffer[]; readonly rest: Buffer; readonly summary: UnstuffSummary };

// Where the scanner is relative to the end marker <CRLF>.<CRLF>.
const enum Scan {
  LineStart, // just after CRLF (or at the start of the body)
  MidLine,
  MidLineCr, // a CR inside a line; it has been output already
  Dot, // a "." at line start; it is never output
  DotCr, // ".\r" at line start; the CR is held until we know whether LF follows
}

/** Incremental DATA-body decoder: push chunks, get body slices, stop at <CRLF>.<CRLF>. */
export class DotUnstuffer {
  readonly #maxOctets: number;
  readonly #maxLineOctets: number;
  #scan: Scan = Scan.LineStart;
  #octets = 0;
  #lineOctets = 0;
  #longestLine = 0;
  #bareLineEnding = false;
  #finished = false;

  constructor(options: DotUnstufferOptions) {
    this.#maxOctets = options.maxOctets;
    this.#maxLineOctets = options.maxLineOctets ?? MAX_TEXT_LINE_OCTETS;
  }

  get finished(): boolean {
    return this.#finished;
  }

  summary(): UnstuffSummary {
    return {
      octets: this.#octets,
      overflow: this.#octets > this.#maxOctets,
      bareLineEnding: this.#bareLineEnding,
      longLine: this.#longestLine > this.#maxLineOctets,
      longestLine: this.#longestLine,
    };
  }

  /** Consumes one chunk. After `done`, `rest` holds the bytes of the next command (pipelining). */
  push(chunk: Buffer): UnstuffStep {
    if (this.#finished) throw new Error("DotUnstuffer.push after the end of data");
    const body: Buffer[] = [];
    let segmentStart = 0;
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i]!;
      switch (this.#scan) {
        case Scan.LineStart:
          if (byte === DOT) {
            // RFC 5321 §4.5.2: the first "." of a line is removed, whatever follows.
            this.#emit(body, chunk.subarray(segmentStart, i));
            segmentStart = i + 1;
            this.#scan = Scan.Dot;
            continue;
          }
          break;
        case Scan.Dot:
          if (byte === CR) {
            this.#scan = Scan.DotCr;
            // The CR is held: cut the segment here so it is not output with this chunk.
            this.#emit(body, chunk.subarray(segmentStart, i));
            segmentStart = i + 1;
            continue;
          }
          break;
        case Scan.DotCr:
          if (byte === LF) {
            // Dot and CR were cut from the output already, so nothing of the marker leaks out.
            this.#finished = true;
            return { done: true, body, rest: chunk.subarray(i + 1), summary: this.summary() };
          }
          // ".\r" + other: the held CR was a bare CR, so it is body content after all. It was cut
          // from the output (possibly in the previous chunk), so it is emitted on its own here.
          this.#emit(body, CR_BYTE);
          segmentStart = i;
          this.#bareLineEnding = true;
          this.#scan = Scan.MidLine;
          this.#countLineOctet();
          break;
        case Scan.MidLineCr:
          if (byte === LF) {
            this.#scan = Scan.LineStart;
            this.#endLine();
            continue;
          }
          this.#bareLineEnding = true;
          this.#scan = Scan.MidLine;
          this.#countLineOctet();
          break;
        case Scan.MidLine:
          break;
      }
      // Here byte is ordinary content of a line (scan is LineStart, Dot or MidLine).
      if (byte === CR) {
        this.#scan = Scan.MidLineCr;
      } else if (byte === LF) {
        // A bare LF: never a line end, so a following "." is not at line start either.
        this.#bareLineEnding = true;
        this.#scan = Scan.MidLine;
        this.#countLineOctet();
      } else {
        this.#scan = Scan.MidLine;
        this.#countLineOctet();
      }
    }
    this.#emit(body, chunk.subarray(segmentStart));
    return { done: false, body };
  }

  #countLineOctet(): void {
    this.#lineOctets++;
    if (this.#lineOctets > this.#longestLine) this.#longestLine = this.#lineOctets;
  }

  #endLine(): void {
    this.#lineOctets = 0;
  }

  // Output stops at the maximum; counting continues so the summary can say how much arrived.
  #emit(body: Buffer[], segment: Buffer): void {
    if (segment.length === 0) return;
    const room = this.#maxOctets - this.#octets;
    this.#octets += segment.length;
    if (room <= 0) return;
    body.push(segment.length <= room ? segment : segment.subarray(0, room));
  }
}

/**
 * Incremental encoder for the sending side: doubles a leading "." (RFC 5321 §4.5.2), turns bare LF
 * and bare CR into CRLF so no receiver can read a different line structure than we meant, and
 * ends with ".\r\n" after a final CRLF.
 */
export class DotStuffer {
  #atLineStart = true;
  #pendingCr = false;
  #empty = true;

  push(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let segmentStart = 0;
    let i = 0;
    if (chunk.length > 0) this.#empty = false;
    if (this.#pendingCr) {
      // The previous chunk ended in CR: complete it as CRLF either way.
      this.#pendingCr = false;
      out.push(CRLF_BYTES);
      this.#atLineStart = true;
      if (chunk[0] === LF) {
        i = 1;
        segmentStart = 1;
      }
    }
    for (; i < chunk.length; i++) {
      const byte = chunk[i]!;
      if (byte === CR) {
        if (i + 1 === chunk.length) {
          out.push(chunk.subarray(segmentStart, i));
          segmentStart = i + 1;
          this.#pendingCr = true;
          continue;
        }
        if (chunk[i + 1] === LF) {
          i++;
        } else {
          out.push(chunk.subarray(segmentStart, i), CRLF_BYTES);
          segmentStart = i + 1;
        }
        this.#atLineStart = true;
        continue;
      }
      if (byte === LF) {
        out.push(chunk.subarray(segmentStart, i), CRLF_BYTES);
        segmentStart = i + 1;
        this.#atLineStart = true;
        continue;
      }
      if (this.#atLineStart && byte === DOT) {
        out.push(chunk.subarray(segmentStart, i), DOT_BYTE);
        segmentStart = i;
      }
      this.#atLineStart = false;
    }
    out.push(chunk.subarray(segmentStart));
    return out.filter((part) => part.length > 0);
  }

  /** The closing bytes: CRLF if the last line is unterminated, then ".\r\n". */
  end(): Buffer {
    if (this.#pendingCr) return Buffer.concat([CRLF_BYTES, END_MARKER]);
    if (this.#empty || this.#atLineStart) return END_MARKER;
    return Buffer.concat([CRLF_BYTES, END_MARKER]);
  }
}

/** Dot-stuffs a byte source, e.g. a blob stream for POP3 RETR or the outbound SMTP DATA. */
export async function* dotStuff(source: AsyncIterable<Buffer | string> | Iterable<Buffer | string>): AsyncGenerator<Buffer> {
  const stuffer = new DotStuffer();
  for await (const piece of source) {
    const chunk = typeof piece === "string" ? Buffer.from(piece, "utf8") : piece;
    for (const part of stuffer.push(chunk)) yield part;
  }
  yield stuffer.end();
}
