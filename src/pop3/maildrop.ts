// The maildrop of one POP3 session: a snapshot of INBOX taken at login (RFC 1939 §5: message
// numbers are fixed for the session), with the session's deletion marks and what it retrieved.
// The store stays the source of truth: a message expunged meanwhile (by IMAP) is found missing
// when it is read, and answered -ERR, never sent as other bytes.
import type { Account, MailStore, Mailbox, StoredMessage, Uid } from "../store/index.js";
import { isStoreError } from "../store/index.js";
import { SentOctetCounter } from "./protocol/index.js";
import type { SentSizeCache } from "./sent-size-cache.js";

/** RFC 1939 §3: 1-based, fixed at login; never a UID. */
export type MessageNumber = number & { readonly __brand: "Pop3MessageNumber" };

export interface MaildropEntry {
  readonly number: MessageNumber;
  readonly uid: Uid;
  readonly storedSize: number;
  readonly internalDate: Date;
  seen: boolean;
  /** DELE'd in this session (RFC 1939 §5: unmarked by RSET, applied at QUIT). */
  deleted: boolean;
  /** RETR sent it in full in this session. */
  retrieved: boolean;
  /** Octets as RETR sends them, once known. */
  sentSize: number | null;
}

/** A message opened for sending: the first chunks are already read, so it is known to exist. */
export interface OpenedMessage {
  readonly chunks: AsyncIterable<Buffer> | Iterable<Buffer>;
  /** Stops reading early (TOP); safe to call more than once. */
  close(): void;
}

type Store = Pick<MailStore, "getMailbox" | "listMessages" | "getSummaries" | "getCrlfSizes" | "readMessages" | "getMessages" | "openMessage" | "removeMessages" | "updateFlags">;

const SIZE_BATCH = 256;
const SIZE_PARALLELISM = 4;
/** Messages up to this size are sent from one read (MailStore.readMessages), not a stream. */
const SMALL_MESSAGE = 64 * 1024;
/** The read-ahead window grows to this many messages, and never holds more octets than READ_AHEAD_OCTETS. */
const READ_AHEAD_MESSAGES = 64;
const READ_AHEAD_OCTETS = 1024 * 1024;
const nothing = (): void => undefined;

export class Maildrop {
  readonly #entries: MaildropEntry[];
  readonly #pendingSeen = new Set<MaildropEntry>();
  /** Small messages read ahead of the client's RETRs. */
  #ahead = new Map<Uid, Buffer>();
  #window = 1;
  /** Whether #ahead was checked against the store in this batch of commands. */
  #aheadChecked = false;

  private constructor(
    private readonly store: Store,
    readonly mailbox: Mailbox,
    entries: MaildropEntry[],
    private readonly sizes: SentSizeCache,
  ) {
    this.#entries = entries;
  }

  /** Null when the account has no INBOX (it always should). */
  static async open(store: Store, account: Account, sizes: SentSizeCache): Promise<Maildrop | null> {
    const mailbox = await store.getMailbox(account.id, "INBOX");
    if (mailbox === null) return null;
    const summaries = await store.listMessages(mailbox.id);
    // Counted at delivery: STAT and LIST read no message unless it predates that count.
    const counted = await store.getCrlfSizes(mailbox.id, summaries.map((summary) => summary.uid));
    const entries = summaries.map((summary, index) => ({
      number: (index + 1) as MessageNumber,
      uid: summary.uid,
      storedSize: summary.size,
      internalDate: summary.internalDate,
      seen: summary.flags.includes("\\Seen"),
      deleted: false,
      retrieved: false,
      sentSize: counted.get(summary.uid) ?? sizes.get(mailbox.id, mailbox.uidValidity, summary.uid) ?? null,
    }));
    return new Maildrop(store, mailbox, entries, sizes);
  }

  get count(): number {
    return this.#entries.length;
  }

