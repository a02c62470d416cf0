// `mailroom export --account A --format mbox|maildir <dir> [--mailbox M]`: an account's mailboxes
// written as files other mail software reads, and `mailroom import` reads back the same
// (docs/architecture.md, "Import, export and migration"). Through the MailStore interface only.
//
// mbox (mboxrd): one file per mailbox, "<dir>/INBOX.mbox", "<dir>/Work/2024.mbox" (a nested
// mailbox in a subdirectory; a level's "%" and a leading "." are written %25 / %2E so no name
// can climb out of <dir>). Each message: a From_ line with the INTERNALDATE in asctime form
// (UTC), then the message with LF line ends, with the flags as mutt and Dovecot write them just
// before the end of the header: "Status: RO" (R = \Seen; O = not new), "X-Status: AFTD"
// (\Answered, \Flagged, \Draft, \Deleted) and "X-Keywords: k1 k2"; any of those fields (and
// Content-Length) the message carried are dropped, as they are mbox metadata. Body lines
// matching /^>*From / get one more ">" (mboxrd), which the importer takes off again.
//
// Maildir++: the root is INBOX; "Work/2024" is the folder ".Work.2024" (levels in modified UTF-7,
// RFC 3501 §5.1.3; a "." inside a level, the Maildir++ separator, becomes "_" and is reported).
// Each message is cur/<internaldate>.M<uid>.mailroom,S=<size>:2,<letters> with the bytes
// unchanged, its mtime the INTERNALDATE; letters D F P R S T (\Draft \Flagged $Forwarded
// \Answered \Seen \Deleted, in ASCII order as the Maildir spec asks) then a-z for keywords, named
// by the folder's dovecot-keywords file (26 at most, Dovecot's limit; more are reported). A
// dovecot-uidlist with our UIDVALIDITY and UIDs lets Dovecot (and `mailroom import`) keep them.
//
// Memory: one page of message metadata and one message's stream at a time.
import { createWriteStream } from "node:fs";
import { mkdir, readdir, rename, utimes, writeFile } from "node:fs/promises";
import { once } from "node:events";
import { dirname, join } from "node:path";
import { finished } from "node:stream/promises";
import { Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import { encodeModifiedUtf7 } from "../imap/protocol/mailbox-name.js";
import type { AccountId, Mailbox, MailStore, StoredMessage } from "../store/index.js";

export type ExportStore = Pick<MailStore, "listMailboxes" | "getMailbox" | "listMessages" | "getMessages" | "openMessage">;

export interface ExportProgress {
  phase: "messages";
  done: number;
  total: number | null;
}

export interface ExportRequest {
  store: ExportStore;
  accountId: AccountId;
  dir: string;
  format: "mbox" | "maildir";
  /** Only this mailbox (its children are not included). */
  mailbox?: string;
  onProgress?(progress: ExportProgress): void;
}

export interface ExportedFolder {
  mailbox: string;
  /** The file (mbox) or folder (Maildir) it went to, relative to dir. */
  path: string;
  messages: number;
}

export interface ExportReport {
  folders: ExportedFolder[];
  problems: string[];
  bytes: number;
  durationMs: number;
}

const PAGE = 200;
const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const MBOX_METADATA = /^(status|x-status|x-keywords|x-uid|x-imap|x-imapbase|content-length):/i;
const LETTERS: [string, string][] = [["\\Draft", "D"], ["\\Flagged", "F"], ["$Forwarded", "P"], ["\\Answered", "R"], ["\\Seen", "S"], ["\\Deleted", "T"]];

/** asctime, as From_ lines carry it: "Tue Dec  1 10:00:00 2026" (UTC). */
export function asctime(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${DAYS[date.getUTCDay()]} ${MONTHS[date.getUTCMonth()]} ${String(date.getUTCDate()).padStart(2, " ")} ${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} ${date.getUTCFullYear()}`;
}

/** The mbox status fields for a message's flags (mutt/Dovecot). */
export function mboxStatusLines(flags: readonly string[]): string {
  const has = (f: string) => flags.some((x) => x.toLowerCase() === f.toLowerCase());
  let lines = `Status: ${has("\\Seen") ? "R" : ""}O\n`;
  const x = `${has("\\Answered") ? "A" : ""}${has("\\Flagged") ? "F" : ""}${has("\\Draft") ? "T" : ""}${has("\\Deleted") ? "D" : ""}`;
  if (x) lines += `X-Status: ${x}\n`;
  const keywords = flags.filter((f) => !f.startsWith("\\"));
  if (keywords.length > 0) lines += `X-Keywords: ${keywords.join(" ")}\n`;
  return lines;
}

/** A mailbox level as a file or directory name: "%" and a leading "." escaped (%25, %2E). */
export function fileLevel(level: string): string {
  return level.replaceAll("%", "%25").replace(/^\./, "%2E");
}

/** fileLevel's inverse. */
export function levelFromFile(name: string): string {
  return name.replace(/%(25|2E)/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/**
 * A message's bytes as an mbox entry: CRLF -> LF, the status fields placed at the end of the
 * header (metadata fields the message had dropped), body lines /^>*From / quoted once more.
 */
class MboxEntryWriter extends Transform {
  private rest = Buffer.alloc(0);
  private inHeader = true;
  private droppingField = false;

  constructor(private readonly status: string) {
    super();
  }

  private line(line: Buffer, out: Buffer[]): void {
    if (this.inHeader) {
      if (line.length === 0) {
        this.inHeader = false;
        out.push(Buffer.from(this.status), Buffer.from("\n"));
        return;
      }
      const continued = line[0] === 0x20 || line[0] === 0x09;
      if (!continued) this.droppingField = MBOX_METADATA.test(line.subarray(0, 20).toString("latin1"));
      if (this.droppingField) return;
      out.push(line, Buffer.from("\n"));
      return;
    }
    if (/^>*From /.test(line.subarray(0, 80).toString("latin1"))) out.push(Buffer.from(">"));
    out.push(line, Buffer.from("\n"));
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    const data = this.rest.length > 0 ? Buffer.concat([this.rest, chunk]) : chunk;
    const out: Buffer[] = [];
    let start = 0;
    for (let end = data.indexOf(10, start); end !== -1; end = data.indexOf(10, start)) {
      this.line(data.subarray(start, end > start && data[end - 1] === 13 ? end - 1 : end), out);
      start = end + 1;
    }
    this.rest = Buffer.from(data.subarray(start));
    done(null, Buffer.concat(out));
  }

  override _flush(done: TransformCallback): void {
    const out: Buffer[] = [];
    if (this.rest.length > 0) this.line(this.rest[this.rest.length - 1] === 13 ? this.rest.subarray(0, -1) : this.rest, out);
    // A message that is all header still gets its status fields and the blank line.
    if (this.inHeader) this.line(Buffer.alloc(0), out);
    // mboxrd: an empty line separates messages (the reader takes exactly one off again).
    out.push(Buffer.from("\n"));
    done(null, Buffer.concat(out));
  }
}

/** The Maildir++ folder of a mailbox ("" for INBOX), and whether a "." had to be replaced. */
export function maildirFolder(name: string): { folder: string; replaced: boolean } {
  if (name === "INBOX") return { folder: "", replaced: false };
  let replaced = false;
  const levels = name.split("/").map((level) => {
    if (level.includes(".")) replaced = true;
    return encodeModifiedUtf7(level.replaceAll(".", "_"));
  });
  return { folder: `.${levels.join(".")}`, replaced };
}

async function* pages(store: ExportStore, mailbox: Mailbox): AsyncGenerator<StoredMessage[]> {
  const uids = (await store.listMessages(mailbox.id)).map((m) => m.uid);
  for (let i = 0; i < uids.length; i += PAGE) yield await store.getMessages(mailbox.id, uids.slice(i, i + PAGE));
}

async function refuseNonEmpty(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const entries = await readdir(dir);
  if (entries.length > 0) throw Object.assign(new Error(`${dir} is not empty: export writes into a new or empty directory`), { code: "ENOTEMPTY" });
}

export async function exportMessages(request: ExportRequest): Promise<ExportReport> {
  const started = Date.now();
  const { store } = request;
  let mailboxes: Mailbox[];
  if (request.mailbox !== undefined) {
    const one = await store.getMailbox(request.accountId, request.mailbox);
    if (!one) throw Object.assign(new Error(`no mailbox ${request.mailbox}`), { code: "NOMAILBOX" });
    mailboxes = [one];
  } else mailboxes = (await store.listMailboxes(request.accountId)).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  await refuseNonEmpty(request.dir);
  const total = (await Promise.all(mailboxes.map((m) => store.listMessages(m.id).then((l) => l.length)))).reduce((a, b) => a + b, 0);
  const problems: string[] = [];
  let problemCount = 0;
  const problem = (line: string) => {
    problemCount++;
    if (problems.length < 50) problems.push(line);
  };
  const folders: ExportedFolder[] = [];
  let done = 0;
  let bytes = 0;
  let lastProgress = 0;
  const tick = () => {
    done++;
    if (Date.now() - lastProgress >= 200) {
      lastProgress = Date.now();
      request.onProgress?.({ phase: "messages", done, total });
    }
  };
  for (const mailbox of mailboxes) {
    if (request.format === "mbox") {
      const relative = `${mailbox.name.split("/").map(fileLevel).join("/")}.mbox`;
      const path = join(request.dir, relative);
      await mkdir(dirname(path), { recursive: true });
      // Written under a temporary name and renamed when complete: an interrupted export never
      // leaves a file that looks whole.
      const partial = `${path}.partial`;
      const out = createWriteStream(partial, { flags: "wx" });
      let count = 0;
      try {
        for await (const page of pages(store, mailbox)) {
          for (const message of page) {
            out.write(`From MAILER-DAEMON ${asctime(message.internalDate)}\n`);
            await pipeline(store.openMessage(message), new MboxEntryWriter(mboxStatusLines(message.flags)), out, { end: false });
            bytes += message.size;
            count++;
            tick();
          }
        }
        out.end();
        await finished(out);
      } catch (error) {
        out.destroy();
        throw error;
      }
      await rename(partial, path);
      folders.push({ mailbox: mailbox.name, path: relative, messages: count });
    } else {
      const { folder, replaced } = maildirFolder(mailbox.name);
      if (replaced) problem(`mailbox ${mailbox.name}: "." separates Maildir++ levels, written as "_" in ${folder}`);
      const root = join(request.dir, folder);
      for (const sub of ["cur", "new", "tmp"]) await mkdir(join(root, sub), { recursive: true });
      if (folder !== "") await writeFile(join(root, "maildirfolder"), "");
      const keywords: string[] = [];
      // Streamed as the messages are written (a line per message is not kept in memory); its
      // header's UIDVALIDITY and UIDNEXT are known before the first message.
      const uidlistPath = join(root, "dovecot-uidlist");
      const uidlist = createWriteStream(`${uidlistPath}.partial`, { flags: "wx" });
      uidlist.write(`3 V${mailbox.uidValidity} N${mailbox.uidNext}\n`);
      let count = 0;
      try {
        for await (const page of pages(store, mailbox)) {
          for (const message of page) {
            let letters = "";
            for (const [flag, letter] of LETTERS) if (message.flags.some((f) => f.toLowerCase() === flag.toLowerCase())) letters += letter;
            const keywordLetters: string[] = [];
            for (const flag of message.flags) {
              if (flag.startsWith("\\") || flag.toLowerCase() === "$forwarded") continue;
              let index = keywords.findIndex((k) => k.toLowerCase() === flag.toLowerCase());
              if (index < 0 && keywords.length < 26) index = keywords.push(flag) - 1;
              if (index < 0) problem(`mailbox ${mailbox.name} UID ${message.uid}: keyword ${flag} not kept (Maildir has 26 keyword letters)`);
              else keywordLetters.push(String.fromCharCode(97 + index));
            }
            letters += keywordLetters.sort().join("");
            const base = `${Math.floor(message.internalDate.getTime() / 1000)}.M${message.uid}.mailroom,S=${message.size}`;
            const tmp = join(root, "tmp", base);
            const file = join(root, "cur", `${base}:2,${letters}`);
            await pipeline(store.openMessage(message), createWriteStream(tmp, { flags: "wx" }));
            await utimes(tmp, message.internalDate, message.internalDate);
            await rename(tmp, file);
            if (!uidlist.write(`${message.uid} :${base}\n`)) await once(uidlist, "drain");
            bytes += message.size;
            count++;
            tick();
          }
        }
      } catch (error) {
        uidlist.destroy();
        throw error;
      }
      await writeFile(join(root, "dovecot-keywords"), keywords.map((k, i) => `${i} ${k}\n`).join(""));
      uidlist.end();
      await finished(uidlist);
      await rename(`${uidlistPath}.partial`, uidlistPath);
      folders.push({ mailbox: mailbox.name, path: folder === "" ? "." : folder, messages: count });
    }
  }
  request.onProgress?.({ phase: "messages", done, total });
  if (problemCount > problems.length) problems.push(`(and ${problemCount - problems.length} more problems)`);
  return { folders, problems, bytes, durationMs: Date.now() - started };
}
