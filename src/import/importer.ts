// `mailroom import`: an mbox file, a Maildir (with Maildir++ folders) or a folder of .eml files
// into one account, through the MailStore interface only (so it works on every backend):
//   - each message is staged (written, hashed, parsed), then appended in batches with its flags
//     and INTERNALDATE; a batch's messages land together or not at all, and its files are made
//     durable together just before (stageMessage deferSync: one fsync per file and one per blob
//     folder for the batch, then one commit), so a crash loses at most the unfinished batch;
//   - a message whose bytes a target mailbox already holds (same blob) is skipped, so running the
//     same import again adds nothing, and an interrupted import resumes by running it again;
//   - a message larger than the limit, or a file that vanished, is reported and skipped; nothing
//     already stored is touched.
// Memory is a few messages being staged (STAGING_PARALLEL, at most STAGING_BYTES) plus one batch of
// staged handles (at most BATCH messages or BATCH_BYTES of them), whatever the size of the source.
import { createReadStream } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { basename } from "node:path";
import { storableFlags } from "../delivery/deliver-local.js";
import type { AccountId, BlobId, MailboxId, MailStore, StagedAppend, StagedMessage, Uid, UidValidity } from "../store/index.js";
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

/**
 * Messages appended per store call (one commit, one round of fsyncs), and the octets of their
 * files at most: a staged message keeps its parsed structure and search text in memory until its
 * batch is appended, and a kill loses at most one batch (re-run, it is imported then).
 */
const BATCH = 200;
const BATCH_BYTES = 32 * 1024 * 1024;
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

/**
 * Stagings in flight at once, and at most this many octets of their messages in memory: each
 * staging ends in an fsync of the file and of its folder (store/blobs/blob-directory.ts), and the
 * disk commits several of those together, where one at a time each waits for its own (the
 * difference between a few MB/s and tens of MB/s for an mbox of small messages).
 */
const STAGING_PARALLEL = 8;
const STAGING_BYTES = 32 * 1024 * 1024;
/** The mbox reader's MessageRing: the stagings in flight plus the few messages read ahead of them. */
const MESSAGE_RING_BYTES = 40 * 1024 * 1024;

/**
 * One buffer, allocated once, that the mbox reader copies each message into (readMbox allocate),
 * handed out and given back in order like a ring: messages are staged and let go oldest first
 * (FolderWriter.settleOne). A fresh buffer per message cost a page fault per 4 KiB written into
 * it, more than the copy itself; here the pages are faulted in once. A message that does not fit
 * in the free space gets a buffer of its own.
 */
export class MessageRing {
  private readonly buffer: Buffer;
  /** Offsets handed out and not given back, oldest first (start, end). */
  private readonly live: [number, number][] = [];
  /** Where the next message goes. */
  private head = 0;

  constructor(size: number) {
    // Never from Node's shared pool: release() recognises the ring's buffers by their ArrayBuffer.
    this.buffer = Buffer.allocUnsafeSlow(size);
  }

  allocate(size: number): Buffer {
    const oldest = this.live.length > 0 ? this.live[0]![0] : null;
    let start: number | null = null;
    if (oldest === null) start = size <= this.buffer.length ? 0 : null;
    else if (this.head > oldest) {
      // Free space is head..end, then 0..oldest.
      if (this.head + size <= this.buffer.length) start = this.head;
      else if (size < oldest) start = 0;
    } else if (this.head + size < oldest) start = this.head;
    if (start === null) return Buffer.allocUnsafe(size);
    this.live.push([start, start + size]);
    this.head = start + size;
    return this.buffer.subarray(start, start + size);
  }

  /** Gives back a buffer from allocate(): the oldest one still out (others are ignored). */
  release(bytes: Buffer): void {
    const oldest = this.live[0];
    if (oldest && bytes.buffer === this.buffer.buffer && bytes.byteOffset === this.buffer.byteOffset + oldest[0]) this.live.shift();
    if (this.live.length === 0) this.head = 0;
  }
}

interface Staging {
  staged: Promise<StagedMessage | { error: unknown }>;
  size: number;
  flags: readonly string[];
  internalDate: Date | null;
  uid: number | undefined;
  where: string;
  bytes: Buffer;
}

class FolderWriter {
  readonly report: FolderReport;
  private batch: StagedAppend[] = [];
  private batchBytes = 0;
  private staging: Staging[] = [];
  private stagingBytes = 0;

  constructor(
    private readonly store: ImportStore,
    private readonly mailboxId: MailboxId,
    mailbox: string,
    private readonly known: Set<BlobId>,
    private readonly maxBytes: number,
    private readonly problem: (line: string) => void,
    /** Source UIDs above this are kept (UIDNEXT - 1 of a mailbox that has the source's UIDVALIDITY), or null. */
    private keepUidsAbove: number | null = null,
    /** Where the added messages' bytes came from, given back once staged (mbox files). */
    private readonly ring: MessageRing | null = null,
  ) {
    this.report = { mailbox, imported: 0, duplicates: 0, skipped: 0 };
  }

