// The receiving half of `mailroom migrate` (IMAP and POP3 sources alike): one of our mailboxes
// that source messages are copied into, in batches, with what each became recorded in the
// migration state (store/migration-store.ts) after the batch is stored.
//
// Resuming safely: the store appends a batch and the state is recorded just after, in two steps.
// If the process dies between them, the next run fetches those messages again; their bytes are
// the blob the mailbox already holds, so they are recognised (same blob = same message, as
// `mailroom import` decides) and only recorded, never stored twice.
import { storableFlags } from "../delivery/deliver-local.js";
import type { AccountId, BlobId, Flag, MailboxId, MailStore, MessageSource, MigratedMessage, MigrationFolderState, MigrationStateStore, StagedAppend, StagedMessage, Uid } from "../store/index.js";
import { isStoreError } from "../store/index.js";

export type MigrateStore = Pick<MailStore, "getMailbox" | "listMailboxes" | "createMailbox" | "stageMessage" | "appendStaged" | "listMessages" | "getMessages" | "getSummaries" | "updateFlags">;

/** Messages appended per store call, and at most this many octets of them held at once. */
export const APPEND_BATCH = 50;
export const APPEND_BATCH_BYTES = 16 * 1024 * 1024;
/** Messages staged at once by addMany: their bodies are in memory already (one FETCH), so only their fsyncs wait together. */
const STAGING_PARALLEL = 32;

export interface FolderCounts {
  copied: number;
  /** Already there: copied by an earlier run, or the same bytes present. */
  present: number;
  skipped: number;
  flagsSynced: number;
}

export class MigrationTarget {
  readonly counts: FolderCounts = { copied: 0, present: 0, skipped: 0, flagsSynced: 0 };
  private batch: { append: StagedAppend; key: string }[] = [];
  private batchBytes = 0;
  private recorded: MigratedMessage[] = [];

  private constructor(
    private readonly store: MigrateStore,
    private readonly state: MigrationStateStore,
    private readonly accountId: AccountId,
    private readonly source: string,
    private readonly folder: string,
    readonly mailboxId: MailboxId,
    readonly mailbox: string,
    /** Blobs the mailbox holds, with the UID holding each. */
    private readonly known: Map<BlobId, Uid>,
    private folderState: MigrationFolderState,
  ) {}

  static async open(store: MigrateStore, state: MigrationStateStore, accountId: AccountId, source: string, folder: string, mailboxId: MailboxId, mailbox: string, folderState: MigrationFolderState): Promise<MigrationTarget> {
    const known = new Map<BlobId, Uid>();
    const uids = (await store.listMessages(mailboxId)).map((m) => m.uid);
    for (let i = 0; i < uids.length; i += 500) for (const message of await store.getMessages(mailboxId, uids.slice(i, i + 500))) known.set(message.blobId, message.uid);
    return new MigrationTarget(store, state, accountId, source, folder, mailboxId, mailbox, known, folderState);
  }

  /** Stages one source message; a batch is stored once it is full. `sourceUid` advances the mark once stored (IMAP). */
  async add(key: string, bytes: MessageSource, size: number, flags: readonly Flag[], internalDate: Date | null, maxBytes: number, sourceUid = 0): Promise<"queued" | "present" | "toobig"> {
    let staged;
    try {
      staged = await this.store.stageMessage(bytes, { maxBytes });
    } catch (error) {
      if (isStoreError(error, "TOOBIG")) {
        // It will never fit: the mark moves past it, as for one LIST/FETCH already said was too big.
        this.skip(sourceUid);
        return "toobig";
      }
      throw error;
    }
    return this.take(staged, key, size, flags, internalDate, sourceUid);
  }

  private async take(staged: StagedMessage, key: string, size: number, flags: readonly Flag[], internalDate: Date | null, sourceUid: number): Promise<"queued" | "present"> {
    let existing = this.known.get(staged.blobId);
    // The same bytes twice in one batch: the first has no UID until the batch is stored, so store
    // it now and record this one against the UID it got (never against a placeholder).
    if (existing === 0) {
      try {
        await this.flush();
      } catch (error) {
        staged.discard();
        throw error;
      }
      existing = this.known.get(staged.blobId);
    }
    if (existing !== undefined) {
      staged.discard();
      this.counts.present++;
      this.recorded.push({ key, mailboxId: this.mailboxId, uid: existing });
      this.advance(sourceUid);
      return "present";
    }
    this.known.set(staged.blobId, 0 as Uid);
    const append: StagedAppend = { source: staged, flags: storableFlags(flags.filter((f) => f !== "\\Recent")), ...(internalDate ? { internalDate } : {}) };
    this.batch.push({ append, key });
    this.batchBytes += size;
    this.advance(sourceUid);
    if (this.batch.length >= APPEND_BATCH || this.batchBytes >= APPEND_BATCH_BYTES) await this.flush();
    return "queued";
  }

