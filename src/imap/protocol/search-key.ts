// SEARCH grammar (RFC 9051 §6.4.4, RFC 3501 §6.4.4) → a typed SearchKey tree, with the
// extensions this server implements: ESEARCH RETURN options (RFC 4731 §3.1), SAVE and `$`
// (RFC 5182 §2) and MODSEQ (RFC 7162 §3.1.5). Pure: no store, no session.
//
// The tree is generic in how message sets are held: the parser produces protocol sequence sets
// (which may name `*` or `$`); the command resolves them against the selected mailbox into UID
// sets before evaluation (mapSearchSets), so the evaluator never sees a sequence number.
import type { ArgumentReader } from "./arguments.js";
import { ImapParseError } from "./parse-error.js";
import { MAX_SEQUENCE_NUMBER, type SequenceSet } from "./sequence-set.js";

/** A key no message matches (UIDAFTER 4294967295, UIDBEFORE 1). */
const NOTHING: SearchKey<SequenceSet> = { kind: "not", key: { kind: "all" } };

export type DateComparison = "before" | "on" | "since";
export type AddressField = "from" | "to" | "cc" | "bcc";

/** RFC 7162 §3.1.5 entry-type-req. */
export type ModSeqEntryType = "priv" | "shared" | "all";

export type SearchKey<S> =
  | { kind: "all" }
  /** A system flag or keyword: `present: false` for UNANSWERED, UNKEYWORD, UNSEEN… */
  | { kind: "flag"; flag: string; present: boolean }
  /** \Recent is session state, decided by the session (RFC 3501 §2.3.2). */
  | { kind: "recent" }
  /** A bare sequence-set key: sequence numbers. */
  | { kind: "sequence"; set: S }
  | { kind: "uid"; set: S }
  /** RFC 822 size in octets; larger/smaller are strict (RFC 9051 §6.4.4). */
  | { kind: "size"; comparison: "larger" | "smaller"; octets: number }
  /** Calendar days since 1970-01-01 (see search/calendar-day.ts). */
  | { kind: "internal-date"; comparison: DateComparison; day: number }
  | { kind: "sent-date"; comparison: DateComparison; day: number }
  /** RFC 8514 §4 SAVEDBEFORE / SAVEDON / SAVEDSINCE. */
  | { kind: "save-date"; comparison: DateComparison; day: number }
  /** RFC 8514 §4 SAVEDATESUPPORTED: every mailbox here keeps save dates, so it matches all. */
  | { kind: "savedate-supported" }
  /** RFC 8474 §6 EMAILID / THREADID objectid. */
  | { kind: "object-id"; field: "emailid" | "threadid"; value: string }
  /** RFC 5032 OLDER / YOUNGER interval: INTERNALDATE compared with the time of the search, in seconds. */
  | { kind: "age"; comparison: "older" | "younger"; seconds: number }
  /** RFC 7162 §3.1.5: messages with a modseq at least this. The entry is accepted and ignored: one modseq per message. */
  | { kind: "modseq"; modseq: number; entry: { name: string; type: ModSeqEntryType } | null }
  | { kind: "address"; field: AddressField; value: string }
  | { kind: "subject"; value: string }
  | { kind: "header"; field: string; value: string }
  | { kind: "body"; value: string }
  | { kind: "text"; value: string }
  /** RFC 6203 §3: the inner key matched inexactly (TEXT/BODY by trigram overlap, mail/fuzzy-match.ts). */
  | { kind: "fuzzy"; key: SearchKey<S> }
  | { kind: "not"; key: SearchKey<S> }
  | { kind: "or"; left: SearchKey<S>; right: SearchKey<S> }
  /** Implicit AND of a key list (the top level, or a parenthesised list). */
  | { kind: "and"; keys: SearchKey<S>[] };

/**
 * RFC 4731 §3.1 search-return-opt, with RFC 5182 SAVE, RFC 6203 RELEVANCY, RFC 9394 PARTIAL and
 * RFC 5267 §4 CONTEXT (a hint) and UPDATE (live ADDTO/REMOVEFROM, search/update-contexts.ts).
 */
export type SearchReturnOption = "MIN" | "MAX" | "COUNT" | "ALL" | "SAVE" | "RELEVANCY" | "PARTIAL" | "CONTEXT" | "UPDATE";

/** RFC 5267 §4: options that ask for no result data of their own. */
export const CONTEXT_OPTIONS: ReadonlySet<SearchReturnOption> = new Set(["CONTEXT", "UPDATE"]);