  /**
   * Starts staging one message; messages are appended in the order they were added.
   * @param uid the source's UID (dovecot-uidlist), kept when the folder keeps UIDs (openFolder)
   *   and it is above every UID given so far; else the message gets the next UID.
   */
  async add(bytes: Buffer, flags: readonly string[], internalDate: Date | null, where: string, uid?: number): Promise<void> {
    const staged = this.store.stageMessage(bytes, { maxBytes: this.maxBytes, deferSync: true }).catch((error: unknown) => ({ error }));
    this.staging.push({ staged, size: bytes.length, flags, internalDate, uid, where, bytes });
    this.stagingBytes += bytes.length;
    while (this.staging.length >= STAGING_PARALLEL || this.stagingBytes > STAGING_BYTES) await this.settleOne();
  }

  /** The oldest staging: skipped when too big, dropped as a duplicate, or queued for the next append. */
  private async settleOne(): Promise<void> {
    const next = this.staging.shift()!;
    this.stagingBytes -= next.size;
    const staged = await next.staged;
    // Written (or refused): the bytes are not needed any more.
    this.ring?.release(next.bytes);
    if ("error" in staged) {
      if (!isStoreError(staged.error, "TOOBIG")) {
        // Stop: the stagings still in flight are released once they land.
        for (const rest of this.staging.splice(0)) void rest.staged.then((s) => ("error" in s ? undefined : s.discard()));
        throw staged.error;
      }
      this.report.skipped++;
      this.problem(`${next.where}: larger than ${this.maxBytes} octets`);
      return;
    }
    if (this.known.has(staged.blobId)) {
      staged.discard();
      this.report.duplicates++;
      return;
    }
    this.known.add(staged.blobId);
    const keep = this.keepUidsAbove !== null && next.uid !== undefined && next.uid > this.keepUidsAbove;
    // One store call keeps UIDs for all its messages or for none (appendStaged).
    if (this.batch.length > 0 && (this.batch[0]!.uid !== undefined) !== keep) await this.append();
    if (keep) this.keepUidsAbove = next.uid!;
    this.batch.push({ source: staged, flags: storableFlags(next.flags.filter((f) => f !== "\\Recent")), ...(next.internalDate ? { internalDate: next.internalDate } : {}), ...(keep ? { uid: next.uid as Uid } : {}) });
    this.batchBytes += staged.size;
    if (this.batch.length >= BATCH || this.batchBytes >= BATCH_BYTES) await this.append();
  }

  /** Waits for every staging and appends what is left. */
  async flush(): Promise<void> {
    while (this.staging.length > 0) await this.settleOne();
    await this.append();
    if (this.inFlight) await this.inFlight;
  }

  /**
   * Hands the batch to the store and returns once the PREVIOUS batch is appended: one batch's
   * fsyncs and commit overlap the reading and staging of the next (a kill still leaves whole
   * batches, in order: each starts only after the one before it committed).
   */
  private async append(): Promise<void> {
    if (this.batch.length === 0) return;
    const batch = this.batch;
    this.batch = [];
    this.batchBytes = 0;
    // A message appended without a kept UID takes UIDNEXT: later kept UIDs must be above it.
    if (this.keepUidsAbove !== null && batch[0]!.uid === undefined) this.keepUidsAbove = null;
    const previous = this.inFlight;
    const appended = (previous ?? Promise.resolve())
      .then(() => this.store.appendStaged(this.mailboxId, batch))
      .then(
        () => {
          this.report.imported += batch.length;
        },
        (error: unknown) => {
          // This batch failed, or the one before it (then this one never started).
          for (const item of batch) {
            item.source.discard();
            this.known.delete(item.source.blobId);
          }
          throw error;
        },
      );
    appended.catch(() => undefined); // awaited by the next append() or flush()
    this.inFlight = appended;
    if (previous) await previous;
  }

  /** The last batch handed to the store, until flush() has awaited it. */
  private inFlight: Promise<void> | null = null;
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
    const ring = new MessageRing(MESSAGE_RING_BYTES);
    for (const file of files) {
      const target = await openFolder(request.store, request.accountId, file.mailbox);
      const writer = new FolderWriter(request.store, target.id, file.mailbox, target.known, request.maxMessageBytes, problem, null, ring);
      for await (const item of readMbox(createReadStream(file.path, { highWaterMark: 1 << 20 }), { maxMessageBytes: request.maxMessageBytes, allocate: (size) => ring.allocate(size) })) {
        done++;
        if ("skipped" in item) {
          writer.report.skipped++;
          problem(`${basename(file.path)} message ${item.index}: ${item.reason}`);
        } else {
          bytes += item.bytes.length;
          await writer.add(item.bytes, item.flags, item.internalDate, `${basename(file.path)} message ${item.index}`);
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
      const writer = new FolderWriter(request.store, target.id, source.mailbox, target.known, request.maxMessageBytes, problem, target.keepUidsAbove);
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
            await writer.add(toCrlf(content), file.flags, file.internalDate, file.path, file.uid);
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
