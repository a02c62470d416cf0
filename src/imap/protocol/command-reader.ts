// Sans-IO framing of IMAP client input (RFC 9051 §2.2, §4.3, §7.5; RFC 7888 LITERAL+; RFC 3516
// literal8): bytes go in with push(), complete commands come out of next() as CommandText (text
// lines plus their literals), with "continue" events where a synchronising literal needs a `+`.
// It knows quoting and parentheses only as far as framing needs: a literal marker counts only
// at the end of a line and outside a quoted string, and list nesting is bounded.
//
// Memory is bounded: all text lines of one command together stay within maxLineLength, all its
// literals within maxLiteralSize. Refusals (each reported once, as a "refused" event):
// - a line over the limit: BAD, the rest of it dropped as it arrives;
// - a synchronising literal over the limit: NO [TOOBIG] at once, before any of its octets
//   (RFC 7889 §4, RFC 7888 §4); the client never got `+`, so the connection carries on;
// - a non-synchronising literal over the limit: its octets are on their way and cannot be told
//   apart from commands, so the session must end (close: true), as RFC 7888 §4 allows;
// - lists nested deeper than maxListDepth: BAD.
//
// Streamed literals (APPEND's message data, ARCHITECTURE §5.9): where the streamLiteral predicate
// says so, a literal is not collected. The reader emits "literal-start" with the command so far,
// then its octets as "literal-data" events as they arrive, and the command continues after it;
// the finished command holds a placeholder piece (`streamed: n`) where the literal was. Each
// streamed literal is bounded by maxLiteralSize on its own and counts nothing toward the
// in-memory total. The session either accepts the literal (sends `+` if it is synchronising)
// or refuses it with abandonCommand().
import type { CommandText, LiteralPiece } from "./arguments.js";

export interface CommandReaderLimits {
  /** All text of one command (literals excluded), CRLFs included. config: imap_line_length. */
  readonly maxLineLength: number;
  /** All literal octets of one command. config: imap_literal_size (APPENDLIMIT). */
  readonly maxLiteralSize: number;
  readonly maxListDepth?: number;
  /**
   * Whether the literal whose marker ends the command's lines so far (its index-th literal) is
   * streamed instead of collected. Default: none is.
   */
  readonly streamLiteral?: (lines: readonly Buffer[], index: number) => boolean;
  /**
   * A tighter bound than maxLiteralSize for a collected literal (one that is a short string, such
   * as a CATENATE URL, where the command also takes large streamed literals). Default: none.
   */
  readonly literalLimit?: (lines: readonly Buffer[], index: number) => number | undefined;
}

export type ReaderEvent =
  | { kind: "command"; text: CommandText }
  /** A synchronising literal was announced and accepted: send `+ <text>` (RFC 9051 §7.5). */
  | { kind: "continue" }
  /** A streamed literal begins; text is the command up to its marker (RFC 9051 §4.3). */
  | { kind: "literal-start"; text: CommandText; size: number; binary: boolean; synchronising: boolean }
  /** Octets of the streamed literal, in order; remaining counts what is still to come. */
  | { kind: "literal-data"; chunk: Buffer; remaining: number }
  /** A raw line asked for with expectLine() (AUTHENTICATE responses, IDLE's DONE). */
  | { kind: "line"; line: Buffer }
  | { kind: "refused"; tag: string | null; status: "BAD" | "NO"; code: string | null; text: string; close: boolean };

const LF = 0x0a;
const CR = 0x0d;
const LITERAL_MARKER = /(~?)\{(\d{1,20})(\+?)\}$/;
/** push() joins chunks while together they stay below this many octets. */
const COALESCE_BELOW = 256;

interface PendingCommand {
  lines: Buffer[];
  literals: LiteralPiece[];
  textBytes: number;
  literalBytes: number;
  streamedCount: number;
  /** Whether the last streamed literal was synchronising (abandonCommand needs it). */
  streamedSynchronising: boolean;
  depth: number;
  /** Refused already: its remaining lines and literals are read and dropped. */
  dropping: boolean;
}

