// A cursor over one complete IMAP command (its line and its literals, all received), with typed
// readers named after the RFC 9051 §9 ABNF productions. Commands parse with it and never see raw
// bytes (ARCHITECTURE §5.1): `parse: (args) => ({ set: args.sequenceSet(), target: args.mailbox() })`.
//
// Shape of the input: a command with n literals is n+1 text lines; line i (i < n) ends with the
// literal marker (`{5}`, `{5+}` or `~{5}`) whose octets are literals[i]. A reader that meets a
// marker at the end of its line takes the literal and continues at the start of line i+1.
//
// Every reader either consumes exactly its production or throws ImapParseError (BAD; NO [CANNOT]
// for mailbox names that are well-formed strings but unusable). Char-level helpers (peekChar,
// takeChar, takeKeyword, takeWhile, listStart...) are for grammars with punctuation, such as
// FETCH's `BODY.PEEK[HEADER.FIELDS (From To)]<0.100>`.
import { ImapParseError } from "./parse-error.js";
import { checkMailboxName, checkNewMailboxName, decodeMailboxName } from "./mailbox-name.js";
import { parseSequenceSet, type SequenceSet } from "./sequence-set.js";

/** One literal's octets as received (kept in chunks; APPEND hands them to the store as they are). */
export interface LiteralPiece {
  readonly size: number;
  readonly chunks: readonly Buffer[];
  /** literal8 (`~{n}`, RFC 3516): may contain NUL. */
  readonly binary: boolean;
  /**
   * Set when the octets were streamed past the reader (command-reader.ts) instead of kept: the
   * ordinal among the command's streamed literals, by which the session finds where they went.
   */
  readonly streamed?: number;
}

export interface CommandText {
  /** lines.length === literals.length + 1; no line holds its CRLF. */
  readonly lines: readonly Buffer[];
  readonly literals: readonly LiteralPiece[];
}

export interface ArgumentOptions {
  /** IMAP4rev2 or UTF8=ACCEPT enabled: mailbox names are UTF-8, not modified UTF-7 (RFC 9051 §5.1). */
  readonly utf8Names: boolean;
  /** Deepest parenthesised list a reader accepts (listStart); deeper is BAD. Default 16. */
  readonly maxListDepth?: number;
}

/** RFC 5322-ish month names of RFC 9051 date-month. */
const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];

/** RFC 9051 §9 atom-specials: "(" / ")" / "{" / SP / CTL / list-wildcards / quoted-specials / resp-specials. */
const isAtomChar = (c: number): boolean =>
  c > 0x20 && c < 0x7f && c !== 0x28 && c !== 0x29 && c !== 0x7b && c !== 0x25 && c !== 0x2a && c !== 0x22 && c !== 0x5c && c !== 0x5d;
/** ASTRING-CHAR = ATOM-CHAR / resp-specials ("]"). */
const isAstringChar = (c: number): boolean => isAtomChar(c) || c === 0x5d;
/** list-char = ATOM-CHAR / list-wildcards / resp-specials. */
const isListChar = (c: number): boolean => isAstringChar(c) || c === 0x25 || c === 0x2a;
/** Characters that may continue a keyword such as BODY.PEEK: its end is anything else. */
const isKeywordChar = (c: number): boolean => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x2e || c === 0x2d || c === 0x5f;

const CANONICAL_SYSTEM_FLAGS = new Map(["\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"].map((f) => [f.toLowerCase(), f]));

const MAX_NUMBER = 0xffffffff;
/** RFC 7162 §7: mod-sequence-value = 1*DIGIT ; < 2^63. */
const MAX_NUMBER64 = (1n << 63n) - 1n;

export class ArgumentReader {
  private line = 0;
  private pos = 0;
  private depth = 0;
  private readonly maxDepth: number;

  constructor(
    private readonly text: CommandText,
    readonly options: ArgumentOptions,
  ) {
    if (text.lines.length !== text.literals.length + 1) throw new Error("ArgumentReader: lines and literals do not match");
    this.maxDepth = options.maxListDepth ?? 16;
  }

  /** A reader over a single line without literals (tests, AUTHENTICATE responses). */
  static ofLine(line: string | Buffer, options: ArgumentOptions = { utf8Names: false }): ArgumentReader {
    return new ArgumentReader({ lines: [typeof line === "string" ? Buffer.from(line, "utf8") : line], literals: [] }, options);
  }

