// SORT and UID SORT (RFC 5256 §3) with DISPLAYFROM/DISPLAYTO (RFC 5957), RELEVANCY (RFC 6203 §4,
// the scores of the FUZZY keys in the criteria) and ESORT's RETURN
// options (RFC 5267 §3: the answer is an ESEARCH response, numbers in sort order). The criteria
// after the charset are SEARCH's (sort/sort-run.ts); keys come from the stored envelopes
// (sort/sort-keys.ts). Like SEARCH, no EXPUNGE may be sent while answering (RFC 9051 §7.4.1).
import type { Uid } from "../../store/index.js";
import type { ArgumentReader } from "../protocol/arguments.js";
import { ImapParseError } from "../protocol/parse-error.js";
import { atom, list, NIL, num, str, type ImapValue } from "../protocol/response-value.js";
import { applyPartialRange, mapSearchSets, noteUpdateLimit, parseSearchReturn, type SearchKey, type SearchLimits, type SearchReturnOptions } from "../protocol/search-key.js";
import type { SequenceSet } from "../protocol/sequence-set.js";
import { SORT_KEY_NAMES, sortRows, sortValue, type SortCriterion, type SortKeyName, type SortRow } from "../sort/sort-keys.js";
import { forEachMatch, parseCharsetAndCriteria } from "../sort/sort-run.js";
import { checkUpdateTag, registerUpdate } from "../search/update-contexts.js";
import type { ImapCommand, CommandContext } from "./command.js";
import { refuseSequenceKeys } from "./uid-only.js";

/** Sort criteria per command: there are nine keys; more than this is BAD (bounds comparison work). */
export const MAX_SORT_CRITERIA = 32;

export interface SortArgs {
  returnOptions: SearchReturnOptions | null;
  criteria: SortCriterion[];
  key: SearchKey<SequenceSet>;
}

/** sort = ["UID" SP] "SORT" [SP sort-return-opts] SP sort-criteria SP search-criteria (RFC 5256 §5, RFC 5267 §3). */
export function parseSortArgs(args: ArgumentReader, limits?: SearchLimits): SortArgs {
  const returnOptions = noteUpdateLimit(parseSearchReturn(args), limits);
  const criteria = args.list((): SortCriterion => {
    let word = args.atom().toUpperCase();
    let reverse = false;
    if (word === "REVERSE") {
      reverse = true;
      args.space();
      word = args.atom().toUpperCase();
    }
    const key = SORT_KEY_NAMES.find((k) => k === word);
    if (key === undefined) throw new ImapParseError(`unknown sort criterion ${word.slice(0, 40)}`);
    return { key, reverse };
  }, false);
  if (criteria.length > MAX_SORT_CRITERIA) throw new ImapParseError(`more than ${MAX_SORT_CRITERIA} sort criteria`);
  args.space();
  return { returnOptions, criteria, key: parseCharsetAndCriteria(args, limits).key };
}

export const sortCommand: ImapCommand<SortArgs> = {
  names: ["SORT"],
  uid: true,
  states: ["selected"],
  sequenceUse: "uses",
  holdsExpunges: true,
  // CONTEXT=SORT (RFC 5267 §4): UPDATE in sort order, with CANCELUPDATE (capabilities.ts SPANNING).
  capabilities: ["SORT", "SORT=DISPLAY", "ESORT", "CONTEXT=SORT"],
  parse: (args, ctx) => {
    const parsed = parseSortArgs(args, ctx.searchLimits);
    refuseSequenceKeys(parsed.key, ctx);
    return parsed;
  },
  run: async (ctx, args) => {
    const selected = ctx.requireSelected();
    const updateLimit = args.returnOptions?.updateLimit;
    if (updateLimit === undefined) {
      await answerSort(ctx, args);
      return;
    }
    checkUpdateTag(ctx);
    // Sets and `$` as they are now (RFC 5267 §4.3), before a SAVE in this command replaces `$`.
    const key = mapSearchSets(args.key, (set, kind): ReadonlySet<Uid> => new Set(selected.resolve(set, kind === "uid", { pastEnd: "match-none" }).map((m) => m.uid)));
    const result = await answerSort(ctx, args);
    await registerUpdate(ctx, updateLimit, { key, sort: args.criteria, result });
  },
};