interface PendingLiteral {
  remaining: number;
  size: number;
  binary: boolean;
  chunks: Buffer[];
  /** Ordinal among the command's streamed literals, or null for a collected literal. */
  streamed: number | null;
  synchronising: boolean;
}

export class CommandReader {
  private readonly chunks: Buffer[] = [];
  private buffered = 0;
  /**
   * Leading buffered octets already searched for LF without finding one. A line trickling in one
   * octet per read (found by the fuzz campaign: 16 KB in 1-octet chunks took 2 s) would
   * otherwise be searched from its start on every read, quadratic in its length.
   */
  private scanned = 0;
  private command: PendingCommand | null = null;
  private literal: PendingLiteral | null = null;
  private overflowing = false;
  private wantLine = false;
  private readonly maxListDepth: number;

  constructor(private readonly limits: CommandReaderLimits) {
    this.maxListDepth = limits.maxListDepth ?? 16;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    // Small reads join the last small chunk, so a trickled line is a few chunks, not one per read.
    const last = this.chunks[this.chunks.length - 1];
    if (last !== undefined && last.length + chunk.length <= COALESCE_BELOW) this.chunks[this.chunks.length - 1] = Buffer.concat([last, chunk]);
    else this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  /** True while part of a command (or literal) has arrived but not all of it. */
  get midCommand(): boolean {
    return this.command !== null || this.literal !== null || this.buffered > 0;
  }

  /** The next line is returned raw, as a "line" event, instead of being read as a command. */
  expectLine(): void {
    this.wantLine = true;
  }

  /** RFC 9051 §6.2.1: input pipelined after STARTTLS is dropped unread. Returns the octets dropped. */
  discardBuffered(): number {
    const dropped = this.buffered;
    this.chunks.length = 0;
    this.buffered = 0;
    this.scanned = 0;
    this.command = null;
    this.literal = null;
    this.overflowing = false;
    return dropped;
  }

  /** The next event, or null when more input is needed. */
  next(): ReaderEvent | null {
    for (;;) {
      if (this.literal !== null && this.literal.streamed !== null) return this.streamedData();
      if (this.literal !== null) {
        if (!this.fillLiteral()) return null;
        continue;
      }
      const lineFeed = this.findLineFeed();
      if (this.overflowing) {
        if (lineFeed < 0) {
          this.drop(this.buffered);
          return null;
        }
        this.drop(lineFeed + 1);
        this.overflowing = false;
        continue;
      }
      const allowance = this.limits.maxLineLength - (this.command?.textBytes ?? 0);
      if (lineFeed < 0 ? this.buffered > allowance : lineFeed + 1 > allowance) {
        const refusal = this.lineTooLong(lineFeed);
        if (refusal !== null) return refusal;
        continue;
      }
      if (lineFeed < 0) return null;
      const raw = this.take(lineFeed + 1);
      const line = raw.subarray(0, raw.length - (raw.length >= 2 && raw[raw.length - 2] === CR ? 2 : 1));
      if (this.wantLine && this.command === null) {
        this.wantLine = false;
        return { kind: "line", line };
      }
      const event = this.commandLine(line, raw.length);
      if (event !== null) return event;
    }
  }

  /** Drops the line (and the command it belongs to); null if that command was refused already. */
  private lineTooLong(lineFeed: number): ReaderEvent | null {
    const tag = this.command !== null ? tagOf(this.command.lines[0]) : tagOf(this.peek(Math.min(this.buffered, 64)));
    const dropping = this.command?.dropping ?? false;
    this.command = null;
    this.wantLine = false;
    if (lineFeed < 0) {
      this.drop(this.buffered);
      this.overflowing = true;
    } else this.drop(lineFeed + 1);
    if (dropping) return null;
    return { kind: "refused", tag, status: "BAD", code: null, text: "command line too long", close: false };
  }

  /** One text line of a command: the last one completes it, one ending in a literal marker waits for octets. */
  private commandLine(line: Buffer, octets: number): ReaderEvent | null {
    const command: PendingCommand = (this.command ??= { lines: [], literals: [], textBytes: 0, literalBytes: 0, streamedCount: 0, streamedSynchronising: false, depth: 0, dropping: false });
    command.textBytes += octets;
    if (!command.dropping) command.lines.push(line);
    const scan = scanLine(line, command.depth);
    command.depth = scan.depth;
    let refusal: ReaderEvent | null = null;
    if (!command.dropping && scan.maxDepth > this.maxListDepth) refusal = this.refuse(command, "BAD", null, "lists nested too deeply");
    const marker = scan.inQuote ? null : LITERAL_MARKER.exec(line.toString("latin1", Math.max(0, line.length - 24)));
    if (marker === null) {
      this.command = null;
      if (command.dropping) return refusal;
      return { kind: "command", text: { lines: command.lines, literals: command.literals } };
    }
    const size = Number(marker[2]);
    const synchronising = marker[3] !== "+";
    const streamed = refusal === null && !command.dropping && this.limits.streamLiteral?.(command.lines, command.literals.length) === true;
    const own = streamed || command.dropping ? undefined : this.limits.literalLimit?.(command.lines, command.literals.length);
    const overOwn = own !== undefined && size > own;
    if (overOwn || size + (streamed ? 0 : command.literalBytes) > this.limits.maxLiteralSize) {
      const what = overOwn ? `larger than ${own} octets, the most this argument takes` : "larger than the APPENDLIMIT";
      if (synchronising) {
        // RFC 7889 §4 / RFC 9051 §7.1: refused before a byte of it is sent; the connection survives.
        this.command = null;
        return command.dropping ? refusal : { kind: "refused", tag: tagOf(command.lines[0]), status: "NO", code: "TOOBIG", text: `literal is ${what}`, close: false };
      }
      this.command = null;
      return { kind: "refused", tag: tagOf(command.lines[0]), status: "NO", code: "TOOBIG", text: `non-synchronising literal is ${what}`, close: true };
    }
    const binary = marker[1] === "~";
    if (streamed) return this.startStreamed(command, size, binary, synchronising);
    command.literalBytes += size;
    this.literal = { remaining: size, size, binary, chunks: [], streamed: null, synchronising };
    if (refusal !== null) return refusal;
    // A dropped command's synchronising literal is never invited: the client already has its BAD.
    if (command.dropping) {
      if (synchronising) {
        this.literal = null;
        this.command = null;
      }
      return null;
    }
    return synchronising ? { kind: "continue" } : null;
  }

  private startStreamed(command: PendingCommand, size: number, binary: boolean, synchronising: boolean): ReaderEvent {
    const text = { lines: [...command.lines], literals: [...command.literals] };
    command.streamedSynchronising = synchronising;
    this.literal = { remaining: size, size, binary, chunks: [], streamed: command.streamedCount++, synchronising };
    if (size === 0) this.endStreamed();
    return { kind: "literal-start", text, size, binary, synchronising };
  }

  /** The next buffered octets of the streamed literal, or null until more arrive. */
  private streamedData(): ReaderEvent | null {
    const literal = this.literal as PendingLiteral;
    if (this.buffered === 0) return null;
    const first = this.chunks[0] as Buffer;
    const chunk = first.length <= literal.remaining ? first : first.subarray(0, literal.remaining);
    this.drop(chunk.length);
    literal.remaining -= chunk.length;
    if (literal.remaining === 0) this.endStreamed();
    return { kind: "literal-data", chunk, remaining: literal.remaining };
  }

  private endStreamed(): void {
    const literal = this.literal as PendingLiteral;
    this.literal = null;
    this.command?.literals.push({ size: literal.size, chunks: [], binary: literal.binary, streamed: literal.streamed ?? 0 });
  }

  /**
   * The session refused the streamed literal just started (a tagged NO or BAD is on its way).
   * A synchronising literal will never come (the client got no `+`); a non-synchronising one
   * is on its way and is read and dropped with the rest of its command.
   */
  abandonCommand(): void {
    const literal = this.literal;
    const command = this.command;
    if (command === null) return;
    if (command.streamedSynchronising) {
      this.literal = null;
      this.command = null;
      return;
    }
    if (literal !== null) literal.streamed = null;
    command.dropping = true;
    command.lines = [];
    command.literals = [];
  }

  private refuse(command: PendingCommand, status: "BAD" | "NO", code: string | null, text: string): ReaderEvent {
    const tag = tagOf(command.lines[0]);
    command.dropping = true;
    command.lines = [];
    command.literals = [];
    return { kind: "refused", tag, status, code, text, close: false };
  }

  /** Moves buffered octets into the pending literal; true once it is complete. */
  private fillLiteral(): boolean {
    const literal = this.literal as PendingLiteral;
    while (literal.remaining > 0 && this.buffered > 0) {
      const chunk = this.chunks[0] as Buffer;
      const size = Math.min(chunk.length, literal.remaining);
      literal.chunks.push(chunk.subarray(0, size));
      literal.remaining -= size;
      this.drop(size);
    }
    if (literal.remaining > 0) return false;
    this.literal = null;
    const command = this.command;
    if (command !== null && !command.dropping) command.literals.push({ size: literal.size, chunks: literal.chunks, binary: literal.binary });
    return true;
  }

  private findLineFeed(): number {
    let offset = 0;
    for (const chunk of this.chunks) {
      if (offset + chunk.length > this.scanned) {
        const at = chunk.indexOf(LF, Math.max(0, this.scanned - offset));
        if (at >= 0) return offset + at;
      }
      offset += chunk.length;
    }
    this.scanned = this.buffered;
    return -1;
  }

  private peek(n: number): Buffer {
    return Buffer.concat(this.chunks).subarray(0, n);
  }

  private take(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.chunks[0] as Buffer;
      const size = Math.min(chunk.length, n - filled);
      chunk.copy(out, filled, 0, size);
      filled += size;
      this.drop(size);
    }
    return out;
  }