  // --- low level -------------------------------------------------------------------------

  private get current(): Buffer {
    return this.text.lines[this.line] as Buffer;
  }

  private byteAt(offset = 0): number | undefined {
    return this.current[this.pos + offset];
  }

  /** The next character of the current line, or null at its end (before a literal or the command end). */
  peekChar(): string | null {
    const c = this.byteAt();
    return c === undefined ? null : String.fromCharCode(c);
  }

  /** Whether `text` (ASCII, case-insensitive) comes next on the current line; nothing is consumed. */
  peekAhead(text: string): boolean {
    const line = this.current;
    return line.toString("latin1", this.pos, this.pos + text.length).toUpperCase() === text.toUpperCase();
  }

  /** Consumes `c` if it is next; case-sensitive. */
  takeChar(c: string): boolean {
    if (this.byteAt() !== c.charCodeAt(0)) return false;
    this.pos++;
    return true;
  }

  /** Consumes `c` or throws BAD. */
  expectChar(c: string): void {
    if (!this.takeChar(c)) throw this.error(`expected "${c}"`);
  }

  /**
   * Consumes `word` (ASCII, case-insensitive) if it is next and is not followed by a letter,
   * digit, ".", "-" or "_": takeKeyword("BODY") does not match "BODY.PEEK[", but does match "BODY[".
   */
  takeKeyword(word: string): boolean {
    const line = this.current;
    if (this.pos + word.length > line.length) return false;
    const candidate = line.toString("latin1", this.pos, this.pos + word.length);
    if (candidate.toUpperCase() !== word.toUpperCase()) return false;
    const after = line[this.pos + word.length];
    if (after !== undefined && isKeywordChar(after) && isKeywordChar(word.charCodeAt(word.length - 1))) return false;
    this.pos += word.length;
    return true;
  }

  /** Consumes the longest run of characters matching `re` (tested one character at a time). */
  takeWhile(re: RegExp): string {
    const start = this.pos;
    const line = this.current;
    while (this.pos < line.length && re.test(String.fromCharCode(line[this.pos] as number))) this.pos++;
    return line.toString("latin1", start, this.pos);
  }

  /** Exactly one SP (RFC 9051 never allows more). */
  space(): void {
    if (!this.takeChar(" ")) throw this.error("expected a space");
  }

  /** True when the whole command has been consumed. */
  atEnd(): boolean {
    return this.line === this.text.lines.length - 1 && this.pos >= this.current.length;
  }

  /** Throws BAD unless the whole command has been consumed. */
  end(): void {
    if (!this.atEnd()) throw this.error("unexpected extra arguments");
  }

  /** True if the next character opens a parenthesised list. */
  peekListStart(): boolean {
    return this.byteAt() === 0x28;
  }

  peekListEnd(): boolean {
    return this.byteAt() === 0x29;
  }

  /** Consumes "(" and counts the nesting; past maxListDepth it is BAD. */
  listStart(): void {
    this.expectChar("(");
    this.depth++;
    if (this.depth > this.maxDepth) throw this.error("lists nested too deeply");
  }

  listEnd(): void {
    this.expectChar(")");
    this.depth = Math.max(0, this.depth - 1);
  }

  /** Reads `( item *(SP item) )`; `allowEmpty` accepts `()`. */
  list<T>(item: () => T, allowEmpty = true): T[] {
    this.listStart();
    const items: T[] = [];
    if (this.peekListEnd()) {
      if (!allowEmpty) throw this.error("empty list");
    } else {
      items.push(item());
      while (this.takeChar(" ")) items.push(item());
    }
    this.listEnd();
    return items;
  }

  // --- RFC 9051 §9 productions -------------------------------------------------------------

  /** tag = 1*<any ASTRING-CHAR except "+"> */
  tag(): string {
    const start = this.pos;
    while (this.pos < this.current.length && isAstringChar(this.current[this.pos] as number) && this.current[this.pos] !== 0x2b) this.pos++;
    if (this.pos === start) throw this.error("missing or invalid tag");
    return this.current.toString("latin1", start, this.pos);
  }

  /** atom = 1*ATOM-CHAR */
  atom(): string {
    const start = this.pos;
    while (this.pos < this.current.length && isAtomChar(this.current[this.pos] as number)) this.pos++;
    if (this.pos === start) throw this.error("expected an atom");
    return this.current.toString("latin1", start, this.pos);
  }

