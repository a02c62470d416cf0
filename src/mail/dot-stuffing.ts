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

/**
 * Finds the next CR or LF of one chunk with Buffer.indexOf (native, vectorised) instead of a
 * per-octet loop: ordinary line content needs no decision, only line ends and line starts do.
 * Both positions are remembered, so a chunk is searched once however many lines it holds (a
 * chunk of bare CRs without an LF costs one LF search, not one per CR).
 */
class LineBreakFinder {
  #cr = -2;
  #lf = -2;
  constructor(private readonly chunk: Buffer) {}

  /** Index of the first CR or LF at or after `from`, or the chunk's length. */
  next(from: number): number {
    if (this.#cr !== -1 && this.#cr < from) this.#cr = this.chunk.indexOf(CR, from);
    if (this.#lf !== -1 && this.#lf < from) this.#lf = this.chunk.indexOf(LF, from);
    const cr = this.#cr === -1 ? this.chunk.length : this.#cr;
    const lf = this.#lf === -1 ? this.chunk.length : this.#lf;
    return cr < lf ? cr : lf;
  }
}

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

// What one byte does to the output.
const enum Step {
  Keep, // part of the current output segment
  Cut, // dropped: end the segment before it
  ReleaseCr, // output the held CR, then this byte starts a new segment
  End, // completes <CRLF>.<CRLF>
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
    const breaks = new LineBreakFinder(chunk);
    for (let i = 0; i < chunk.length; i++) {
      if (this.#scan === Scan.MidLine) {
        // Up to the next CR or LF every octet is line content: counted, kept, no state change.
        const stop = breaks.next(i);
        if (stop > i) {
          this.#countLineOctets(stop - i);
          i = stop;
          if (i >= chunk.length) break;
        }
      }
      switch (this.#advance(chunk[i]!)) {
        case Step.Keep:
          break;
        case Step.Cut:
          this.#emit(body, chunk.subarray(segmentStart, i));
          segmentStart = i + 1;
          break;
        case Step.ReleaseCr:
          // The held CR (cut from the output, possibly in the previous chunk) precedes byte i.
          this.#emit(body, chunk.subarray(segmentStart, i));
          this.#emit(body, CR_BYTE);
          segmentStart = i;
          break;
        case Step.End:
          // The dot and CR were cut already, so nothing of the marker reaches the output.
          this.#finished = true;
          return { done: true, body, rest: chunk.subarray(i + 1), summary: this.summary() };
      }
    }
    this.#emit(body, chunk.subarray(segmentStart));
    return { done: false, body };
  }

  /** Moves the scanner over one byte and says what happens to the output. */
  #advance(byte: number): Step {
    let step = Step.Keep;
    switch (this.#scan) {
      case Scan.LineStart:
        if (byte === DOT) {
          // RFC 5321 §4.5.2: the first "." of a line is removed, whatever follows.
          this.#scan = Scan.Dot;
          return Step.Cut;
        }
        break;
      case Scan.Dot:
        if (byte === CR) {
          // Held: output only if it turns out not to be part of the end marker.
          this.#scan = Scan.DotCr;
          return Step.Cut;
        }
        break;
      case Scan.DotCr:
        if (byte === LF) return Step.End;
        // ".\r" + other: the held CR was a bare CR, so it is body content after all.
        this.#bareLineEnding = true;
        this.#countLineOctet();
        step = Step.ReleaseCr;
        break;
      case Scan.MidLineCr:
        if (byte === LF) {
          this.#scan = Scan.LineStart;
          this.#lineOctets = 0;
          return Step.Keep;
        }
        this.#bareLineEnding = true;
        this.#countLineOctet();
        break;
      case Scan.MidLine:
        break;
    }
    // Here the byte is ordinary line content.
    if (byte === CR) {
      this.#scan = Scan.MidLineCr;
      return step;
    }
    // A bare LF is never a line end, so a "." after it is not at line start either.
    if (byte === LF) this.#bareLineEnding = true;
    this.#scan = Scan.MidLine;
    this.#countLineOctet();
    return step;
  }

  #countLineOctet(): void {
    this.#lineOctets++;
    if (this.#lineOctets > this.#longestLine) this.#longestLine = this.#lineOctets;
  }

  #countLineOctets(count: number): void {
    this.#lineOctets += count;
    if (this.#lineOctets > this.#longestLine) this.#longestLine = this.#lineOctets;
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
    const breaks = new LineBreakFinder(chunk);
    for (; i < chunk.length; i++) {
      if (!this.#atLineStart) {
        // Inside a line only a CR or LF needs a decision (LineBreakFinder).
        i = breaks.next(i);
        if (i >= chunk.length) break;
      }
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
