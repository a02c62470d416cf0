// The selected mailbox as one session sees it: the sequence number ↔ UID map (the ONLY place
// that converts between them, ARCHITECTURE §5.4), each message's flags and modseq as last told
// to the client, and the store changes not yet announced.
//
// Changes flow in from the store: the session marks the mailbox dirty when the change feed
// reports a commit for it, and at each point where untagged responses may be sent it calls
// sync(), which asks MailStore.changesSince(mailbox, lastSyncedModSeq) and turns the answer into
// responses: `n EXISTS` for new messages, `n FETCH (UID FLAGS [MODSEQ])` for flag changes, and
// `n EXPUNGE` (or `VANISHED uids` under QRESYNC) for removals.
//
// RFC 9051 §7.4.1 / §5.5: EXPUNGE must not be sent while responding to FETCH, STORE or SEARCH
// (non-UID), nor with no command in progress (except during IDLE). An expunged message therefore
// keeps its sequence number until sync() is allowed to announce it; until then it stays in the
// map (a FETCH of it finds nothing in the store) and its flag changes are not reported.
//
// \Recent (RFC 3501 §2.3.2, IMAP4rev1 only): a session that selects read-write claims the
// mailbox's recent messages from the store (MailStore.claimRecent), and claims again whenever it
// is told of new messages, so each message is \Recent in exactly one session. Every EXISTS a
// rev1 client gets is followed by RECENT (RFC 3501 §7.3.2: the count changes with it).
//
// Keywords (RFC 9051 §7.3.5, §7.1 PERMANENTFLAGS): SELECT's FLAGS lists the system flags and
// every keyword in use in the mailbox; a client may take that list as the complete set, so a
// FETCH must never show a keyword the client was not told of. Every flag list the session is
// about to show passes through here (reportedFlags, noteFlags, sync), a keyword new to the
// session is remembered, and the writer of the next FETCH (or sync) first sends the new FLAGS and
// PERMANENTFLAGS (flagsUpdate). The list only grows while the mailbox is selected, as Dovecot's.
import { permanentFlagsFor } from "../acl/selected-rights.js";
import { ALL_RIGHTS, SYSTEM_FLAGS, type Brand, type Flag, type Mailbox, type MailboxId, type MailStore, type ModSeq, type RecentClaim, type SelectionIndex, type Uid, type UidValidity } from "../../store/index.js";
import { ImapError } from "../commands/imap-error.js";
import { atom, list, num, type ImapValue } from "../protocol/response-value.js";
import { encodeNumbers, resolveRanges, type SequenceSet } from "../protocol/sequence-set.js";

/** RFC 9051 §2.3.1.2: a message's position in the selected mailbox, 1-based. */
export type SeqNum = Brand<number, "SeqNum">;

export interface ResolvedMessage {
  readonly seq: SeqNum;
  readonly uid: Uid;
}

export interface SyncOptions {
  /** False while the non-UID FETCH, STORE or SEARCH is being answered (RFC 9051 §7.4.1). */
  readonly allowExpunge: boolean;
  /** CONDSTORE enabled: unsolicited FETCH carries MODSEQ (RFC 7162 §3.2.4). */
  readonly condstore: boolean;
  /** QRESYNC enabled: VANISHED instead of EXPUNGE (RFC 7162 §3.2.10). */
  readonly qresync: boolean;
  /** IMAP4rev2 enabled: no \Recent in FETCH responses (RFC 9051 Appendix E). */
  readonly rev2?: boolean;
  /** RFC 9586 UIDONLY enabled: `uid UIDFETCH` for flag changes and VANISHED for expunges. */
  readonly uidOnly?: boolean;
}

const RECENT = "\\Recent" as Flag;

/**
 * How the session takes part in \Recent: "claim" (SELECT, rev1), "peek" (EXAMINE, rev1: shows
 * what is recent without taking it, RFC 3501 §6.3.2) or "none" (IMAP4rev2).
 */
export type RecentMode = "claim" | "peek" | "none";

/** SYSTEM_FLAGS as bits (MailStore.selectionIndex flagBits), and the bit for "has keywords". */
const FLAG_BITS = new Map<string, number>(SYSTEM_FLAGS.map((flag, i) => [flag.toLowerCase(), 1 << i]));
const HAS_KEYWORDS = 32;

