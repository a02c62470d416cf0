// Runs a resolved SearchKey over the messages of the selected mailbox without materialising the
// mailbox (docs/architecture.md, "SEARCH through the index"):
//   index    — every TEXT/BODY leaf is answered first by MailStore.findTextMatches (the full-text
//              index; a paged scan inside the store for strings under 3 characters), and every
//              SUBJECT/FROM/TO/CC/BCC/HEADER leaf by MailStore.findHeaderMatches (the header
//              index): one set of matching UIDs per leaf, no message text or header in this process;
// then the session's UIDs are walked a page at a time (PAGE_SIZE), and within a page facts are
// loaded in stages, cheapest first, only for messages the earlier stages left undecided:
//   uid      — UID/sequence sets, \Recent and the index answers: nothing is read;
//   summary  — flags, size, INTERNALDATE, modseq: getSummaries() for the page;
//   attributes — EMAILID/THREADID (RFC 8474), SAVED* (RFC 8514): getMessageAttributes() for the page's undecided;
//   envelope — SENT* (and header keys evaluated without the index): getMessages() for the page's undecided;
//   header   — HEADER without the index: a ranged read of the header octets (after getMessages());
//   text     — BODY whose header/body split predates the index: getSearchTexts(), then the header.
// Memory is one page of facts plus the UID sets of the answer; a matched message whose summary
// was never needed is looked up once at the end, in pages, for its modseq and to drop messages the
// store no longer has.
import type { Readable } from "node:stream";
import { parseHeaderBlock } from "../../mail/header-fields.js";
import type { HeaderSearchField, MailboxId, MailStore, MessageAttributes, MessageSummary, StoredMessage, Uid } from "../../store/index.js";
import { someSearchKey } from "../protocol/search-key.js";
import { compileKey, evaluate, headerSearchText, relevancyOf, stageOf, UidAnswer, type CompiledKey, type FactStage, type MessageFacts, type ResolvedSearchKey } from "./evaluate.js";

/** The messages a search runs over: the session's view of the selected mailbox. */
export interface SearchScope {
  mailboxId: MailboxId;
  /** UIDs the session knows (those with a sequence number), ascending. */
  uids: readonly Uid[];
  /** \Recent is per session (RFC 3501 §2.3.2); absent under IMAP4rev2, where nothing is recent. */
  isRecent?: (uid: Uid) => boolean;
}

export interface SearchOptions {
  /** UIDs per page (and per getSummaries()/getMessages() call). */
  batchSize?: number;
  /**
   * Whether each hit needs its modseq (the command answers MODSEQ, RFC 7162 §3.1.5). Without it,
   * matches proven by an index answer are returned without any further store read.
   */
  modseq?: boolean;
  /** Header octets read per message for HEADER/BODY; longer headers are cut (the MIME tree caps them too). */
  maxHeaderBytes?: number;
}

const DEFAULT_BATCH = 500;
const DEFAULT_MAX_HEADER_BYTES = 256 * 1024;
/** Concurrent reads in the header and text stages. */
const READ_CONCURRENCY = 16;

type LoadStage = FactStage;

/**
 * The matching messages, ascending by UID. Messages of the view that the store no longer has
 * (expunged by another session, not yet announced) match nothing: their data is gone.
 */