  /**
   * add() for messages already in memory (a FETCH of several small ones), staged up to
   * STAGING_PARALLEL at a time so their fsyncs commit together, then taken in order. Returns the
   * keys of those larger than maxBytes (skipped).
   */
  async addMany(items: readonly { key: string; bytes: Buffer; flags: readonly Flag[]; internalDate: Date | null; sourceUid: number }[], maxBytes: number): Promise<string[]> {
    const tooBig: string[] = [];
    for (let i = 0; i < items.length; i += STAGING_PARALLEL) {
      const group = items.slice(i, i + STAGING_PARALLEL);
      const staged = await Promise.all(group.map((item) => this.store.stageMessage(item.bytes, { maxBytes }).catch((error: unknown) => ({ error }))));
      for (const [j, item] of group.entries()) {
        const result = staged[j]!;
        if ("error" in result) {
          // Release what the rest of the group staged before giving up on a real failure.
          if (!isStoreError(result.error, "TOOBIG")) {
            for (const other of staged.slice(j + 1)) if (!("error" in other)) other.discard();
            throw result.error;
          }
          this.skip(item.sourceUid);
          tooBig.push(item.key);
          continue;
        }
        await this.take(result, item.key, item.bytes.length, item.flags, item.internalDate, item.sourceUid);
      }
    }
    return tooBig;
  }

  /** A source message that will never be copied (too big, vanished): the mark moves past it. */
  skip(sourceUid = 0): void {
    this.counts.skipped++;
    this.advance(sourceUid);
  }

  private advance(sourceUid: number): void {
    if (sourceUid > this.folderState.lastUid) this.folderState = { ...this.folderState, lastUid: sourceUid };
  }

  /** Stores the staged batch, then records it and the folder's mark. */
  async flush(): Promise<void> {
    const batch = this.batch;
    this.batch = [];
    this.batchBytes = 0;
    if (batch.length > 0) {
      let copies;
      try {
        copies = await this.store.appendStaged(this.mailboxId, batch.map((b) => b.append));
      } catch (error) {
        for (const item of batch) {
          item.append.source.discard();
          this.known.delete(item.append.source.blobId);
        }
        throw error;
      }
      copies.forEach((copy, i) => {
        this.known.set(batch[i]!.append.source.blobId, copy.uid);
        this.recorded.push({ key: batch[i]!.key, mailboxId: this.mailboxId, uid: copy.uid });
      });
      this.counts.copied += batch.length;
    }
    const recorded = this.recorded;
    this.recorded = [];
    await this.state.recordMigration(this.accountId, this.source, this.folder, this.folderState, recorded);
  }

  /** Sets our copy's flags to the source's where they differ (the source is the authority on a re-run). */
  async syncFlags(pairs: readonly { uid: Uid; flags: readonly Flag[] }[]): Promise<void> {
    if (pairs.length === 0) return;
    const ours = new Map((await this.store.getSummaries(this.mailboxId, pairs.map((p) => p.uid))).map((m) => [m.uid, m.flags]));
    for (const pair of pairs) {
      const current = ours.get(pair.uid);
      if (current === undefined) continue;
      const wanted = storableFlags(pair.flags.filter((f) => f !== "\\Recent"));
      if (sameFlags(current, wanted)) continue;
      await this.store.updateFlags(this.mailboxId, [pair.uid], { mode: "set", flags: wanted });
      this.counts.flagsSynced++;
    }
  }
}

function sameFlags(a: readonly Flag[], b: readonly Flag[]): boolean {
  const left = new Set(a.map((f) => f.toLowerCase()));
  const right = new Set(b.map((f) => f.toLowerCase()));
  return left.size === right.size && [...left].every((f) => right.has(f));
}