/** Runs the SORT and answers it; the matching UIDs in sort order. */
async function answerSort(ctx: CommandContext, args: SortArgs): Promise<Uid[]> {
  {
    const selected = ctx.requireSelected();
    const rows: (SortRow & { uid: Uid; modseq: number })[] = [];
    const keys: SortKeyName[] = args.criteria.map((c) => c.key);
    const { withModSeq } = await forEachMatch(ctx, args.key, false, (m) => {
      rows.push({ uid: m.uid, seq: m.seq, modseq: m.modseq, values: keys.map((k) => sortValue(k, m.facts, m.relevancy)) });
    });
    sortRows(rows, args.criteria);
    const numbers = rows.map((r) => (ctx.byUid ? r.uid : r.seq));
    const highest = rows.reduce((h, r) => Math.max(h, r.modseq), 0);
    const options = new Set(args.returnOptions ?? []);
    // RFC 5267 §4: CONTEXT and UPDATE change nothing in the answer (UPDATE registers below).
    options.delete("CONTEXT");
    options.delete("UPDATE");
    // RFC 9394 / RFC 5267 §4.4: PARTIAL counts positions in sort order (-1 is the last one sorted).
    const range = options.has("PARTIAL") ? (args.returnOptions?.partial ?? null) : null;
    const page = range === null ? null : applyPartialRange(rows, range);
    if (options.has("SAVE")) {
      // RFC 5182 §2.4 via RFC 5267: with only MIN/MAX beside SAVE just those messages are saved.
      const onlyEnds = (options.has("MIN") || options.has("MAX")) && !options.has("ALL") && !options.has("COUNT");
      const first = rows[0];
      const last = rows[rows.length - 1];
      // With PARTIAL, the page is what is saved (as for SEARCH, search-response.ts).
      const saved: Uid[] =
        page !== null ? page.map((r) => r.uid) : onlyEnds ? [...new Set([...(options.has("MIN") && first ? [first.uid] : []), ...(options.has("MAX") && last ? [last.uid] : [])])] : rows.map((r) => r.uid);
      selected.setLastSearchResult([...saved].sort((a, b) => a - b));
      options.delete("SAVE");
      if (options.size === 0) return rows.map((r) => r.uid);
    }
    if (args.returnOptions === null) {
      const values: ImapValue[] = [atom("SORT"), ...numbers.map((n) => num(n))];
      // RFC 7162 §3.1.5: with MODSEQ in the criteria, the highest modseq of the result.
      if (withModSeq && rows.length > 0) values.push(list([atom("MODSEQ"), num(highest)]));
      await ctx.untagged(...values);
      return rows.map((r) => r.uid);
    }
    // RFC 5267 §3.2: MIN/MAX are the first/last message in sort order, ALL is every number in
    // sort order; COUNT is always sent, the others only when something matched.
    const values: ImapValue[] = [atom("ESEARCH"), list([atom("TAG"), str(ctx.tag)])];
    if (ctx.byUid) values.push(atom("UID"));
    if (options.has("MIN") && numbers.length > 0) values.push(atom("MIN"), num(numbers[0]!));
    if (options.has("MAX") && numbers.length > 0) values.push(atom("MAX"), num(numbers[numbers.length - 1]!));
    if (options.has("COUNT")) values.push(atom("COUNT"), num(numbers.length));
    if (options.has("ALL") && numbers.length > 0) values.push(atom("ALL"), atom(orderedSet(numbers)));
    if (range !== null && page !== null) {
      const pageNumbers = page.map((r) => (ctx.byUid ? r.uid : r.seq));
      values.push(atom("PARTIAL"), list([atom(range.text), pageNumbers.length === 0 ? NIL : atom(orderedSet(pageNumbers))]));
    }
    if (withModSeq && rows.length > 0) values.push(atom("MODSEQ"), num(highest));
    await ctx.untagged(...values);
    return rows.map((r) => r.uid);
  }
}

/** A sequence-set keeping the given order: runs ascending by one become `a:b` (RFC 5267 §3.2). */
export function orderedSet(numbers: readonly number[]): string {
  const parts: string[] = [];
  let i = 0;
  while (i < numbers.length) {
    let j = i;
    while (j + 1 < numbers.length && numbers[j + 1] === numbers[j]! + 1) j++;
    parts.push(j > i + 0 ? `${numbers[i]}:${numbers[j]}` : String(numbers[i]));
    i = j + 1;
  }
  return parts.join(",");
}
