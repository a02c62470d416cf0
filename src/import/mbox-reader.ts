// Messages out of an mbox file, streamed: one message in memory at a time, whatever the file size.
//   - Separators are lines starting "From ". Writers do not all leave a blank line before them, so
//     every such line separates (as mutt and Dovecot read it), except inside a body whose
//     Content-Length (mboxcl2) says it goes on.
//   - mboxrd and mboxo escaping: a body line ">From ", ">>From "... loses one ">" (mboxrd). For an
//     mboxo file that is the best reading too: its writer escaped "From " and left ">From " alone.
//     A message read by Content-Length (mboxcl2) is not unescaped: that format does not escape.
//   - The separator's date is the INTERNALDATE; Status/X-Status/X-Keywords give flags (what
//     Dovecot, mutt and Thunderbird write).
// Line ends become CRLF (the message as IMAP serves it); a message over `maxMessageBytes` is
// skipped and reported, and a file that ends inside a Content-Length body still yields what it has.

export interface MboxMessage {
  /** The raw message, CRLF line ends, without the separator line. */
  readonly bytes: Buffer;
  readonly internalDate: Date | null;
  readonly flags: string[];
  /** 1-based number of the message in the file, for reports. */
  readonly index: number;
}

export interface MboxSkipped {
  readonly skipped: true;
  readonly index: number;
  readonly reason: string;
}

const MONTHS: Record<string, number> = { jan: 0, feb: 1, mar: 2, apr: 3, may: 4, jun: 5, jul: 6, aug: 7, sep: 8, oct: 9, nov: 10, dec: 11 };

/**
 * The date of a separator line, "From sender Tue Dec  1 10:00:00 2026" (asctime, as written by
 * every MTA and mail client; sometimes with a zone after the time). Null when there is none.
 */
export function separatorDate(line: string): Date | null {
  const match = /(\w{3})\s+(\w{3})\s+(\d{1,2})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s+(?:([A-Z]{2,5}|[+-]\d{4})\s+)?(\d{4})\s*$/.exec(line);
  if (!match) return null;
  const month = MONTHS[match[2]!.toLowerCase()];
  if (month === undefined) return null;
  let time = Date.UTC(Number(match[8]), month, Number(match[3]), Number(match[4]), Number(match[5]), Number(match[6] ?? 0));
  const zone = match[7];
  if (zone && /^[+-]\d{4}$/.test(zone)) {
    const sign = zone.startsWith("-") ? -1 : 1;
    time -= sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(3, 5))) * 60_000;
  }
  return Number.isNaN(time) ? null : new Date(time);
}

