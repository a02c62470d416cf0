// The shared part of SORT and THREAD: parse `charset SP search-criteria` (RFC 5256 §5, where the
// charset is mandatory and has no CHARSET keyword), run the criteria through the SEARCH
// evaluation (search/search-mailbox.ts), then read the matches' sort facts from the store in
// pages (MailStore.getSortFacts: stored envelopes, no message file).
import type { SortFacts, Uid } from "../../store/index.js";
import type { ArgumentReader } from "../protocol/arguments.js";
import { ImapParseError } from "../protocol/parse-error.js";
import { mapSearchSets, parseSearchCriteria, SEARCH_CHARSETS, someSearchKey, type SearchKey, type SearchLimits } from "../protocol/search-key.js";
import type { SequenceSet } from "../protocol/sequence-set.js";
import { searchMailbox } from "../search/search-mailbox.js";
import type { CommandContext } from "../commands/command.js";
import { searchUniverse } from "../commands/message-limit.js";

export interface SortCriteriaProgram {
  key: SearchKey<SequenceSet>;
}

/** `charset SP search-key *(SP search-key)` to the command end. An unsupported charset is NO [BADCHARSET]. */
export function parseCharsetAndCriteria(args: ArgumentReader, limits?: SearchLimits): SortCriteriaProgram {
  const name = (args.peekChar() === '"' || args.peekChar() === "{" ? args.string().toString("latin1") : args.atom()).toUpperCase();
  if (!(SEARCH_CHARSETS as readonly string[]).includes(name)) {
    throw new ImapParseError(`unsupported charset ${name.slice(0, 40)}`, { status: "NO", code: `BADCHARSET (${SEARCH_CHARSETS.join(" ")})` });
  }
  args.space();
  return { key: parseSearchCriteria(args, limits).key };
}

/** A matching message with its sequence number and the facts sort keys are made of. */
export interface SortCandidate {
  uid: Uid;
  seq: number;
  modseq: number;
  facts: SortFacts;
  /** RFC 6203 relevancy of the match (1-100), 100 without a FUZZY key. */
  relevancy: number;
}

/** Facts per store read. */
const FACTS_PAGE = 1000;

/**
 * The messages of the selected mailbox matching `key`, ascending by UID, each handed to `each`
 * with its facts (a page at a time, so a caller keeps only what it derives from them).
 */
export async function forEachMatch(ctx: CommandContext, key: SearchKey<SequenceSet>, withReferences: boolean, each: (candidate: SortCandidate) => void): Promise<{ withModSeq: boolean }> {
  const selected = ctx.requireSelected();
  const resolved = mapSearchSets(key, (set, kind): ReadonlySet<Uid> => new Set(selected.resolve(set, kind === "uid", { pastEnd: "match-none" }).map((m) => m.uid)));
  const withModSeq = someSearchKey(key, (k) => k.kind === "modseq");
  // RFC 7162 §3.1: a SORT/THREAD with MODSEQ in its criteria enables CONDSTORE like SEARCH.
  if (withModSeq && !ctx.enabled.has("CONDSTORE")) ctx.session.enable("CONDSTORE");
  // The messages the top-level sets leave are the ones searched. RFC 9738 does not limit SORT or
  // THREAD (its scope is FETCH, SEARCH, STORE, COPY, MOVE, APPEND and UID EXPUNGE): they answer
  // about the whole mailbox, which a client could not assemble from pieces, so they run in full.
  const uids = searchUniverse(resolved, selected.allUids());
  const found = await searchMailbox(ctx.store, { mailboxId: selected.mailboxId, uids, isRecent: (uid) => !ctx.rev2 && selected.isRecent(uid) }, resolved, { modseq: withModSeq });
  for (let at = 0; at < found.length; at += FACTS_PAGE) {
    const page = found.slice(at, at + FACTS_PAGE);
    const facts = new Map<number, SortFacts>();
    for (const f of await ctx.store.getSortFacts(selected.mailboxId, page.map((s) => s.uid), withReferences)) facts.set(f.uid, f);
    for (const summary of page) {
      const seq = selected.toSeq(summary.uid);
      const f = facts.get(summary.uid);
      // Gone from the store since the search (expunged elsewhere): its data is gone too.
      if (seq === null || f === undefined) continue;
      // modseq is only read when the criteria asked for it (withModSeq), and then the search gave it.
      each({ uid: summary.uid, seq, modseq: summary.modseq ?? 0, facts: f, relevancy: summary.relevancy ?? 100 });
    }
  }
  return { withModSeq };
}