/** The same bits by the flags' usual spelling, so the common case needs no case folding. */
const FLAG_BITS_EXACT = new Map<string, number>(SYSTEM_FLAGS.map((flag, i) => [flag, 1 << i]));

function flagBitsOf(flags: readonly Flag[]): number {
  let bits = 0;
  for (const flag of flags) bits |= FLAG_BITS_EXACT.get(flag) ?? FLAG_BITS.get(flag.toLowerCase()) ?? (flag.startsWith("\\") ? 0 : HAS_KEYWORDS);
  return bits;
}

/** Flag lists by bits, built once: every message without keywords shares one of 32 arrays. */
const FLAGS_BY_BITS: readonly (readonly Flag[])[] = Array.from({ length: 32 }, (_, bits) => SYSTEM_FLAGS.filter((_, i) => (bits & (1 << i)) !== 0) as Flag[]);

/** The first capacity of a selection's UID array beyond its messages (grows by a quarter after). */
const SPARE_UIDS = 64;

/** Resolved messages as parallel typed arrays (8 bytes each), ascending. */
export class ResolvedList {
  private readonly seqs: Uint32Array;
  private readonly uids: Uint32Array;

  constructor(readonly length: number) {
    this.seqs = new Uint32Array(length);
    this.uids = new Uint32Array(length);
  }

  static of(messages: readonly ResolvedMessage[]): ResolvedList {
    const list = new ResolvedList(messages.length);
    messages.forEach((m, i) => list.set(i, m.seq, m.uid));
    return list;
  }

  set(i: number, seq: number, uid: number): void {
    this.seqs[i] = seq;
    this.uids[i] = uid;
  }

  seqAt(i: number): SeqNum {
    return this.seqs[i] as SeqNum;
  }

  uidAt(i: number): Uid {
    return this.uids[i] as Uid;
  }

  /** The messages from start to end (exclusive) as a list of their own (FETCH PARTIAL, RFC 9394). */
  window(start: number, end: number): ResolvedList {
    const from = Math.max(0, Math.min(start, this.length));
    const to = Math.max(from, Math.min(end, this.length));
    const list = new ResolvedList(to - from);
    for (let i = from; i < to; i++) list.set(i - from, this.seqs[i]!, this.uids[i]!);
    return list;
  }

  /** The messages from start to end (exclusive) as objects: one page. */
  slice(start: number, end: number): ResolvedMessage[] {
    const out: ResolvedMessage[] = [];
    for (let i = start; i < Math.min(end, this.length); i++) out.push({ seq: this.seqs[i] as SeqNum, uid: this.uids[i] as Uid });
    return out;
  }
}

export class SelectedMailbox {
  /**
   * Ascending; the message with sequence number n is uids[n-1], for n up to count. Four bytes
   * per message here, one in bits and two in sets (7 in all, typed arrays, no object per
   * message): modseqs and anything else stay in the store and are read in pages when a command
   * needs them (docs/architecture.md, "A FETCH of a big mailbox").
   */
  private uids: Uint32Array;
  /**
   * Beside each UID, one byte: its system flags as last told to the client (FLAG_BITS) and
   * HAS_KEYWORDS, so `FETCH 1:* (FLAGS)` of an unchanged mailbox needs no store read unless a
   * message has keywords (those are read from the store).
   */
  private bits: Uint8Array;
  /**
   * Beside each UID with keywords, two bytes: the index of its flag list in flagSets (0: not
   * known, read from the store). With uids and bits, 7 bytes per message.
   */
  private sets: Uint16Array;
  /** Flag lists with keywords as last told, by id; id 0 is "unknown". */
  private readonly flagSets: (readonly Flag[])[] = [[]];
  private readonly flagSetIds = new Map<string, number>();
  private count: number;
  /** Removed in the store, still numbered here until an EXPUNGE/VANISHED is allowed. */
  private readonly heldExpunges = new Set<Uid>();
  private syncedModSeq: ModSeq;
  /**
   * Flag states this session itself reported (STORE, FETCH) newer than syncedModSeq, so the next
   * sync does not repeat them; emptied by each sync, so it lives only between two commands.
   */
  private noted = new Map<Uid, ModSeq>();
  private dirtyFlag = false;
  private savedSearch: Uid[] = [];
  /** UID ranges this session claimed as \Recent (empty unless it claims, see open()). */
  private readonly recentClaims: RecentClaim[] = [];
  /** Keywords the session knows of, by lower-case name (RFC 9051 §2.3.2: case-insensitive). */
  private readonly keywords = new Map<string, Flag>();
  /** Every spelling of a keyword already passed to learnKeywords (bounded by the keywords in use). */
  private readonly keywordSpellings = new Set<string>();
  /** A keyword was learned that the client has not been sent in a FLAGS response yet. */
  private keywordsUntold = false;
  private readonly firstUnseenUid: Uid | null;
  /**
   * RFC 4314: the user's rights on this mailbox, every right on its own mailboxes; on another
   * account's, set by SELECT and refreshed by the session before each command (imap/acl/).
   */
  rights: string = ALL_RIGHTS;