/** Flags from the status headers: Status R = \Seen; X-Status A, F, D, T; X-Keywords. */
export function statusFlags(header: string): string[] {
  const flags = new Set<string>();
  const field = (name: string): string | null => {
    const match = new RegExp(`^${name}:[ \\t]*(.*)$`, "im").exec(header);
    return match ? match[1]!.trim() : null;
  };
  if (field("Status")?.includes("R")) flags.add("\\Seen");
  const x = field("X-Status") ?? "";
  if (x.includes("A")) flags.add("\\Answered");
  if (x.includes("F")) flags.add("\\Flagged");
  if (x.includes("D")) flags.add("\\Deleted");
  if (x.includes("T")) flags.add("\\Draft");
  for (const keyword of (field("X-Keywords") ?? "").split(/[\s,]+/)) {
    if (/^[!#$&'+-[^-z|}~]+$/.test(keyword) && !keyword.startsWith("\\")) flags.add(keyword);
  }
  return [...flags];
}

/**
 * A message's bytes as they are read, CRLF line ends. One builder serves every message of a file
 * (reset()): its buffer grows to the largest message once, instead of a chain of fresh, larger
 * buffers per message (each new one zero pages to fault in and the old bytes to copy again), and
 * take() copies the message once into a buffer of its own size.
 */
class ByteBuilder {
  private buffer = Buffer.allocUnsafe(64 * 1024);
  length = 0;

  reset(): void {
    this.length = 0;
  }

  /** Octets start..end of `data`, then CRLF. */
  appendRange(data: Buffer, start: number, end: number): void {
    const count = end - start;
    const needed = this.length + count + 2;
    if (needed > this.buffer.length) {
      const grown = Buffer.allocUnsafe(Math.max(needed, this.buffer.length * 2));
      this.buffer.copy(grown, 0, 0, this.length);
      this.buffer = grown;
    }
    const target = this.buffer;
    let at = this.length;
    // A typical line (text, base64: under 100 octets) is copied by a loop: Buffer.copy makes a
    // typed-array view per call, which cost more than the octets (a third of a 1 GB import's
    // reader time went to it).
    if (count <= SHORT_LINE) for (let i = start; i < end; i++) target[at++] = data[i]!;
    else {
      data.copy(target, at, start, end);
      at += count;
    }
    target[at++] = 13;
    target[at++] = 10;
    this.length = at;
  }

  appendLine(line: Buffer): void {
    this.appendRange(line, 0, line.length);
  }

  /** The bytes without the last `drop` octets, in a buffer of their own size (from `allocate`). */
  take(drop: number, allocate: (size: number) => Buffer): Buffer {
    const out = allocate(this.length - drop);
    this.buffer.copy(out, 0, 0, this.length - drop);
    return out;
  }
}

interface Pending {
  out: ByteBuilder | null;
  /** Octets of the message so far (counted also once it is too big and no longer kept). */
  bytes: number;
  lastLineEmpty: boolean;
  internalDate: Date | null;
  headerDone: boolean;
  headerText: string;
  /** Body octets still expected by Content-Length (mboxcl2), or null. */
  contentLeft: number | null;
  /** Inside an mbox metadata field (MBOX_METADATA), which is not kept in the message. */
  droppingField: boolean;
}

/** Lines up to this long are copied octet by octet (ByteBuilder.appendRange). */
const SHORT_LINE = 200;

const MBOX_METADATA = /^(status|x-status|x-keywords|x-uid|x-imap|x-imapbase|content-length):/i;

/** "From " at the start of the line, compared as bytes (no string per line). */
function startsWithFrom(line: Buffer, at: number): boolean {
  return line.length >= at + 5 && line[at] === 0x46 && line[at + 1] === 0x72 && line[at + 2] === 0x6f && line[at + 3] === 0x6d && line[at + 4] === 0x20;
}

/**
 * The reader's state machine, fed one line at a time synchronously (an async step per line would
 * cost more than the work on it); completed messages are collected for the caller to yield.
 */
class MboxParser {
  private current: Pending | null = null;
  private index = 0;
  private previousBlank = true;
  /** Reused for every message (ByteBuilder). */
  private readonly builder = new ByteBuilder();
  readonly done: (MboxMessage | MboxSkipped)[] = [];

  constructor(
    private readonly maxMessageBytes: number,
    private readonly allocate: (size: number) => Buffer,
  ) {}

  private finish(message: Pending): void {
    this.index++;
    if (message.out === null) {
      this.done.push({ skipped: true, index: this.index, reason: `larger than ${this.maxMessageBytes} octets` });
      return;
    }
    // The blank line before the next separator belongs to the mbox, not the message.
    const drop = message.lastLineEmpty && message.contentLeft === null ? 2 : 0;
    this.done.push({ bytes: message.out.take(drop, this.allocate), internalDate: message.internalDate, flags: statusFlags(message.headerText), index: this.index });
  }

  /**
   * Octets start..end of `data` as one line (line end removed). The common case, a body line that
   * starts with neither "F" (a separator) nor ">" (mboxrd quoting) outside a counted body, is
   * appended without making a Buffer view of it; everything else goes through line().
   */
  lineAt(data: Buffer, start: number, end: number): void {
    const current = this.current;
    if (current !== null && current.headerDone && current.contentLeft === null && end > start && data[start] !== 0x46 && data[start] !== 0x3e) {
      this.previousBlank = false;
      current.bytes += end - start + 2;
      if (current.bytes > this.maxMessageBytes) current.out = null;
      current.out?.appendRange(data, start, end);
      current.lastLineEmpty = false;
      return;
    }
    this.line(data.subarray(start, end));
  }

  line(line: Buffer): void {
    const current = this.current;
    if (startsWithFrom(line, 0)) {
      const inCounted = current !== null && current.contentLeft !== null && current.contentLeft > 0;
      // Inside a counted body a "From " line is content, unless it is a full separator (sender and
      // date) after a blank line: then the Content-Length was wrong, and trusting it would swallow
      // the next messages into this one.
      const date = !inCounted || this.previousBlank ? separatorDate(line.toString("latin1")) : null;
      if (!inCounted || (this.previousBlank && date !== null)) {
        if (current !== null) this.finish(current);
        this.builder.reset();
        this.current = { out: this.builder, bytes: 0, lastLineEmpty: false, internalDate: date, headerDone: false, headerText: "", contentLeft: null, droppingField: false };
        this.previousBlank = false;
        return;
      }
    }
    if (current === null) {
      // Text before the first separator is not an mbox message (a stray header line, a BOM).
      this.previousBlank = line.length === 0;
      return;
    }
    let kept = line;
    if (!current.headerDone) {
      // Status, X-Status, X-Keywords, X-UID, X-IMAP(base) and Content-Length are the mbox's own
      // bookkeeping, read into flags here and not part of the message (Dovecot hides them too).
      if (line.length > 0 && line[0] !== 0x20 && line[0] !== 0x09) current.droppingField = MBOX_METADATA.test(line.subarray(0, 20).toString("latin1"));
      if (line.length === 0) {
        current.droppingField = false;
        current.headerDone = true;
        const length = /^Content-Length:[ \t]*(\d+)[ \t]*$/im.exec(current.headerText);
        if (length) current.contentLeft = Number(length[1]);
      } else if (current.headerText.length < 64 * 1024) current.headerText += `${line.toString("latin1")}\n`;
      if (current.droppingField) {
        this.previousBlank = false;
        return;
      }
    } else if (current.contentLeft !== null) {
      // Counted in the file's own line ends: this reader drops them, so count one octet (LF).
      current.contentLeft = Math.max(0, current.contentLeft - line.length - 1);
    } else if (line[0] === 0x3e) {
      // mboxrd: ">From ", ">>From "... lose one ">".
      let at = 1;
      while (at < line.length && line[at] === 0x3e) at++;
      if (startsWithFrom(line, at)) kept = line.subarray(1);
    }
    this.previousBlank = line.length === 0;
    current.bytes += kept.length + 2;
    if (current.bytes > this.maxMessageBytes) current.out = null;
    current.out?.appendLine(kept);
    current.lastLineEmpty = kept.length === 0;
  }

  end(unterminated: boolean): void {
    if (this.current === null) return;
    // Every mbox line ends with a line feed: a file ending mid-line was cut short (a copy that
    // stopped, a full disk), and its last message would be stored broken. Reported instead, so
    // importing the complete file later adds it once.
    if (unterminated) {
      this.index++;
      this.done.push({ skipped: true, index: this.index, reason: "the file ends mid-line: this message looks truncated, not imported (import the complete file again to add it)" });
    } else this.finish(this.current);
    this.current = null;
  }
}

export interface ReadMboxOptions {
  maxMessageBytes: number;
  /**
   * Where each message's bytes go (default Buffer.allocUnsafe): the importer hands out space in
   * a buffer it reuses (importer.ts MessageRing), since a fresh large buffer per message costs
   * a page fault per 4 KiB on first write, more than the copy itself.
   */
  allocate?: (size: number) => Buffer;
}

export async function* readMbox(source: AsyncIterable<Buffer>, options: ReadMboxOptions): AsyncGenerator<MboxMessage | MboxSkipped> {
  const parser = new MboxParser(options.maxMessageBytes, options.allocate ?? ((size) => Buffer.allocUnsafe(size)));
  let rest: Buffer = Buffer.alloc(0);
  for await (const chunk of source) {
    const data = chunk;
    let start = 0;
    if (rest.length > 0) {
      // Only the line cut at the previous chunk's end is joined, not the whole new chunk.
      const lf = chunk.indexOf(10);
      if (lf === -1) {
        rest = Buffer.concat([rest, chunk]);
        continue;
      }
      const line = Buffer.concat([rest, chunk.subarray(0, lf)]);
      parser.line(line.length > 0 && line[line.length - 1] === 13 ? line.subarray(0, line.length - 1) : line);
      rest = Buffer.alloc(0);
      start = lf + 1;
    }
    for (let end = data.indexOf(10, start); end !== -1; end = data.indexOf(10, start)) {
      parser.lineAt(data, start, end > start && data[end - 1] === 13 ? end - 1 : end);
      start = end + 1;
    }
    rest = Buffer.from(data.subarray(start));
    while (parser.done.length > 0) yield parser.done.shift()!;
  }
  if (rest.length > 0) parser.line(rest);
  parser.end(rest.length > 0);
  while (parser.done.length > 0) yield parser.done.shift()!;
}