export async function searchMailbox(
  store: MailStore,
  scope: SearchScope,
  key: ResolvedSearchKey,
  options: SearchOptions = {},
): Promise<SearchHit[]> {
  const compiled = compileKey(key);
  await answerTextFromIndex(store, scope.mailboxId, compiled);
  await answerHeadersFromIndex(store, scope.mailboxId, compiled);
  const batch = Math.max(1, options.batchSize ?? DEFAULT_BATCH);
  const stages = stagesNeeded(key, compiled);
  const matched: Matched[] = [];
  // A top-level conjunct answered by an index bounds the result: only its UIDs are walked, and
  // they exist (the index's query joined the mailbox's message rows), so a match decided without
  // a read needs no existence check unless its modseq is wanted.
  const bound = boundingAnswer(compiled);
  const uids = bound === null ? scope.uids : intersect(scope.uids, bound.sorted);
  const proven = bound !== null && options.modseq === false;
  if (proven && stages.length === 0) {
    // Decided from the UIDs and index answers alone: no per-page facts or store read. When the
    // key is the bounding answer itself (a lone TEXT "word"), every UID walked matches.
    if (isBoundingLeaf(compiled, bound)) {
      for (const uid of uids) matched.push({ uid });
      return withRelevancy(compiled, matched);
    }
    for (const uid of uids) if (evaluate(compiled, { uid, recent: scope.isRecent?.(uid) ?? false }) === true) matched.push({ uid });
    return withRelevancy(compiled, matched);
  }
  /** Matched before any store read: checked (and given their summary) at the end. */
  let unchecked: Uid[] = [];
  for (let at = 0; at < uids.length; at += batch) {
    let pending: MessageFacts[] = [];
    for (let i = at; i < Math.min(at + batch, uids.length); i++) {
      const uid = uids[i] as Uid;
      pending.push({ uid, recent: scope.isRecent?.(uid) ?? false });
    }
    pending = decide(pending, (facts) => evaluate(compiled, facts), matched, unchecked);
    for (const stage of stages) {
      if (pending.length === 0) break;
      await loadStage(store, scope.mailboxId, stage, pending, options);
      pending = decide(pending, (facts) => evaluate(compiled, facts), matched, unchecked);
    }
    // Every fact is loaded after the last stage, so nothing can stay unknown; this is a guard.
    if (pending.length > 0) throw new Error("search left messages undecided");
    if (proven) {
      for (const uid of unchecked) matched.push({ uid });
      unchecked = [];
    } else if (unchecked.length >= batch) {
      await checkExisting(store, scope.mailboxId, unchecked, matched);
      unchecked = [];
    }
  }
  await checkExisting(store, scope.mailboxId, unchecked, matched);
  return withRelevancy(compiled, matched.sort((a, b) => a.uid - b.uid));
}

type Matched = Omit<SearchHit, "relevancy">;

/** The hits with their relevancy when a FUZZY key scored them; as they are otherwise (no copy of 100,000 objects). */
function withRelevancy(compiled: CompiledKey, matched: Matched[]): SearchHit[] {
  if ((compiled.fuzzyScores?.size ?? 0) === 0) return matched;
  return matched.map((m) => ({ uid: m.uid, ...(m.modseq === undefined ? {} : { modseq: m.modseq }), relevancy: relevancyOf(compiled, m.uid) }));
}

/** A message a search matched; modseq is absent only when SearchOptions.modseq was false. */
export interface SearchHit {
  uid: Uid;
  modseq?: MessageSummary["modseq"];
  /** RFC 6203 relevancy, 1-100 (evaluate.ts, relevancyOf); absent (100) when no FUZZY key scored. */
  relevancy?: number;
}

/** The UIDs in both ascending lists, ascending: one merge pass, no hash set. */
function intersect(a: readonly Uid[], b: readonly number[]): Uid[] {
  const out: Uid[] = [];
  let j = 0;
  for (let i = 0; i < a.length && j < b.length; i++) {
    const uid = a[i] as Uid;
    while (j < b.length && (b[j] as number) < uid) j++;
    if (b[j] === uid) out.push(uid);
  }
  return out;
}

/** Whether the whole key is the one leaf whose index answer is `bound`. */
function isBoundingLeaf(compiled: CompiledKey, bound: UidAnswer): boolean {
  const k = compiled.key.kind === "fuzzy" ? compiled.key.key : compiled.key;
  if (k.kind === "text" || k.kind === "body") return compiled.textMatches?.get(k)?.matches === bound;
  return compiled.headerMatches?.get(k) === bound;
}

/**
 * The smallest UID set among the top-level conjuncts answered by an index (TEXT, BODY without
 * unverified messages, header keys), or null: every match of the key is in it.
 */
function boundingAnswer(compiled: CompiledKey): UidAnswer | null {
  const conjuncts = compiled.key.kind === "and" ? compiled.key.keys : [compiled.key];
  let best: UidAnswer | null = null;
  for (const conjunct of conjuncts) {
    // FUZZY TEXT "x" bounds the result as TEXT "x" does: its leaf holds the fuzzy answer.
    const k = conjunct.kind === "fuzzy" ? conjunct.key : conjunct;
    let answer: UidAnswer | undefined;
    if (k.kind === "text") answer = compiled.textMatches?.get(k)?.matches;
    else if (k.kind === "body") {
      const found = compiled.textMatches?.get(k);
      if (found !== undefined && found.unverified.size === 0) answer = found.matches;
    } else answer = compiled.headerMatches?.get(k);
    if (answer !== undefined && (best === null || answer.size < best.size)) best = answer;
  }
  return best;
}