  private constructor(
    readonly mailbox: Mailbox,
    readonly readOnly: boolean,
    index: SelectionIndex,
    private readonly recentMode: RecentMode,
  ) {
    this.count = index.uids.length;
    this.uids = new Uint32Array(this.count + SPARE_UIDS);
    this.uids.set(index.uids);
    this.bits = new Uint8Array(this.count + SPARE_UIDS);
    this.bits.set(index.flagBits);
    this.sets = new Uint16Array(this.count + SPARE_UIDS);
    if (index.keywordSets !== undefined) {
      const { lists, ids } = index.keywordSets;
      const local = lists.map((flags) => this.flagSetId(flags));
      for (let i = 0; i < this.count; i++) {
        const id = ids[i] as number;
        if (id !== 0) this.sets[i] = local[id - 1] ?? 0;
      }
    }
    this.learnKeywords(index.keywords);
    this.firstUnseenUid = index.firstUnseen;
    // SELECT's own FLAGS response tells these.
    this.keywordsUntold = false;
    this.syncedModSeq = mailbox.highestModSeq;
  }

  /**
   * Loads the mailbox's UIDs (MailStore.selectionIndex: one snapshot, so highestModSeq never
   * claims changes the UID list does not show).
   */
  static async open(store: MailStore, mailbox: Mailbox, readOnly: boolean, recentMode: RecentMode = "none"): Promise<SelectedMailbox> {
    const index = await store.selectionIndex(mailbox.id);
    const selected = new SelectedMailbox(index.mailbox, readOnly, index, recentMode);
    // Claimed after the listing: a message arriving in between is in the claim, and is \Recent
    // here when the first sync announces it.
    await selected.claimRecent(store);
    return selected;
  }

  private async claimRecent(store: MailStore): Promise<void> {
    if (this.recentMode === "none") return;
    this.addClaim(await store.claimRecent(this.mailbox.id, { peek: this.recentMode === "peek" }));
  }

  /** RFC 3501 §2.3.2: the message is \Recent in this session. */
  isRecent(uid: Uid): boolean {
    return this.recentClaims.some((claim) => uid >= claim.first && uid < claim.next) && this.indexOf(uid) >= 0;
  }

  /** The number of messages \Recent in this session (SELECT's `n RECENT`). */
  get recentCount(): number {
    let count = 0;
    for (const claim of this.recentClaims) count += this.lowerBound(claim.next) - this.lowerBound(claim.first);
    return count;
  }

  /**
   * RFC 3501 §7.3.1 UNSEEN: the sequence number of the first message without \Seen, or null; as
   * it was at SELECT, which is the only command that reports it.
   */
  get firstUnseen(): SeqNum | null {
    return this.firstUnseenUid === null ? null : this.toSeq(this.firstUnseenUid);
  }

  /** RFC 9051 §7.3.5 FLAGS: the system flags, then the keywords in use, in the order first seen. */
  get applicableFlags(): Flag[] {
    return [...SYSTEM_FLAGS, ...this.keywords.values()];
  }

  /**
   * RFC 9051 §7.1 PERMANENTFLAGS: what STORE keeps, with `\*` as any new keyword may be created;
   * nothing in a read-only mailbox (§6.3.3 EXAMINE); on a shared mailbox only the flags the
   * user's rights let it change (RFC 4314 §4, acl/selected-rights.ts).
   */
  get permanentFlags(): string[] {
    return this.readOnly ? [] : permanentFlagsFor([...this.applicableFlags, "\\*"], this.rights);
  }