  /** string = quoted / literal; the octets as received. literal8 is accepted only with allowBinary. */
  string(allowBinary = false): Buffer {
    const c = this.byteAt();
    if (c === 0x22) return this.quoted();
    if (c === 0x7b || c === 0x7e) {
      const piece = this.literalPiece(allowBinary);
      if (piece.streamed !== undefined) throw this.error("a message literal is not allowed here");
      return Buffer.concat(piece.chunks as Buffer[]);
    }
    throw this.error("expected a string");
  }

  /** True if a literal (`{` or `~{`) starts here. */
  peekLiteral(): boolean {
    const c = this.byteAt();
    return c === 0x7b || (c === 0x7e && this.byteAt(1) === 0x7b);
  }

  /**
   * A literal as received, in chunks, for message data (APPEND): never concatenated here.
   * RFC 3516 §4.2: literal8 (`~{n}`) only where allowBinary.
   */
  literalPiece(allowBinary = false): LiteralPiece {
    const line = this.current;
    const rest = line.toString("latin1", this.pos);
    const marker = /^(~?)\{(\d+)(\+?)\}$/.exec(rest);
    if (marker === null) throw this.error("malformed literal");
    const piece = this.text.literals[this.line];
    if (piece === undefined) throw this.error("malformed literal");
    if (marker[1] === "~" && !allowBinary) throw this.error("literal8 is not allowed here");
    this.line++;
    this.pos = 0;
    return piece;
  }

  /** quoted = DQUOTE *QUOTED-CHAR DQUOTE, with `\"` and `\\` escapes; no CR, LF or NUL. */
  private quoted(): Buffer {
    this.expectChar('"');
    const out: number[] = [];
    const line = this.current;
    for (;;) {
      const c = line[this.pos];
      if (c === undefined) throw this.error("unterminated quoted string");
      this.pos++;
      if (c === 0x22) return Buffer.from(out);
      if (c === 0x5c) {
        const escaped = line[this.pos];
        if (escaped !== 0x22 && escaped !== 0x5c) throw this.error("invalid escape in quoted string");
        out.push(escaped);
        this.pos++;
      } else if (c === 0x00 || c === 0x0d || c === 0x0a) throw this.error("invalid character in quoted string");
      else out.push(c);
    }
  }

  /** astring = 1*ASTRING-CHAR / string, as octets. */
  astringBytes(): Buffer {
    const c = this.byteAt();
    if (c === 0x22 || c === 0x7b) return this.string();
    const start = this.pos;
    while (this.pos < this.current.length && isAstringChar(this.current[this.pos] as number)) this.pos++;
    if (this.pos === start) throw this.error("expected an astring");
    return this.current.subarray(start, this.pos);
  }

  /** astring decoded as UTF-8 (RFC 9051 §4.3: strings are UTF-8 in IMAP4rev2). */
  astring(): string {
    return this.astringBytes().toString("utf8");
  }

  /** nstring = string / NIL */
  nstring(): Buffer | null {
    if (this.takeKeyword("NIL")) return null;
    return this.string();
  }

  /** number = 1*DIGIT, below 2^32. */
  number(): number {
    const digits = this.takeWhile(/[0-9]/);
    if (digits.length === 0) throw this.error("expected a number");
    if (digits.length > 10 || Number(digits) > MAX_NUMBER) throw this.error("number out of range");
    return Number(digits);
  }

  /** nz-number = digit-nz *DIGIT */
  nzNumber(): number {
    const n = this.number();
    if (n === 0) throw this.error("expected a non-zero number");
    return n;
  }

  /** number64 / mod-sequence-value (RFC 9051 §9, RFC 7162 §7): below 2^63, as a bigint. */
  number64(): bigint {
    const digits = this.takeWhile(/[0-9]/);
    if (digits.length === 0) throw this.error("expected a number");
    if (digits.length > 19 || BigInt(digits) > MAX_NUMBER64) throw this.error("number out of range");
    return BigInt(digits);
  }

  /** sequence-set (RFC 9051 §9) or `$` (RFC 5182). */
  sequenceSet(): SequenceSet {
    const text = this.takeWhile(/[0-9:,*$]/);
    if (text.length === 0) throw this.error("expected a sequence set");
    return parseSequenceSet(text);
  }

