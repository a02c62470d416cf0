// `mailroom import`: an mbox file, a Maildir (with Maildir++ folders) or a folder of .eml files
// into one account, through the MailStore interface only (so it works on every backend):
//   - each message is staged (written durably, hashed), then appended in batches with its flags
//     and INTERNALDATE; a batch's messages land together or not at all;
//   - a message whose bytes a target mailbox already holds (same blob) is skipped, so running the
//     same import again adds nothing, and an interrupted import resumes by running it again;
//   - a message larger than the limit, or a file that vanished, is reported and skipped; nothing
//     already stored is touched.
// Memory is one message plus one batch of staged handles, whatever the size of the source.
import { createReadStream } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { basename } from "node:path";
import { storableFlags } from "../delivery/deliver-local.js";
import type { AccountId, BlobId, MailboxId, MailStore, StagedAppend, Uid, UidValidity } from "../store/index.js";
import { isStoreError } from "../store/index.js";
import { readMbox } from "./mbox-reader.js";
import { mboxFiles, readEmlFolder, readMaildir, sourceKind, type MaildirFolder } from "./maildir-reader.js";

export type ImportStore = Pick<MailStore, "getMailbox" | "createMailbox" | "adoptUidValidity" | "stageMessage" | "appendStaged" | "listMessages" | "getMessages">;

export interface ImportProgress {
  phase: "messages";
  /** Messages read so far (imported, duplicate or skipped). */
  done: number;
  /** Messages in the source when known (Maildir, EML); null for an mbox read as it streams. */
  total: number | null;
}

export interface ImportRequest {
  store: ImportStore;
  accountId: AccountId;
  path: string;
  /** Target mailbox for an mbox file or an .eml folder; default INBOX. A Maildir keeps its folders. */
  mailbox?: string;
  maxMessageBytes: number;
  onProgress?(progress: ImportProgress): void;
}

export interface FolderReport {
  mailbox: string;
  imported: number;
  duplicates: number;
  skipped: number;
}

export interface ImportReport {
  kind: "mbox" | "mbox-tree" | "maildir" | "eml";
  folders: FolderReport[];
  /** One line per message not imported, bounded. */
  problems: string[];
  problemCount: number;
  bytes: number;
  durationMs: number;
}

/** Messages appended per store call: few enough that one batch's bytes stay small. */
const BATCH = 50;
const MAX_PROBLEM_LINES = 50;

/** Bare LF line ends become CRLF (RFC 5322 §2.1), CRLF stays: the bytes IMAP serves. */
export function toCrlf(bytes: Buffer): Buffer {
  let bare = 0;
  for (let i = 0; i < bytes.length; i++) if (bytes[i] === 10 && (i === 0 || bytes[i - 1] !== 13)) bare++;
  if (bare === 0) return bytes;
  const out = Buffer.allocUnsafe(bytes.length + bare);
  let o = 0;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === 10 && (i === 0 || bytes[i - 1] !== 13)) out[o++] = 13;
    out[o++] = bytes[i]!;
  }
  return out;
}

class FolderWriter {
  readonly report: FolderReport;
  private batch: StagedAppend[] = [];

  constructor(
    private readonly store: ImportStore,
    private readonly mailboxId: MailboxId,
    mailbox: string,
    private readonly known: Set<BlobId>,
    /** Source UIDs above this are kept (UIDNEXT - 1 of a mailbox that has the source's UIDVALIDITY), or null. */
    private keepUidsAbove: number | null = null,
  ) {
    this.report = { mailbox, imported: 0, duplicates: 0, skipped: 0 };
  }

  /**
   * @param uid the source's UID (dovecot-uidlist), kept when the folder keeps UIDs (openFolder)
   *   and it is above every UID given so far; else the message gets the next UID.
   */
  async add(bytes: Buffer, flags: readonly string[], internalDate: Date | null, maxBytes: number, uid?: number): Promise<void> {
    const staged = await this.store.stageMessage(bytes, { maxBytes });
    if (this.known.has(staged.blobId)) {
      staged.discard();
      this.report.duplicates++;
      return;
    }
    this.known.add(staged.blobId);
    const keep = this.keepUidsAbove !== null && uid !== undefined && uid > this.keepUidsAbove;
    // One store call keeps UIDs for all its messages or for none (appendStaged).
    if (this.batch.length > 0 && (this.batch[0]!.uid !== undefined) !== keep) await this.flush();
    if (keep) this.keepUidsAbove = uid;
    this.batch.push({ source: staged, flags: storableFlags(flags.filter((f) => f !== "\\Recent")), ...(internalDate ? { internalDate } : {}), ...(keep ? { uid: uid as Uid } : {}) });
    if (this.batch.length >= BATCH) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.batch.length === 0) return;
    const batch = this.batch;
    this.batch = [];
    try {
      await this.store.appendStaged(this.mailboxId, batch);
    } catch (error) {
      for (const item of batch) {
        item.source.discard();
        this.known.delete(item.source.blobId);
      }
      throw error;
    }
    // A message appended without a kept UID took UIDNEXT: later kept UIDs must be above it.
    if (this.keepUidsAbove !== null && batch[0]!.uid === undefined) this.keepUidsAbove = null;
    this.report.imported += batch.length;
  }
}