  /**
   * `FLAGS (...)` and, read-write, `OK [PERMANENTFLAGS (...)]` when a keyword came into use that
   * the client has not been told of (each is the values after "* "); else nothing. The caller
   * writes them before the responses that show the new keyword.
   */
  flagsUpdate(): ImapValue[][] {
    if (!this.keywordsUntold) return [];
    this.keywordsUntold = false;
    const responses: ImapValue[][] = [[atom("FLAGS"), list(this.applicableFlags.map((f) => atom(f)))]];
    if (!this.readOnly) responses.push([atom("OK"), atom(`[PERMANENTFLAGS (${this.permanentFlags.join(" ")})]`), atom("flags permitted")]);
    return responses;
  }

  private learnKeywords(flags: readonly Flag[]): void {
    for (const flag of flags) {
      // Every flag of a FETCH 1:* passes here: a spelling seen before costs one lookup.
      if (flag.startsWith("\\") || this.keywordSpellings.has(flag)) continue;
      this.keywordSpellings.add(flag);
      const key = flag.toLowerCase();
      if (this.keywords.has(key)) continue;
      this.keywords.set(key, flag);
      this.keywordsUntold = true;
    }
  }

  private addClaim(claim: RecentClaim): void {
    if (claim.next <= claim.first) return;
    const last = this.recentClaims[this.recentClaims.length - 1];
    if (last !== undefined && claim.first <= last.next) last.next = Math.max(last.next, claim.next) as Uid;
    else this.recentClaims.push({ ...claim });
  }

  private get claimedUpTo(): number {
    return this.recentClaims[this.recentClaims.length - 1]?.next ?? 0;
  }

  get mailboxId(): MailboxId {
    return this.mailbox.id;
  }

  get uidValidity(): UidValidity {
    return this.mailbox.uidValidity;
  }

  /** The number of messages the client has been told of (RFC 9051 §7.4.1 EXISTS). */
  get messageCount(): number {
    return this.count;
  }

  /** The modseq the session has synced to: what SELECT reports as HIGHESTMODSEQ. */
  get highestModSeq(): ModSeq {
    return this.syncedModSeq;
  }

  /** True when the change feed reported a commit for this mailbox since the last sync. */
  get dirty(): boolean {
    return this.dirtyFlag;
  }

  markDirty(): void {
    this.dirtyFlag = true;
  }

  /** All UIDs in sequence order (a copy: the session's array changes with the mailbox). */
  allUids(): Uid[] {
    return Array.from(this.uids.subarray(0, this.count)) as Uid[];
  }

  /** The largest UID in the map, or 0 when empty. */
  get lastUid(): number {
    return this.count === 0 ? 0 : (this.uids[this.count - 1] as number);
  }

  /** RFC 9051 §2.3.1.2. Throws BAD for a number outside 1..messageCount. */
  toUid(seq: SeqNum): Uid {
    if (!Number.isInteger(seq) || seq < 1 || seq > this.count) throw ImapError.bad(null, `invalid message sequence number ${seq}`);
    return this.uids[seq - 1] as Uid;
  }

  /** The sequence number of a UID still in the map, or null. */
  toSeq(uid: Uid): SeqNum | null {
    const index = this.indexOf(uid);
    return index < 0 ? null : ((index + 1) as SeqNum);
  }

  /**
   * The message's flags as last told to the client (without keywords: the system flags in
   * SYSTEM_FLAGS order; with keywords: the list as stored); null when its keyword list is not
   * known here or it is not in the map (read the store).
   */
  sessionFlags(uid: Uid): readonly Flag[] | null {
    const index = this.indexOf(uid);
    if (index < 0) return null;
    const bits = this.bits[index] as number;
    if ((bits & HAS_KEYWORDS) === 0) return FLAGS_BY_BITS[bits] as readonly Flag[];
    const set = this.sets[index] as number;
    return set === 0 ? null : (this.flagSets[set] as readonly Flag[]);
  }

  /**
   * The id of a keyword-bearing flag list in flagSets, added when new; 0 when the table is full
   * (65,535 distinct lists: that message's flags are then read from the store).
   */
  private flagSetId(flags: readonly Flag[]): number {
    const key = flags.join(" ");
    let id = this.flagSetIds.get(key);
    if (id === undefined) {
      if (this.flagSets.length > 0xffff) return 0;
      id = this.flagSets.length;
      this.flagSets.push([...flags]);
      this.flagSetIds.set(key, id);
    }
    return id;
  }