/**
 * RFC 9394 §4 partial-range: `first:last` counts matches from the lowest UID, `-first:-last` from
 * the highest (-1 is the last match); 500:400 is 400:500. `text` is the range as the client wrote it,
 * echoed in the response.
 */
export interface PartialRange {
  text: string;
  /** 1-based, first <= last. */
  first: number;
  last: number;
  fromEnd: boolean;
}

/** The RETURN options, with PARTIAL's range when given. */
export type SearchReturnOptions = SearchReturnOption[] & { partial?: PartialRange; updateLimit?: number };

/** With UPDATE, notes the session's context limit ([imap] search_max_update_contexts) for run(). */
export function noteUpdateLimit(options: SearchReturnOptions | null, limits: SearchLimits | undefined): SearchReturnOptions | null {
  if (options?.includes("UPDATE") === true) options.updateLimit = limits?.maxUpdateContexts ?? DEFAULT_MAX_UPDATE_CONTEXTS;
  return options;
}

/** partial-range = partial-range-first / partial-range-last (RFC 9394 §4); throws BAD otherwise. */
export function parsePartialRange(args: ArgumentReader): PartialRange {
  const text = args.takeWhile(/[0-9:-]/);
  const match = /^(-?)([1-9][0-9]{0,9}):(-?)([1-9][0-9]{0,9})$/.exec(text);
  if (match === null || match[1] !== match[3]) throw new ImapParseError("PARTIAL expects a range like 1:100 or -1:-100");
  const a = Number(match[2]);
  const b = Number(match[4]);
  if (a > 0xffffffff || b > 0xffffffff) throw new ImapParseError("PARTIAL range out of bounds");
  const first = Math.min(a, b);
  const last = Math.max(a, b);
  // "A range 500:400 is the same as 400:500" (RFC 5267 §5, RFC 9394 §4): a positive range is
  // answered low:high (as Dovecot's imaptest search-partial/sort-partial expect); a negative one
  // as written.
  return { text: match[1] === "-" ? text : `${first}:${last}`, first, last, fromEnd: match[1] === "-" };
}

/** The items of an ascending list that a partial range names, ascending (RFC 9394 §3.1). */
export function applyPartialRange<T>(items: readonly T[], range: PartialRange): T[] {
  return items.slice(...partialBounds(items.length, range));
}

/** The [start, end) indexes of a PARTIAL range within `length` items (what applyPartialRange keeps). */
export function partialBounds(length: number, range: PartialRange): [start: number, end: number] {
  if (!range.fromEnd) return [Math.min(range.first - 1, length), Math.min(range.last, length)];
  const end = length - range.first + 1;
  const start = Math.max(0, length - range.last);
  return end <= 0 ? [0, 0] : [start, end];
}

export interface SearchProgram<S> {
  /**
   * The RETURN options as given, or null without RETURN: then a rev1 session answers `* SEARCH`,
   * and a rev2 session `* ESEARCH … ALL` (RFC 9051 §6.4.4). `RETURN ()` is given as ["ALL"].
   */
  returnOptions: SearchReturnOptions | null;
  /** The CHARSET argument, upper-cased, or null. Only UTF-8 and US-ASCII are accepted by the parser. */
  charset: string | null;
  key: SearchKey<S>;
}

/** Rebuilds `key` with every message set passed through `resolve`. */
export function mapSearchSets<A, B>(key: SearchKey<A>, resolve: (set: A, kind: "sequence" | "uid") => B): SearchKey<B> {
  switch (key.kind) {
    case "sequence":
    case "uid":
      return { kind: key.kind, set: resolve(key.set, key.kind) };
    case "not":
    case "fuzzy":
      return { kind: key.kind, key: mapSearchSets(key.key, resolve) };
    case "or":
      return { kind: "or", left: mapSearchSets(key.left, resolve), right: mapSearchSets(key.right, resolve) };
    case "and":
      return { kind: "and", keys: key.keys.map((k) => mapSearchSets(k, resolve)) };
    default:
      return key;
  }
}