  /**
   * mailbox = "INBOX" / astring, decoded from modified UTF-7 (or UTF-8 when enabled) and checked
   * (mailbox-name.ts): unusable names throw NO [CANNOT]. Any case of INBOX reads as "INBOX".
   */
  mailbox(): string {
    return checkMailboxName(decodeMailboxName(this.astringBytes(), this.options.utf8Names));
  }

  /** mailbox, for a name that is to be created (CREATE, RENAME's new name): checkNewMailboxName. */
  newMailbox(): string {
    return checkNewMailboxName(this.mailbox());
  }

  /** list-mailbox = 1*list-char / string (a LIST pattern with `*` and `%`), decoded, not checked. */
  listMailbox(): string | null {
    const c = this.byteAt();
    let raw: Buffer;
    if (c === 0x22 || c === 0x7b) raw = this.string();
    else {
      const start = this.pos;
      while (this.pos < this.current.length && isListChar(this.current[this.pos] as number)) this.pos++;
      if (this.pos === start) throw this.error("expected a mailbox pattern");
      raw = this.current.subarray(start, this.pos);
    }
    try {
      return decodeMailboxName(raw, this.options.utf8Names);
    } catch (error) {
      // Not a valid encoding (modified UTF-7, or UTF-8 once enabled): no name is ever sent in
      // that form, so the pattern matches nothing (null); LIST answers OK with no match, as Dovecot.
      if (error instanceof ImapParseError) return null;
      throw error;
    }
  }

  /**
   * flag = "\Answered" / "\Flagged" / "\Deleted" / "\Seen" / "\Draft" / flag-keyword; system
   * flags come back in canonical case. \Recent and other flag-extensions are BAD here
   * (RFC 9051 §2.3.2: \Recent cannot be set by a client).
   */
  flag(): string {
    if (this.takeChar("\\")) {
      const name = this.atom();
      const canonical = CANONICAL_SYSTEM_FLAGS.get(`\\${name}`.toLowerCase());
      if (canonical === undefined) throw this.error(`unsupported system flag \\${name}`);
      return canonical;
    }
    return this.atom();
  }

  /** flag-list = "(" [flag *(SP flag)] ")" */
  flagList(): string[] {
    return this.list(() => this.flag());
  }

  /** date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE */
  dateTime(): Date {
    const text = this.quoted().toString("latin1");
    const m = /^([ \d]\d)-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)$/.exec(text);
    if (m === null) throw this.error("invalid date-time");
    const [, day, mon, year, hh, mm, ss, sign, zh, zm] = m as unknown as string[];
    const month = MONTHS.indexOf((mon as string).toLowerCase());
    const d = Number((day as string).trim());
    const hours = Number(hh);
    const minutes = Number(mm);
    const seconds = Number(ss);
    if (month < 0 || !validDay(Number(year), month, d) || hours > 23 || minutes > 59 || seconds > 60 || Number(zm) > 59) throw this.error("invalid date-time");
    const offset = (sign === "-" ? -1 : 1) * (Number(zh) * 60 + Number(zm));
    return new Date(Date.UTC(Number(year), month, d, hours, minutes, seconds) - offset * 60_000);
  }

  /**
   * date = date-text / DQUOTE date-text DQUOTE, date-text = date-day "-" date-month "-" date-year.
   * Returned as midnight UTC of that day; SEARCH compares days, not instants (RFC 9051 §6.4.4).
   */
  date(): Date {
    const quoted = this.byteAt() === 0x22;
    const text = quoted ? this.quoted().toString("latin1") : this.takeWhile(/[0-9A-Za-z-]/);
    const m = /^(\d{1,2})-([A-Za-z]{3})-(\d{4})$/.exec(text);
    if (m === null) throw this.error("invalid date");
    const month = MONTHS.indexOf((m[2] as string).toLowerCase());
    const day = Number(m[1]);
    if (month < 0 || !validDay(Number(m[3]), month, day)) throw this.error("invalid date");
    return new Date(Date.UTC(Number(m[3]), month, day));
  }

  /** The unread rest of the current line (for log lines and error texts). */
  rest(): string {
    return this.current.toString("latin1", this.pos);
  }

  /** A BAD error pointing at the current position. */
  error(text: string): ImapParseError {
    return new ImapParseError(text);
  }
}

function validDay(year: number, month: number, day: number): boolean {
  if (day < 1) return false;
  return day <= new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
}
