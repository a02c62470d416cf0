// SEARCH and UID SEARCH (RFC 9051 §6.4.4, RFC 3501 §6.4.4) with ESEARCH RETURN options
// (RFC 4731), SAVE and `$` (RFC 5182), MODSEQ (RFC 7162 §3.1.5), FUZZY and RELEVANCY (RFC 6203). Grammar lives in
// protocol/search-key.ts, evaluation in search/; this module resolves message sets against the
// session's view, runs the search and answers.
//
// RFC 9051 §7.4.1: no EXPUNGE may be sent while answering a non-UID SEARCH (holdsExpunges); the
// session flushes other updates after run, so nothing is written here but the search response.
import type { ModSeq, Uid } from "../../store/index.js";
import type { ArgumentReader } from "../protocol/arguments.js";
import { ImapParseError } from "../protocol/parse-error.js";
import { mapSearchSets, noteUpdateLimit, parseSearchCriteria, parseSearchReturn, someSearchKey, type SearchLimits, type SearchProgram } from "../protocol/search-key.js";
import type { SequenceSet } from "../protocol/sequence-set.js";
import { searchMailbox } from "../search/search-mailbox.js";
import { searchOutcome, type SearchMatch } from "../search/search-response.js";
import { checkUpdateTag, registerUpdate } from "../search/update-contexts.js";
import type { ImapCommand } from "./command.js";
import { refuseSequenceKeys } from "./uid-only.js";
import { keepHighest, searchUniverse } from "./message-limit.js";

export type SearchArgs =
  | { ok: true; program: SearchProgram<SequenceSet> }
  /**
   * The criteria failed to parse after RETURN (… SAVE …) was read: run() empties `$` and then
   * fails with the same error (RFC 5182 §2.4: a failed SEARCH with SAVE leaves `$` empty).
   */
  | { ok: false; error: ImapParseError };

export function parseSearchArgs(args: ArgumentReader, limits?: SearchLimits): SearchArgs {
  const returnOptions = noteUpdateLimit(parseSearchReturn(args), limits);
  try {
    return { ok: true, program: { returnOptions, ...parseSearchCriteria(args, limits) } };
  } catch (error) {
    if (error instanceof ImapParseError && returnOptions?.includes("SAVE") === true) return { ok: false, error };
    throw error;
  }
}

export const searchCommand: ImapCommand<SearchArgs> = {
  names: ["SEARCH"],
  uid: true,
  states: ["selected"],
  sequenceUse: "uses",
  holdsExpunges: true,
  // SEARCH=FUZZY (RFC 6203): the FUZZY key, RELEVANCY return option, scores from the index.
  // CONTEXT=SEARCH (RFC 5267 §4): CONTEXT and UPDATE, with CANCELUPDATE (capabilities.ts SPANNING).
  capabilities: ["ESEARCH", "SEARCHRES", "CONDSTORE", "QRESYNC", "SEARCH=FUZZY", "OBJECTID", "SAVEDATE", "WITHIN", "PARTIAL", "CONTEXT=SEARCH"],
  // [imap] search_max_depth / search_max_keys (config/schema.ts), through the session.
  parse: (args, ctx) => {
    const parsed = parseSearchArgs(args, ctx.searchLimits);
    if (parsed.ok) refuseSequenceKeys(parsed.program.key, ctx);
    return parsed;
  },
  run: async (ctx, args) => {
    const selected = ctx.requireSelected();
    if (!args.ok) {
      selected.setLastSearchResult([]);
      throw args.error;
    }
    const { program } = args;
    const saves = program.returnOptions?.includes("SAVE") === true;
    const updateLimit = program.returnOptions?.updateLimit;
    if (updateLimit !== undefined) checkUpdateTag(ctx);
    try {
      // Sequence numbers and UIDs become the UIDs they name in the session's view (numbers past
      // the last message name none); `$` is resolved here, before SAVE may replace it
      // (RFC 5182 §2.1: `$` is the previous result).
      const key = mapSearchSets(program.key, (set, kind): ReadonlySet<Uid> => new Set(selected.resolve(set, kind === "uid", { pastEnd: "match-none" }).map((m) => m.uid)));
      const withModSeq = someSearchKey(program.key, (k) => k.kind === "modseq");
      // RFC 7162 §3.1: a SEARCH with MODSEQ is a CONDSTORE-enabling command.
      if (withModSeq && !ctx.enabled.has("CONDSTORE")) ctx.session.enable("CONDSTORE");
      // RFC 9738: at most MESSAGELIMIT messages are searched, the highest UIDs of those the
      // top-level sets leave (message-limit.ts).
      const uids = keepHighest(ctx, searchUniverse(key, selected.allUids()), (uid) => uid);
      const found = await searchMailbox(ctx.store, { mailboxId: selected.mailboxId, uids, isRecent: (uid) => !ctx.rev2 && selected.isRecent(uid) }, key, { modseq: withModSeq });
      const matches: SearchMatch[] = [];
      for (const hit of found) {
        const seq = selected.toSeq(hit.uid);
        if (seq !== null) matches.push({ uid: hit.uid, seq, modseq: hit.modseq ?? (0 as ModSeq), relevancy: hit.relevancy });
      }
      const outcome = searchOutcome(matches, { tag: ctx.tag, byUid: ctx.byUid, returnOptions: program.returnOptions, partial: program.returnOptions?.partial ?? null, rev2: ctx.rev2, withModSeq });
      if (outcome.saved !== null) selected.setLastSearchResult(outcome.saved);
      if (outcome.response !== null) await ctx.untagged(...outcome.response);
      if (updateLimit !== undefined) await registerUpdate(ctx, updateLimit, { key, sort: null, result: matches.map((m) => m.uid) });
    } catch (error) {
      if (saves) selected.setLastSearchResult([]);
      throw error;
    }
  },
};