  /** Records a message's flags in bits and sets. */
  private setFlagsAt(index: number, flags: readonly Flag[]): void {
    // A STORE 1:* hands every message of a group the same array (sqlite/message-updates.ts):
    // its bits and set id are worked out once.
    if (flags !== this.lastFlags) {
      this.lastFlags = flags;
      this.lastBits = flagBitsOf(flags);
      this.lastSet = (this.lastBits & HAS_KEYWORDS) === 0 ? 0 : this.flagSetId(flags);
    }
    this.bits[index] = this.lastBits;
    this.sets[index] = this.lastSet;
  }

  /** setFlagsAt's last list and what it worked out for it. */
  private lastFlags: readonly Flag[] | null = null;
  private lastBits = 0;
  private lastSet = 0;

  /** True for a message removed from the store whose EXPUNGE has not been sent yet. */
  isExpunged(uid: Uid): boolean {
    return this.heldExpunges.has(uid);
  }

  /** RFC 5182 SEARCHRES: the UIDs `$` stands for. */
  get lastSearchResult(): readonly Uid[] {
    return this.savedSearch;
  }

  setLastSearchResult(uids: readonly Uid[]): void {
    this.savedSearch = [...uids].sort((a, b) => a - b);
  }

  /**
   * The messages a set names, ascending, each once. UID sets skip UIDs not in the mailbox
   * (RFC 9051 §6.4.8); sequence sets that name a number past the last message are BAD
   * (RFC 9051 §9 seq-number). `*` in an empty mailbox names nothing. With `pastEnd: "match-none"`
   * (a SEARCH key, which only tests messages) such numbers name no message instead, as in
   * Dovecot: `SEARCH RETURN () 1000` in a smaller mailbox is an empty result, not an error.
   */
  resolve(set: SequenceSet, byUid: boolean, options: { pastEnd?: "bad" | "match-none" } = {}): ResolvedMessage[] {
    if (set.kind === "saved") {
      // RFC 5182 §2.1: `$` holds UIDs; messages expunged since are silently dropped.
      return this.savedSearch.map((uid) => ({ uid, index: this.indexOf(uid) })).filter((m) => m.index >= 0).map((m) => ({ uid: m.uid, seq: (m.index + 1) as SeqNum }));
    }
    if (!byUid) {
      const ranges = resolveRanges(set, this.count);
      const out: ResolvedMessage[] = [];
      for (const range of ranges) {
        if (range.end > this.count && options.pastEnd !== "match-none") throw ImapError.bad(null, "invalid message sequence number");
        for (let seq = range.start; seq <= Math.min(range.end, this.count); seq++) out.push({ seq: seq as SeqNum, uid: this.uids[seq - 1] as Uid });
      }
      return out;
    }
    const ranges = resolveRanges(set, this.lastUid);
    const out: ResolvedMessage[] = [];
    for (const range of ranges) {
      for (let i = this.lowerBound(range.start); i < this.count; i++) {
        const uid = this.uids[i] as Uid;
        if (uid > range.end) break;
        out.push({ seq: (i + 1) as SeqNum, uid });
      }
    }
    return out;
  }

  /**
   * resolve() as two typed arrays (sequence numbers and UIDs) instead of an object per message:
   * what FETCH 1:* of a big mailbox walks a page at a time (ResolvedList.slice makes one page's
   * objects). Same rules as resolve().
   */
  resolveList(set: SequenceSet, byUid: boolean): ResolvedList {
    if (set.kind === "saved") return ResolvedList.of(this.resolve(set, byUid));
    if (!byUid) {
      const ranges = resolveRanges(set, this.count);
      let total = 0;
      for (const range of ranges) {
        if (range.end > this.count) throw ImapError.bad(null, "invalid message sequence number");
        total += range.end - range.start + 1;
      }
      const list = new ResolvedList(total);
      let at = 0;
      for (const range of ranges) {
        for (let seq = range.start; seq <= range.end; seq++) list.set(at++, seq, this.uids[seq - 1] as number);
      }
      return list;
    }
    const ranges = resolveRanges(set, this.lastUid);
    const bounds = ranges.map((range) => [this.lowerBound(range.start), this.lowerBound(range.end + 1)] as const);
    const list = new ResolvedList(bounds.reduce((n, [from, to]) => n + (to - from), 0));
    let at = 0;
    for (const [from, to] of bounds) for (let i = from; i < to; i++) list.set(at++, i + 1, this.uids[i] as number);
    return list;
  }

