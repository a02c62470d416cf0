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

interface Pending {
  lines: Buffer[];
  bytes: number;
  internalDate: Date | null;
  headerDone: boolean;
  headerText: string;
  /** Body octets still expected by Content-Length (mboxcl2), or null. */
  contentLeft: number | null;
  tooBig: boolean;
  /** Inside an mbox metadata field (MBOX_METADATA), which is not kept in the message. */
  droppingField: boolean;
}

const MBOX_METADATA = /^(status|x-status|x-keywords|x-uid|x-imap|x-imapbase|content-length):/i;

const CRLF = Buffer.from("\r\n");

/** Splits a byte stream into lines without their line end (LF or CRLF); notes a last line without one. */
async function* lines(source: AsyncIterable<Buffer>, end: { unterminated: boolean }): AsyncGenerator<Buffer> {
  let rest: Buffer = Buffer.alloc(0);
  for await (const chunk of source) {
    let data = rest.length > 0 ? Buffer.concat([rest, chunk]) : chunk;
    let start = 0;
    for (let end = data.indexOf(10, start); end !== -1; end = data.indexOf(10, start)) {
      const stop = end > start && data[end - 1] === 13 ? end - 1 : end;
      yield data.subarray(start, stop);
      start = end + 1;
    }
    rest = Buffer.from(data.subarray(start));
    data = Buffer.alloc(0);
  }
  if (rest.length > 0) {
    end.unterminated = true;
    yield rest;
  }
}

export async function* readMbox(source: AsyncIterable<Buffer>, options: { maxMessageBytes: number }): AsyncGenerator<MboxMessage | MboxSkipped> {
  let current: Pending | null = null;
  let index = 0;
  let previousBlank = true;

  const finish = (message: Pending): MboxMessage | MboxSkipped => {
    index++;
    if (message.tooBig) return { skipped: true, index, reason: `larger than ${options.maxMessageBytes} octets` };
    // The blank line before the next separator belongs to the mbox, not the message.
    let lines = message.lines;
    if (lines.length > 0 && lines[lines.length - 1]!.length === 0 && message.contentLeft === null) lines = lines.slice(0, -1);
    const parts: Buffer[] = [];
    for (const line of lines) parts.push(line, CRLF);
    return { bytes: Buffer.concat(parts), internalDate: message.internalDate, flags: statusFlags(message.headerText), index };
  };

  const end = { unterminated: false };
  for await (const line of lines(source, end)) {
    const isFromLine = line.length >= 5 && line.subarray(0, 5).toString("latin1") === "From ";
    const inCounted = current !== null && current.contentLeft !== null && current.contentLeft > 0;
    // Inside a counted body a "From " line is content, unless it is a full separator (sender and
    // date) after a blank line: then the Content-Length was wrong, and trusting it would swallow
    // the next messages into this one.
    const separates = isFromLine && (!inCounted || (previousBlank && separatorDate(line.toString("latin1")) !== null));
    if (separates) {
      if (current !== null) yield finish(current);
      current = { lines: [], bytes: 0, internalDate: separatorDate(line.toString("latin1")), headerDone: false, headerText: "", contentLeft: null, tooBig: false, droppingField: false };
      previousBlank = false;
      continue;
    }
    if (current === null) {
      // Text before the first separator is not an mbox message (a stray header line, a BOM).
      previousBlank = line.length === 0;
      continue;
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
        previousBlank = false;
        continue;
      }
    } else if (current.contentLeft !== null) {
      // Counted in the file's own line ends: this reader drops them, so count one octet (LF).
      current.contentLeft = Math.max(0, current.contentLeft - line.length - 1);
    } else if (/^>+From /.test(line.subarray(0, 64).toString("latin1"))) {
      kept = line.subarray(1);
    }
    previousBlank = line.length === 0;
    current.bytes += kept.length + 2;
    if (current.bytes > options.maxMessageBytes) {
      current.tooBig = true;
      current.lines = [];
    }
    if (!current.tooBig) current.lines.push(Buffer.from(kept));
  }
  if (current !== null) {
    // Every mbox line ends with a line feed: a file ending mid-line was cut short (a copy that
    // stopped, a full disk), and its last message would be stored broken. Reported instead, so
    // importing the complete file later adds it once.
    if (end.unterminated) {
      index++;
      yield { skipped: true, index, reason: "the file ends mid-line: this message looks truncated, not imported (import the complete file again to add it)" };
    } else yield finish(current);
  }
}