/** Replaces each TEXT/BODY leaf by the index's answer; equal leaves ask once. */
async function answerTextFromIndex(store: MailStore, mailboxId: MailboxId, compiled: CompiledKey): Promise<void> {
  const byQuery = new Map<string, { matches: UidAnswer; unverified: UidAnswer }>();
  const textMatches = new Map<ResolvedSearchKey, { matches: UidAnswer; unverified: UidAnswer }>();
  const fuzzyScores = new Map<ResolvedSearchKey, ReadonlyMap<number, number>>();
  const scoresByQuery = new Map<string, ReadonlyMap<number, number>>();
  for (const leaf of compiled.needles.keys()) {
    if (leaf.kind !== "text" && leaf.kind !== "body") continue;
    const fuzzy = compiled.fuzzyLeaves.has(leaf);
    const query = `${fuzzy ? "fuzzy " : ""}${leaf.kind}\u0000${leaf.value}`;
    let answer = byQuery.get(query);
    if (answer === undefined) {
      if (fuzzy) {
        // RFC 6203: the store's fuzzy answer (mail/fuzzy-match.ts) replaces the exact one.
        const found = await store.findFuzzyTextMatches(mailboxId, leaf.value, leaf.kind);
        answer = { matches: new UidAnswer(found.map((m) => m.uid)), unverified: new UidAnswer([]) };
        scoresByQuery.set(query, new Map(found.map((m) => [m.uid, m.score])));
      } else {
        const found = await store.findTextMatches(mailboxId, leaf.value, leaf.kind);
        answer = { matches: new UidAnswer(found.matches), unverified: new UidAnswer(found.unverified) };
      }
      byQuery.set(query, answer);
    }
    textMatches.set(leaf, answer);
    const scores = scoresByQuery.get(query);
    if (scores !== undefined) fuzzyScores.set(leaf, scores);
  }
  compiled.textMatches = textMatches;
  compiled.fuzzyScores = fuzzyScores;
}

/** Replaces each SUBJECT/FROM/TO/CC/BCC/HEADER leaf by the header index's answer; equal leaves ask once. */
async function answerHeadersFromIndex(store: MailStore, mailboxId: MailboxId, compiled: CompiledKey): Promise<void> {
  const byQuery = new Map<string, UidAnswer>();
  const headerMatches = new Map<ResolvedSearchKey, UidAnswer>();
  for (const leaf of compiled.needles.keys()) {
    let field: HeaderSearchField;
    if (leaf.kind === "subject") field = { kind: "subject" };
    else if (leaf.kind === "address") field = { kind: "address", field: leaf.field };
    else if (leaf.kind === "header") field = { kind: "header", name: leaf.field };
    else continue;
    const query = JSON.stringify([field, leaf.value]);
    let answer = byQuery.get(query);
    if (answer === undefined) {
      answer = new UidAnswer(await store.findHeaderMatches(mailboxId, field, leaf.value));
      byQuery.set(query, answer);
    }
    headerMatches.set(leaf, answer);
  }
  compiled.headerMatches = headerMatches;
}

/** Messages matched without any store read: kept only if the store still has them, with their summary. */
async function checkExisting(store: MailStore, mailboxId: MailboxId, uids: Uid[], matched: Matched[]): Promise<void> {
  if (uids.length === 0) return;
  for (const summary of await store.getSummaries(mailboxId, uids)) matched.push(summary);
}

/**
 * Moves decided messages out: matches into `matched` (or `unchecked` when nothing was read from
 * the store for them yet); returns the still undecided ones.
 */
function decide(
  pending: MessageFacts[],
  decideOne: (facts: MessageFacts) => boolean | undefined,
  matched: Matched[],
  unchecked: Uid[],
): MessageFacts[] {
  const undecided: MessageFacts[] = [];
  for (const facts of pending) {
    const verdict = decideOne(facts);
    if (verdict === true) {
      if (facts.summary !== undefined) matched.push(facts.summary);
      else unchecked.push(facts.uid);
    } else if (verdict === undefined) undecided.push(facts);
  }
  return undecided;
}

/** The stages that some key needs, in the order they are loaded. */
function stagesNeeded(key: ResolvedSearchKey, compiled: CompiledKey): LoadStage[] {
  // BODY leaves with messages the index could not split need the text and the header.
  const unverifiedBody = [...(compiled.textMatches?.values() ?? [])].some((answer) => answer.unverified.size > 0);
  const stages: LoadStage[] = [];
  if (someSearchKey(key, (k) => ["flag", "size", "internal-date", "modseq", "age"].includes(k.kind))) stages.push("summary");
  if (someSearchKey(key, (k) => stageOf(k) === "attributes")) stages.push("attributes");
  // Header leaves answered by the index (answerHeadersFromIndex) need no envelope or header.
  const indexed = (k: ResolvedSearchKey): boolean => compiled.headerMatches?.has(k) === true;
  if (someSearchKey(key, (k) => stageOf(k) === "envelope" && !indexed(k))) stages.push("envelope");
  if (someSearchKey(key, (k) => k.kind === "header" && !indexed(k))) stages.push("header");
  if (unverifiedBody) stages.push("text", "header");
  return stages;
}