  /** The entry for a message number, including DELE'd ones; null when out of range. */
  entry(n: number): MaildropEntry | null {
    return n >= 1 ? (this.#entries[n - 1] ?? null) : null;
  }

  /** Messages not marked deleted, in number order. */
  live(): MaildropEntry[] {
    return this.#entries.filter((entry) => !entry.deleted);
  }

  /** RFC 1939 §7 UIDL: stable across sessions, as long as UIDVALIDITY holds; 0x21-0x7E only. */
  uniqueId(entry: MaildropEntry): string {
    return `${this.mailbox.uidValidity}.${entry.uid}`;
  }

  /** RSET: RFC 1939 §5 unmarks every message marked deleted. */
  unmarkAll(): void {
    for (const entry of this.#entries) entry.deleted = false;
  }

  /** Fills sentSize for the entries that lack it, reading each uncounted message once. */
  async countSentOctets(entries: readonly MaildropEntry[]): Promise<void> {
    const missing = entries.filter((entry) => entry.sentSize === null);
    for (let at = 0; at < missing.length; at += SIZE_BATCH) {
      const batch = missing.slice(at, at + SIZE_BATCH);
      const stored = new Map((await this.store.getMessages(this.mailbox.id, batch.map((e) => e.uid))).map((m) => [m.uid, m]));
      let next = 0;
      const worker = async () => {
        for (let i = next++; i < batch.length; i = next++) {
          const entry = batch[i]!;
          const message = stored.get(entry.uid);
          // Expunged by another session: RETR will refuse it, so the stored size is as good as any.
          entry.sentSize = message === undefined ? entry.storedSize : await this.#count(message, entry);
        }
      };
      await Promise.all(Array.from({ length: Math.min(SIZE_PARALLELISM, batch.length) }, worker));
    }
  }

  async #count(message: StoredMessage, entry: MaildropEntry): Promise<number> {
    const counter = new SentOctetCounter();
    try {
      for await (const chunk of this.store.openMessage(message)) counter.push(chunk as Buffer);
    } catch (error) {
      // Expunged meanwhile, or its bytes lost (RETR will say so): the stored size stands in.
      if (isStoreError(error, "NONEXISTENT") || isStoreError(error, "DAMAGED")) return entry.storedSize;
      throw error;
    }
    const octets = counter.total();
    this.sizes.set(this.mailbox.id, this.mailbox.uidValidity, entry.uid, octets);
    return octets;
  }

  /**
   * Opens the message for RETR/TOP, or null when it no longer exists. Reads past the trace prefix
   * before returning, so the blob file is open too: from then on an expunge cannot cut the read
   * short (store/sqlite openMessage), and the "+OK" is only sent for a message that will follow.
   */
  async openForSending(entry: MaildropEntry): Promise<OpenedMessage | null> {
    if (entry.storedSize <= SMALL_MESSAGE) {
      if (this.#ahead.has(entry.uid) && !this.#aheadChecked) await this.#checkAhead();
      if (!this.#ahead.has(entry.uid)) await this.#readAhead(entry);
      const bytes = this.#ahead.get(entry.uid);
      this.#ahead.delete(entry.uid);
      if (bytes !== undefined) return { chunks: [bytes], close: nothing };
      // Not read: expunged since login. The path below finds that out and answers null.
    }
    const [message] = await this.store.getMessages(this.mailbox.id, [entry.uid]);
    if (message === undefined) return null;
    const stream = this.store.openMessage(message);
    const iterator = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    const head: Buffer[] = [];
    let read = 0;
    let finished = false;
    try {
      while (read <= message.prefixLength) {
        const step = await iterator.next();
        if (step.done) {
          finished = true;
          break;
        }
        head.push(step.value);
        read += step.value.length;
      }
    } catch (error) {
      stream.destroy();
      if (isStoreError(error, "NONEXISTENT") || (error as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw error;
    }
    async function* chunks(): AsyncGenerator<Buffer> {
      yield* head;
      if (finished) return;
      for (let step = await iterator.next(); !step.done; step = await iterator.next()) yield step.value;
    }
    return { chunks: chunks(), close: () => stream.destroy() };
  }

  /**
   * Reads `from` and the small messages after it in one store call. While the client takes what
   * was read ahead (RETR 1, RETR 2, ...), the window doubles with each read (1, 2, 4 ... 64
   * messages), so a thousand messages cost a few dozen reads; a client that skips what was read
   * goes back to reading only what it asks for.
   */
  async #readAhead(from: MaildropEntry): Promise<void> {
    if (this.#ahead.size > 0) this.#window = 1;
    const uids = [from.uid];
    let octets = from.storedSize;
    for (let n = from.number + 1; uids.length < this.#window; n++) {
      const next = this.#entries[n - 1];
      if (next === undefined || octets + next.storedSize > READ_AHEAD_OCTETS) break;
      if (next.deleted || next.storedSize > SMALL_MESSAGE) continue;
      uids.push(next.uid);
      octets += next.storedSize;
    }
    this.#window = Math.min(this.#window * 2, READ_AHEAD_MESSAGES);
    this.#ahead = await this.store.readMessages(this.mailbox.id, uids, { maxSize: SMALL_MESSAGE });
    this.#aheadChecked = true;
  }

  /**
   * Once per batch of commands, what was read ahead is checked against the store (one light
   * query, no file read): a message expunged by another session since is dropped, so RETR answers
   * -ERR for it as it would without the read-ahead. Bytes never change while the UID exists.
   */
  async #checkAhead(): Promise<void> {
    const present = new Set((await this.store.getSummaries(this.mailbox.id, [...this.#ahead.keys()])).map((summary) => summary.uid));
    for (const uid of this.#ahead.keys()) if (!present.has(uid)) this.#ahead.delete(uid);
    this.#aheadChecked = true;
  }

  /** The end of a batch of pipelined commands: the read-ahead is checked again before it is used. */
  endBatch(): void {
    this.#aheadChecked = false;
  }

  /**
   * RETR with markSeen: \Seen for IMAP users (RFC 9051 §2.3.2). Gathered and written by
   * flushSeen() once per batch of pipelined commands, so downloading a thousand messages costs one
   * store write, not a thousand.
   */
  markSeen(entry: MaildropEntry): void {
    if (!entry.seen) this.#pendingSeen.add(entry);
  }

  get hasPendingSeen(): boolean {
    return this.#pendingSeen.size > 0;
  }

  /** Writes the gathered \Seen flags, leaving out the messages about to be removed. */
  async flushSeen(skip: ReadonlySet<Uid> = new Set()): Promise<void> {
    const entries = [...this.#pendingSeen].filter((entry) => !skip.has(entry.uid));
    this.#pendingSeen.clear();
    if (entries.length === 0) return;
    await this.store.updateFlags(this.mailbox.id, entries.map((entry) => entry.uid), { mode: "add", flags: ["\\Seen"] });
    for (const entry of entries) entry.seen = true;
  }

  /**
   * The UIDs the UPDATE state removes (RFC 1939 §6): those marked by DELE; with the account's
   * delete-after-retrieve mode or EXPIRE 0 (RFC 2449 §6.7: an implicit DELE for each message
   * downloaded) those RETR sent in full; and with EXPIRE n, messages already retrieved (RETR now,
   * or \Seen) whose INTERNALDATE is n days old or older. Only messages of this snapshot are ever
   * touched, so mail that arrived during the session stays.
   */
  removalsAtUpdate(policy: Account["pop3"], now: Date): Uid[] {
    const deleteRetrieved = policy.mode === "delete-after-retrieve" || policy.expireDays === 0;
    const expireBefore = policy.expireDays !== null && policy.expireDays > 0 ? now.getTime() - policy.expireDays * 86_400_000 : null;
    return this.#entries
      .filter((entry) => {
        if (entry.deleted) return true;
        if (entry.retrieved && deleteRetrieved) return true;
        return expireBefore !== null && (entry.retrieved || entry.seen) && entry.internalDate.getTime() <= expireBefore;
      })
      .map((entry) => entry.uid);
  }

  async remove(uids: readonly Uid[]): Promise<number> {
    if (uids.length === 0) return 0;
    return (await this.store.removeMessages(this.mailbox.id, uids)).expunged.length;
  }
}