  /**
   * Records flags the session itself just reported (STORE's FETCH responses, FETCH setting \Seen),
   * so the next sync does not repeat them.
   */
  noteFlags(uid: Uid, flags: readonly Flag[], modseq: ModSeq): void {
    this.learnKeywords(flags);
    const index = this.indexOf(uid);
    if (index < 0) return;
    this.setFlagsAt(index, flags);
    // A state at or below the synced modseq is one no sync will report again.
    if (modseq <= this.syncedModSeq) return;
    const before = this.noted.get(uid);
    if (before === undefined || modseq > before) this.noted.set(uid, modseq);
  }

  /**
   * Records the flags one store update of this session set (STORE's FlagUpdateResult.updated,
   * all at one modseq). When that modseq is the one right after the synced one, no other change
   * (flags, new message or expunge: each takes a modseq) came in between, so the session is
   * current at it: the next sync reads nothing back, and `FETCH 1:* (FLAGS)` after
   * `STORE 1:* +FLAGS` is answered from the session without a store read.
   */
  noteUpdate(updated: readonly { uid: Uid; flags: readonly Flag[]; modseq: ModSeq }[]): void {
    const modseq = updated[0]?.modseq;
    if (modseq !== undefined && modseq === this.syncedModSeq + 1 && updated.every((u) => u.modseq === modseq)) this.syncedModSeq = modseq;
    for (const change of updated) this.noteFlags(change.uid, change.flags, change.modseq);
  }

  /**
   * Brings the map up to date with the store and returns the untagged responses to send, in
   * order (each is the values after "* "). Held expunges are released when allowed.
   */
  async sync(store: MailStore, options: SyncOptions): Promise<ImapValue[][]> {
    const responses: ImapValue[][] = [];
    const added: { uid: Uid; flags: readonly Flag[] }[] = [];
    const flagged: { uid: Uid; flags: readonly Flag[]; modseq: ModSeq }[] = [];
    if (this.dirtyFlag) {
      this.dirtyFlag = false;
      const changes = await store.changesSince(this.mailbox.id, this.syncedModSeq);
      for (const uid of changes.expunged) if (this.indexOf(uid) >= 0) this.heldExpunges.add(uid);
      const last = this.lastUid;
      for (const change of [...changes.changed].sort((a, b) => a.uid - b.uid)) {
        if (this.indexOf(change.uid) < 0) {
          if (change.uid > last) {
            added.push(change);
            this.learnKeywords(change.flags);
          }
        } else if (!this.heldExpunges.has(change.uid) && change.modseq > (this.noted.get(change.uid) ?? 0)) {
          this.learnKeywords(change.flags);
          this.setFlagsAt(this.indexOf(change.uid), change.flags);
          flagged.push(change);
        }
      }
      if (changes.highestModSeq > this.syncedModSeq) this.syncedModSeq = changes.highestModSeq;
      // What the session reported up to the synced modseq can no longer be repeated by a sync.
      const noted = new Map<Uid, ModSeq>();
      for (const [uid, modseq] of this.noted) if (modseq > this.syncedModSeq) noted.set(uid, modseq);
      this.noted = noted;
      // Messages announced to this session are \Recent to it unless another session claimed them.
      const newest = added[added.length - 1]?.uid;
      if (newest !== undefined && newest >= this.claimedUpTo) await this.claimRecent(store);
    }
    if (options.allowExpunge && this.heldExpunges.size > 0) responses.push(...this.releaseExpunges(options.qresync || options.uidOnly === true));
    if (added.length > 0) {
      this.append(added);
      responses.push([num(this.count), atom("EXISTS")]);
      // RFC 3501 §7.3.2: rev1 clients track the recent count, which changes with new messages
      // (in this session or, if another claimed them, staying as it was: sent either way).
      if (this.recentMode !== "none") responses.push([num(this.recentCount), atom("RECENT")]);
    }
    for (const change of flagged) {
      const seq = this.toSeq(change.uid);
      if (seq === null) continue;
      const items = list(this.fetchItems(change.uid, change, options.condstore, !options.rev2));
      // RFC 9586 §3.3: the UID takes the sequence number's place.
      responses.push(options.uidOnly === true ? [num(change.uid), atom("UIDFETCH"), items] : [num(seq), atom("FETCH"), items]);
    }
    // Keywords new in this sync's changes are announced before the responses that show them.
    return [...this.flagsUpdate(), ...responses];
  }