async function loadStage(store: MailStore, mailboxId: MailboxId, stage: LoadStage, pending: MessageFacts[], options: SearchOptions): Promise<void> {
  if (stage === "summary") {
    const byUid = new Map<number, MessageSummary>((await store.getSummaries(mailboxId, pending.map((f) => f.uid))).map((s) => [s.uid, s]));
    for (const facts of pending) facts.summary = byUid.get(facts.uid);
    dropIncomplete(pending, (f) => f.summary !== undefined);
    return;
  }
  if (stage === "attributes") {
    // RFC 8474 EMAILID/THREADID and RFC 8514 save dates: one indexed read per page.
    const byUid = new Map<number, MessageAttributes>((await store.getMessageAttributes(mailboxId, pending.map((f) => f.uid))).map((a) => [a.uid, a]));
    for (const facts of pending) facts.attributes = byUid.get(facts.uid);
    dropIncomplete(pending, (f) => f.attributes !== undefined);
    return;
  }
  if (stage === "envelope" || stage === "header") {
    await loadStored(store, mailboxId, pending, options.batchSize ?? DEFAULT_BATCH);
    if (stage === "envelope") return;
  }
  if (stage === "text") {
    await loadSearchTexts(store, mailboxId, pending, options.batchSize ?? DEFAULT_BATCH);
  } else {
    const maxHeaderBytes = options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
    await forEachConcurrently(pending, READ_CONCURRENCY, async (facts) => {
      if (facts.stored !== undefined && facts.header === undefined) facts.header = await readHeader(store, facts.stored, maxHeaderBytes);
    });
  }
  // Expunged since listMessages(): no data, so they are left out of the result.
  dropIncomplete(pending, (f) => (stage === "header" ? f.header !== undefined : f.searchText !== undefined));
}

/** getMessages() in batches for the messages that lack it. */
async function loadStored(store: MailStore, mailboxId: MailboxId, pending: MessageFacts[], batch: number): Promise<void> {
  const missing = pending.filter((f) => f.stored === undefined);
  for (let at = 0; at < missing.length; at += batch) {
    const slice = missing.slice(at, at + batch);
    const stored = await store.getMessages(mailboxId, slice.map((f) => f.uid));
    const byUid = new Map<number, StoredMessage>(stored.map((m) => [m.uid, m]));
    for (const facts of slice) {
      const message = byUid.get(facts.uid);
      if (message !== undefined) {
        facts.stored = message;
        // StoredMessage carries the summary's fields: no summary read for these later.
        facts.summary ??= { uid: message.uid, modseq: message.modseq, flags: message.flags, internalDate: message.internalDate, size: message.size };
      }
    }
  }
  dropIncomplete(pending, (f) => f.stored !== undefined);
}

/**
 * getSearchTexts() in batches for the messages that lack their text: one query per batch, not
 * one query and one promise per message.
 */
async function loadSearchTexts(store: MailStore, mailboxId: MailboxId, pending: MessageFacts[], batch: number): Promise<void> {
  const missing = pending.filter((f) => f.searchText === undefined);
  for (let at = 0; at < missing.length; at += batch) {
    const slice = missing.slice(at, at + batch);
    const texts = await store.getSearchTexts(mailboxId, slice.map((f) => f.uid));
    for (const facts of slice) {
      const text = texts.get(facts.uid);
      if (text !== undefined) facts.searchText = text;
    }
  }
}

/** Removes, in place, messages whose facts could not be loaded (expunged meanwhile). */
function dropIncomplete(pending: MessageFacts[], complete: (facts: MessageFacts) => boolean): void {
  let kept = 0;
  for (const facts of pending) if (complete(facts)) pending[kept++] = facts;
  pending.length = kept;
}

async function forEachConcurrently<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** The top-level header fields, and the search text of the blob's own header (without the trace prefix). */
async function readHeader(store: MailStore, message: StoredMessage, maxBytes: number): Promise<NonNullable<MessageFacts["header"]>> {
  const end = Math.min(message.structure.headerEnd, maxBytes);
  const bytes = end > 0 ? await readAll(store.openMessage(message, { start: 0, end })) : Buffer.alloc(0);
  const fields = parseHeaderBlock(bytes);
  const own = parseHeaderBlock(bytes.subarray(Math.min(message.prefixLength, bytes.length)));
  return { fields, searchTextPrefix: headerSearchText(own) };
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
  return Buffer.concat(chunks);
}