/**
 * The target mailbox and the blobs it holds. With `uidValidity` (a Dovecot dovecot-uidlist) a new
 * mailbox is created with it, and an existing one that never held a message adopts it, so the
 * messages keep their UIDs and the old server's clients keep their caches; `keepUidsAbove` is
 * then the last UID used (an interrupted import resumes keeping UIDs), else null.
 */
async function openFolder(store: ImportStore, accountId: AccountId, mailbox: string, uidValidity?: number): Promise<{ id: MailboxId; known: Set<BlobId>; keepUidsAbove: number | null }> {
  const existing = await store.getMailbox(accountId, mailbox);
  let box = existing ?? (await store.createMailbox(accountId, mailbox, uidValidity === undefined ? {} : { uidValidity: uidValidity as UidValidity }));
  if (uidValidity !== undefined && box.uidValidity !== uidValidity && box.uidNext === 1) box = await store.adoptUidValidity(box.id, uidValidity as UidValidity);
  const known = new Set<BlobId>();
  const uids = (await store.listMessages(box.id)).map((m) => m.uid);
  for (let i = 0; i < uids.length; i += 500) for (const message of await store.getMessages(box.id, uids.slice(i, i + 500))) known.add(message.blobId);
  return { id: box.id, known, keepUidsAbove: uidValidity !== undefined && box.uidValidity === uidValidity ? box.uidNext - 1 : null };
}

export async function importMessages(request: ImportRequest): Promise<ImportReport> {
  const started = Date.now();
  const kind = await sourceKind(request.path);
  const problems: string[] = [];
  let problemCount = 0;
  const problem = (line: string) => {
    problemCount++;
    if (problems.length < MAX_PROBLEM_LINES) problems.push(line);
  };
  const folders: FolderReport[] = [];
  let done = 0;
  let bytes = 0;
  let lastProgress = 0;
  const progress = (total: number | null, force = false) => {
    const now = Date.now();
    if (!force && now - lastProgress < 200) return;
    lastProgress = now;
    request.onProgress?.({ phase: "messages", done, total });
  };

  if (kind === "mbox" || kind === "mbox-tree") {
    // An mbox file goes into --mailbox (INBOX); a tree of them (export's layout) keeps its names.
    const files = kind === "mbox" ? [{ path: request.path, mailbox: request.mailbox ?? "INBOX" }] : await mboxFiles(request.path);
    for (const file of files) {
      const target = await openFolder(request.store, request.accountId, file.mailbox);
      const writer = new FolderWriter(request.store, target.id, file.mailbox, target.known);
      for await (const item of readMbox(createReadStream(file.path, { highWaterMark: 1 << 20 }), { maxMessageBytes: request.maxMessageBytes })) {
        done++;
        if ("skipped" in item) {
          writer.report.skipped++;
          problem(`${basename(file.path)} message ${item.index}: ${item.reason}`);
        } else {
          bytes += item.bytes.length;
          await addOrReport(writer, item.bytes, item.flags, item.internalDate, request.maxMessageBytes, `${basename(file.path)} message ${item.index}`, problem);
        }
        progress(null);
      }
      await writer.flush();
      folders.push(writer.report);
    }
  } else {
    const sources: MaildirFolder[] = kind === "maildir" ? await readMaildir(request.path) : [await readEmlFolder(request.path, request.mailbox ?? "INBOX")];
    const total = sources.reduce((n, f) => n + f.files.length, 0);
    for (const source of sources) {
      const target = await openFolder(request.store, request.accountId, source.mailbox, source.uidValidity);
      const writer = new FolderWriter(request.store, target.id, source.mailbox, target.known, target.keepUidsAbove);
      for (const file of source.files) {
        done++;
        const size = await stat(file.path).then((s) => s.size, () => null);
        if (size === null) {
          writer.report.skipped++;
          problem(`${file.path}: vanished before it was read`);
        } else if (size > request.maxMessageBytes) {
          writer.report.skipped++;
          problem(`${file.path}: larger than ${request.maxMessageBytes} octets`);
        } else {
          const content = await readFile(file.path).catch(() => null);
          if (content === null) {
            writer.report.skipped++;
            problem(`${file.path}: vanished before it was read`);
          } else {
            bytes += content.length;
            await addOrReport(writer, toCrlf(content), file.flags, file.internalDate, request.maxMessageBytes, file.path, problem, file.uid);
          }
        }
        progress(total);
      }
      await writer.flush();
      folders.push(writer.report);
    }
    progress(total, true);
  }
  if (kind === "mbox" || kind === "mbox-tree") progress(done, true);
  return { kind, folders, problems, problemCount, bytes, durationMs: Date.now() - started };
}

async function addOrReport(writer: FolderWriter, bytes: Buffer, flags: readonly string[], internalDate: Date | null, maxBytes: number, where: string, problem: (line: string) => void, uid?: number): Promise<void> {
  try {
    await writer.add(bytes, flags, internalDate, maxBytes, uid);
  } catch (error) {
    if (!isStoreError(error, "TOOBIG")) throw error;
    writer.report.skipped++;
    problem(`${where}: larger than ${maxBytes} octets`);
  }
}