  private drop(n: number): void {
    this.scanned = Math.max(0, this.scanned - n);
    let left = n;
    while (left > 0) {
      const chunk = this.chunks[0] as Buffer;
      if (chunk.length <= left) {
        this.chunks.shift();
        left -= chunk.length;
        this.buffered -= chunk.length;
      } else {
        this.chunks[0] = chunk.subarray(left);
        this.buffered -= left;
        left = 0;
      }
    }
  }
}

/** Quote state and paren depth of one line; quoted strings never span lines (RFC 9051 §4.3). */
function scanLine(line: Buffer, startDepth: number): { depth: number; maxDepth: number; inQuote: boolean } {
  let depth = startDepth;
  let maxDepth = depth;
  let inQuote = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (inQuote) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inQuote = false;
    } else if (c === 0x22) inQuote = true;
    else if (c === 0x28) maxDepth = Math.max(maxDepth, ++depth);
    else if (c === 0x29) depth = Math.max(0, depth - 1);
  }
  return { depth, maxDepth, inQuote };
}

/** The tag of a command's first line if it looks like one (for BAD replies), else null (`* BAD`). */
function tagOf(line: Buffer | undefined): string | null {
  if (line === undefined) return null;
  const space = line.indexOf(0x20);
  const tag = line.toString("latin1", 0, space < 0 ? Math.min(line.length, 64) : Math.min(space, 64));
  return /^[\x21\x23\x24\x26\x27\x2c-\x5b\x5d-\x7a\x7c-\x7e]+$/.test(tag) && !tag.includes("+") ? tag : null;
}