/** Whether any key satisfies `test` (depth-first). */
export function someSearchKey<S>(key: SearchKey<S>, test: (key: SearchKey<S>) => boolean): boolean {
  if (test(key)) return true;
  switch (key.kind) {
    case "not":
    case "fuzzy":
      return someSearchKey(key.key, test);
    case "or":
      return someSearchKey(key.left, test) || someSearchKey(key.right, test);
    case "and":
      return key.keys.some((k) => someSearchKey(k, test));
    default:
      return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Parsing.

export interface SearchLimits {
  /** Deepest nesting of NOT, OR and parenthesised lists; deeper is BAD. */
  maxDepth: number;
  /** Search keys in the whole program; more is BAD (bounds evaluation work per message). */
  maxKeys: number;
  /** RFC 5267 §4.3.1: live UPDATE contexts per session ([imap] search_max_update_contexts); more get NO [NOUPDATE]. */
  maxUpdateContexts?: number;
}

/** Default of [imap] search_max_update_contexts: each live context re-runs its search when the mailbox changes. */
export const DEFAULT_MAX_UPDATE_CONTEXTS = 8;

export const DEFAULT_SEARCH_LIMITS: SearchLimits = Object.freeze({ maxDepth: 64, maxKeys: 1000 });

/** RFC 9051 §6.4.4: UTF-8 must be supported; US-ASCII is its subset. */
export const SEARCH_CHARSETS = ["UTF-8", "US-ASCII"] as const;

const RETURN_OPTIONS: readonly SearchReturnOption[] = ["MIN", "MAX", "COUNT", "ALL", "SAVE", "RELEVANCY", "PARTIAL", "CONTEXT", "UPDATE"];

/** The keys without arguments, by name. NEW and OLD are RFC 3501 §6.4.4 (rev1) and spelled out here. */
const SIMPLE_KEYS: ReadonlyMap<string, SearchKey<never>> = new Map<string, SearchKey<never>>([
  ["ALL", { kind: "all" }],
  ["ANSWERED", { kind: "flag", flag: "\\Answered", present: true }],
  ["DELETED", { kind: "flag", flag: "\\Deleted", present: true }],
  ["DRAFT", { kind: "flag", flag: "\\Draft", present: true }],
  ["FLAGGED", { kind: "flag", flag: "\\Flagged", present: true }],
  ["SEEN", { kind: "flag", flag: "\\Seen", present: true }],
  ["UNANSWERED", { kind: "flag", flag: "\\Answered", present: false }],
  ["UNDELETED", { kind: "flag", flag: "\\Deleted", present: false }],
  ["UNDRAFT", { kind: "flag", flag: "\\Draft", present: false }],
  ["UNFLAGGED", { kind: "flag", flag: "\\Flagged", present: false }],
  ["UNSEEN", { kind: "flag", flag: "\\Seen", present: false }],
  ["RECENT", { kind: "recent" }],
  // RFC 3501 §6.4.4: NEW is "RECENT UNSEEN", OLD is "NOT RECENT".
  ["NEW", { kind: "and", keys: [{ kind: "recent" }, { kind: "flag", flag: "\\Seen", present: false }] }],
  ["OLD", { kind: "not", key: { kind: "recent" } }],
  ["SAVEDATESUPPORTED", { kind: "savedate-supported" }],
]);

const STRING_KEYS: ReadonlyMap<string, (value: string) => SearchKey<never>> = new Map<string, (value: string) => SearchKey<never>>([
  ["BCC", (value) => ({ kind: "address", field: "bcc", value })],
  ["CC", (value) => ({ kind: "address", field: "cc", value })],
  ["FROM", (value) => ({ kind: "address", field: "from", value })],
  ["TO", (value) => ({ kind: "address", field: "to", value })],
  ["SUBJECT", (value) => ({ kind: "subject", value })],
  ["BODY", (value) => ({ kind: "body", value })],
  ["TEXT", (value) => ({ kind: "text", value })],
]);

const DATE_KEYS: ReadonlyMap<string, { kind: "internal-date" | "sent-date" | "save-date"; comparison: DateComparison }> = new Map([
  ["BEFORE", { kind: "internal-date", comparison: "before" }],
  ["ON", { kind: "internal-date", comparison: "on" }],
  ["SINCE", { kind: "internal-date", comparison: "since" }],
  ["SENTBEFORE", { kind: "sent-date", comparison: "before" }],
  ["SENTON", { kind: "sent-date", comparison: "on" }],
  ["SENTSINCE", { kind: "sent-date", comparison: "since" }],
  ["SAVEDBEFORE", { kind: "save-date", comparison: "before" }],
  ["SAVEDON", { kind: "save-date", comparison: "on" }],
  ["SAVEDSINCE", { kind: "save-date", comparison: "since" }],
] as const);

const MS_PER_DAY = 86_400_000;

/**
 * Reads the arguments of SEARCH / UID SEARCH, positioned at the first argument, to the end of
 * the command: [search-return-opts SP] search-program (RFC 9051 §6.4.4, RFC 4731 §3.1).
 * Throws ImapParseError: BAD for syntax, NO [BADCHARSET …] for an unsupported charset.
 */
export function parseSearchProgram(args: ArgumentReader, limits: SearchLimits = DEFAULT_SEARCH_LIMITS): SearchProgram<SequenceSet> {
  const returnOptions = parseSearchReturn(args);
  return { returnOptions, ...parseSearchCriteria(args, limits) };
}

/**
 * The optional `RETURN (opts) SP` in front of the criteria; null when absent. Separate so that a
 * command can know SAVE was asked for even when the criteria then fail (RFC 5182 §2.4 resets `$`).
 */
export function parseSearchReturn(args: ArgumentReader): SearchReturnOptions | null {
  if (!args.takeKeyword("RETURN")) return null;
  args.space();
  const options = readReturnOptions(args);
  args.space();
  return options;
}

/**
 * search-program = ["CHARSET" SP charset SP] search-key *(SP search-key), then the command end.
 * RFC 9051 §6.4.4: an unsupported charset "MUST return a tagged NO response (not a BAD)".
 */
export function parseSearchCriteria(args: ArgumentReader, limits: SearchLimits = DEFAULT_SEARCH_LIMITS): Omit<SearchProgram<SequenceSet>, "returnOptions"> {
  let charset: string | null = null;
  if (args.takeKeyword("CHARSET")) {
    args.space();
    const name = (args.peekChar() === '"' ? args.string().toString("latin1") : args.atom()).toUpperCase();
    if (!(SEARCH_CHARSETS as readonly string[]).includes(name)) {
      throw new ImapParseError(`unsupported charset ${name.slice(0, 40)}`, { status: "NO", code: `BADCHARSET (${SEARCH_CHARSETS.join(" ")})` });
    }
    charset = name;
    args.space();
  }
  const reader = new SearchKeyReader(args, limits);
  const keys = [reader.key(0)];
  while (args.takeChar(" ")) keys.push(reader.key(0));
  args.end();
  return { charset, key: keys.length === 1 ? (keys[0] as SearchKey<SequenceSet>) : { kind: "and", keys } };
}

function readReturnOptions(args: ArgumentReader): SearchReturnOptions {
  let partial: PartialRange | undefined;
  const options = args.list((): SearchReturnOption => {
    const word = args.atom().toUpperCase();
    const option = RETURN_OPTIONS.find((o) => o === word);
    // RFC 4731 §3.1: an unknown search-return-opt is a syntax error.
    if (option === undefined) throw new ImapParseError(`unknown RETURN option ${word.slice(0, 40)}`);
    if (option === "PARTIAL") {
      // RFC 9394 §3.1: at most one PARTIAL, and not with ALL.
      if (partial !== undefined) throw new ImapParseError("PARTIAL given twice");
      args.space();
      partial = parsePartialRange(args);
    }
    return option;
  });
  if (partial !== undefined && options.includes("ALL")) throw new ImapParseError("PARTIAL and ALL cannot be combined");
  // RFC 4731 §3.1: "RETURN ()" is the same as "RETURN (ALL)". CONTEXT and UPDATE ask for no
  // data of their own (RFC 5267 §4.3: no interaction with other options), so with only them the
  // answer is ALL too: the client learns the result its updates then change.
  const unique = [...new Set(options)];
  const result: SearchReturnOptions = unique.every((o) => CONTEXT_OPTIONS.has(o)) ? [...unique, "ALL"] : unique;
  if (partial !== undefined) result.partial = partial;
  return result;
}

/** Recursive descent over search-key, counting depth and keys. */
class SearchKeyReader {
  private keys = 0;

  constructor(
    private readonly args: ArgumentReader,
    private readonly limits: SearchLimits,
  ) {}

  key(depth: number): SearchKey<SequenceSet> {
    if (depth > this.limits.maxDepth) throw new ImapParseError("search keys nested too deeply");
    if (++this.keys > this.limits.maxKeys) throw new ImapParseError("too many search keys");
    const args = this.args;
    const next = args.peekChar();
    if (next === "(") {
      // RFC 9051 §6.4.4: a parenthesised list is the AND of its keys.
      const keys = args.list(() => this.key(depth + 1), false);
      return keys.length === 1 ? (keys[0] as SearchKey<SequenceSet>) : { kind: "and", keys };
    }
    if (next !== null && /[0-9*$]/.test(next)) return { kind: "sequence", set: args.sequenceSet() };
    const name = args.atom().toUpperCase();
    const simple = SIMPLE_KEYS.get(name);
    if (simple !== undefined) return simple;
    const withString = STRING_KEYS.get(name);
    if (withString !== undefined) {
      args.space();
      return withString(args.astring());
    }
    const dated = DATE_KEYS.get(name);
    if (dated !== undefined) {
      args.space();
      return { kind: dated.kind, comparison: dated.comparison, day: Math.floor(args.date().getTime() / MS_PER_DAY) };
    }
    switch (name) {
      case "HEADER": {
        args.space();
        const field = args.astring();
        args.space();
        return { kind: "header", field, value: args.astring() };
      }
      case "KEYWORD":
      case "UNKEYWORD":
        args.space();
        // flag-keyword = atom (RFC 9051 §9): system flags have their own keys.
        return { kind: "flag", flag: args.atom(), present: name === "KEYWORD" };
      case "LARGER":
      case "SMALLER":
        args.space();
        // number64; past 2^53 precision is lost, harmlessly: no message is that large.
        return { kind: "size", comparison: name === "LARGER" ? "larger" : "smaller", octets: Number(args.number64()) };
      case "NOT":
        args.space();
        return { kind: "not", key: this.key(depth + 1) };
      case "FUZZY":
        args.space();
        return { kind: "fuzzy", key: this.key(depth + 1) };
      case "OR": {
        args.space();
        const left = this.key(depth + 1);
        args.space();
        return { kind: "or", left, right: this.key(depth + 1) };
      }
      case "UID":
        args.space();
        return { kind: "uid", set: args.sequenceSet() };
      // RFC 9738 §4: UIDAFTER n / UIDBEFORE n, the UIDs above / below n, as a UID range.
      case "UIDAFTER": {
        args.space();
        const uid = args.nzNumber();
        return uid >= MAX_SEQUENCE_NUMBER ? NOTHING : { kind: "uid", set: { kind: "ranges", ranges: [{ start: uid + 1, end: MAX_SEQUENCE_NUMBER }] } };
      }
      case "UIDBEFORE": {
        args.space();
        const uid = args.nzNumber();
        return uid <= 1 ? NOTHING : { kind: "uid", set: { kind: "ranges", ranges: [{ start: 1, end: uid - 1 }] } };
      }
      case "MODSEQ":
        args.space();
        return this.modSeq();
      case "EMAILID":
      case "THREADID": {
        args.space();
        // RFC 8474 §7: objectid = 1*255(ALPHA / DIGIT / "_" / "-"), an atom.
        const value = args.atom();
        if (!/^[A-Za-z0-9_-]{1,255}$/.test(value)) throw new ImapParseError(`invalid ${name} objectid`);
        return { kind: "object-id", field: name === "EMAILID" ? "emailid" : "threadid", value };
      }
      case "OLDER":
      case "YOUNGER":
        args.space();
        // RFC 5032 §2: interval = nz-number (seconds).
        return { kind: "age", comparison: name === "OLDER" ? "older" : "younger", seconds: args.nzNumber() };
      default:
        throw new ImapParseError(`unknown search key ${name.slice(0, 40)}`);
    }
  }

  /** RFC 7162 §3.1.5: "MODSEQ" [SP entry-name SP entry-type-req] SP mod-sequence-valzer. */
  private modSeq(): SearchKey<SequenceSet> {
    const args = this.args;
    let entry: { name: string; type: ModSeqEntryType } | null = null;
    if (args.peekChar() === '"') {
      const name = args.string().toString("utf8");
      // entry-flag-name = DQUOTE "/flags/" attr-flag DQUOTE
      if (!/^\/flags\/\\?[^\s()"\\]+$/i.test(name)) throw new ImapParseError("invalid MODSEQ entry name");
      args.space();
      const type = args.atom().toLowerCase();
      if (type !== "priv" && type !== "shared" && type !== "all") throw new ImapParseError("invalid MODSEQ entry type");
      entry = { name, type };
      args.space();
    }
    return { kind: "modseq", modseq: Number(args.number64()), entry };
  }
}
