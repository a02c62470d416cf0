// Runs a resolved SearchKey over the messages of the selected mailbox, loading facts in stages,
// cheapest first, and only for messages the earlier stages left undecided:
//   summary  — flags, UID, size, INTERNALDATE, modseq: one listMessages() call for the mailbox;
//   envelope — FROM/TO/CC/BCC/SUBJECT/SENT*: getMessages() in batches;
//   header   — HEADER: a ranged read of the header octets (after getMessages() for the offsets);
//   text     — BODY/TEXT: getSearchTexts() in batches;
//   header   — again for BODY, only for messages whose text holds the string somewhere, to tell
//              header text from body text.
// A stage the key does not need is skipped entirely, and a stage loads nothing already loaded.
import type { Readable } from "node:stream";
import { parseHeaderBlock } from "../../mail/header-fields.js";
import type { MailboxId, MailStore, MessageSummary, StoredMessage, Uid } from "../../store/index.js";
import { someSearchKey } from "../protocol/search-key.js";
import { compileKey, evaluate, headerSearchText, stageOf, type FactStage, type MessageFacts, type ResolvedSearchKey } from "./evaluate.js";

/** The messages a search runs over: the session's view of the selected mailbox. */
export interface SearchScope {
  mailboxId: MailboxId;
  /** UIDs the session knows (those with a sequence number), ascending. */
  uids: readonly Uid[];
  /** \Recent is per session (RFC 3501 §2.3.2); absent under IMAP4rev2, where nothing is recent. */
  isRecent?: (uid: Uid) => boolean;
}

export interface SearchOptions {
  /** UIDs per getMessages() call. */
  batchSize?: number;
  /** Header octets read per message for HEADER/BODY; longer headers are cut (the MIME tree caps them too). */
  maxHeaderBytes?: number;
}

const DEFAULT_BATCH = 256;
const DEFAULT_MAX_HEADER_BYTES = 256 * 1024;
/** Concurrent reads in the header and text stages. */
const READ_CONCURRENCY = 16;

/**
 * The matching messages, ascending by UID. Messages of the view that the store no longer has
 * (expunged by another session, not yet announced) match nothing: their data is gone.
 */
export async function searchMailbox(
  store: MailStore,
  scope: SearchScope,
  key: ResolvedSearchKey,
  options: SearchOptions = {},
): Promise<MessageSummary[]> {
  const compiled = compileKey(key);
  const inView = new Set<number>(scope.uids);
  const summaries = (await store.listMessages(scope.mailboxId)).filter((s) => inView.has(s.uid));
  const matched: MessageSummary[] = [];
  let pending: MessageFacts[] = [];
  for (const summary of summaries) {
    pending.push({ summary, recent: scope.isRecent?.(summary.uid) ?? false });
  }
  const stages = stagesNeeded(key);
  for (let i = 0; ; i++) {
    pending = decide(pending, (facts) => evaluate(compiled, facts), matched);
    const stage = stages[i];
    if (pending.length === 0 || stage === undefined) break;
    await loadStage(store, scope.mailboxId, stage, pending, options);
  }
  // Every fact is loaded after the last stage, so nothing can stay unknown; this is a guard.
  if (pending.length > 0) throw new Error("search left messages undecided");
  return matched.sort((a, b) => a.uid - b.uid);
}

/** Moves decided messages out: matches into `matched`; returns the still undecided ones. */
function decide(pending: MessageFacts[], decideOne: (facts: MessageFacts) => boolean | undefined, matched: MessageSummary[]): MessageFacts[] {
  const undecided: MessageFacts[] = [];
  for (const facts of pending) {
    const verdict = decideOne(facts);
    if (verdict === true) matched.push(facts.summary);
    else if (verdict === undefined) undecided.push(facts);
  }
  return undecided;
}

/** The stages after "summary" that some key needs, in the order they are loaded. */
function stagesNeeded(key: ResolvedSearchKey): Exclude<FactStage, "summary">[] {
  const has = (kind: ResolvedSearchKey["kind"]): boolean => someSearchKey(key, (k) => k.kind === kind);
  const stages: Exclude<FactStage, "summary">[] = [];
  if (someSearchKey(key, (k) => stageOf(k) === "envelope")) stages.push("envelope");
  if (has("header")) stages.push("header");
  if (has("text") || has("body")) stages.push("text");
  if (has("body")) stages.push("header");
  return stages;
}

async function loadStage(
  store: MailStore,
  mailboxId: MailboxId,
  stage: Exclude<FactStage, "summary">,
  pending: MessageFacts[],
  options: SearchOptions,
): Promise<void> {
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
    const stored = await store.getMessages(mailboxId, slice.map((f) => f.summary.uid));
    const byUid = new Map<number, StoredMessage>(stored.map((m) => [m.uid, m]));
    for (const facts of slice) {
      const message = byUid.get(facts.summary.uid);
      if (message !== undefined) facts.stored = message;
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
    const texts = await store.getSearchTexts(mailboxId, slice.map((f) => f.summary.uid));
    for (const facts of slice) {
      const text = texts.get(facts.summary.uid);
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