  /** `UID n FLAGS (...) [MODSEQ (m)]`: the items of an unsolicited FETCH, also used by STORE. */
  fetchItems(uid: Uid, state: { flags: readonly Flag[]; modseq: ModSeq }, condstore: boolean, withRecent: boolean): ImapValue[] {
    const items: ImapValue[] = [atom("UID"), num(uid), atom("FLAGS"), list(this.reportedFlags(uid, state.flags, withRecent).map((f) => atom(f)))];
    if (condstore) items.push(atom("MODSEQ"), list([num(state.modseq)]));
    return items;
  }

  /**
   * fetchItems as response text (flags are atoms, the rest numbers): what STORE 1:* of a big
   * mailbox writes per message, with no response tree.
   */
  fetchItemsText(uid: Uid, state: { flags: readonly Flag[]; modseq: ModSeq }, condstore: boolean, withRecent: boolean): string {
    const flags = this.reportedFlags(uid, state.flags, withRecent).join(" ");
    return condstore ? `UID ${uid} FLAGS (${flags}) MODSEQ (${state.modseq})` : `UID ${uid} FLAGS (${flags})`;
  }

  /** Flags as a FETCH shows them: with \Recent where it applies (rev1 only, RFC 3501 §2.3.2). */
  reportedFlags(uid: Uid, flags: readonly Flag[], withRecent: boolean): readonly Flag[] {
    this.learnKeywords(flags);
    return withRecent && this.isRecent(uid) ? [...flags, RECENT] : flags;
  }

  /** `vanished`: QRESYNC (RFC 7162 §3.2.10) or UIDONLY (RFC 9586) is on. */
  private releaseExpunges(vanished: boolean): ImapValue[][] {
    const gone = [...this.heldExpunges];
    this.heldExpunges.clear();
    const responses: ImapValue[][] = [];
    if (vanished) {
      // RFC 7162 §3.2.10: one VANISHED names them all by UID.
      responses.push([atom("VANISHED"), atom(encodeNumbers(gone))]);
    } else {
      // RFC 9051 §7.4.1: each EXPUNGE renumbers the later messages; highest first keeps every
      // number the client reads valid at the moment it reads it.
      const seqs = gone.map((uid) => this.indexOf(uid) + 1).filter((seq) => seq > 0).sort((a, b) => b - a);
      for (const seq of seqs) responses.push([num(seq), atom("EXPUNGE")]);
    }
    const goneSet = new Set(gone);
    // One compaction pass however many went (never a copy of the array per expunged message).
    let kept = 0;
    for (let i = 0; i < this.count; i++) {
      const uid = this.uids[i] as Uid;
      if (goneSet.has(uid)) continue;
      this.bits[kept] = this.bits[i] as number;
      this.sets[kept] = this.sets[i] as number;
      this.uids[kept++] = uid;
    }
    this.count = kept;
    for (const uid of gone) this.noted.delete(uid);
    this.savedSearch = this.savedSearch.filter((uid) => !goneSet.has(uid));
    return responses;
  }

  /** New messages, all above the last UID, at the end; the arrays grow by a quarter when full. */
  private append(messages: readonly { uid: Uid; flags: readonly Flag[] }[]): void {
    const needed = this.count + messages.length;
    if (needed > this.uids.length) {
      const capacity = Math.max(needed, Math.ceil(this.uids.length * 1.25)) + SPARE_UIDS;
      const uids = new Uint32Array(capacity);
      uids.set(this.uids.subarray(0, this.count));
      const bits = new Uint8Array(capacity);
      bits.set(this.bits.subarray(0, this.count));
      const sets = new Uint16Array(capacity);
      sets.set(this.sets.subarray(0, this.count));
      this.uids = uids;
      this.bits = bits;
      this.sets = sets;
    }
    for (const message of messages) {
      this.setFlagsAt(this.count, message.flags);
      this.uids[this.count++] = message.uid;
    }
  }

  private lowerBound(uid: number): number {
    let low = 0;
    let high = this.count;
    while (low < high) {
      const mid = (low + high) >> 1;
      if ((this.uids[mid] as number) < uid) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  private indexOf(uid: Uid): number {
    const i = this.lowerBound(uid);
    return i < this.count && this.uids[i] === uid ? i : -1;
  }
}
