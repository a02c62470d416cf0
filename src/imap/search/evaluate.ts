// Three-valued evaluation of a resolved SearchKey over what is known of one message so far.
// A leaf whose data has not been loaded answers `undefined` (unknown); AND, OR and NOT combine
// with Kleene logic, so a message is decided as soon as the cheap facts suffice: `DELETED BODY x`
// never reads the body of an undeleted message, and `OR SEEN TEXT x` never reads a seen one.
import { addressText } from "../../mail/header-search.js";
import { decodeEncodedWords, type HeaderField } from "../../mail/header-fields.js";
import type { DateComparison, SearchKey } from "../protocol/search-key.js";
import type { MessageAttributes, MessageSummary, StoredMessage, Uid } from "../../store/index.js";
import { dayOfDateHeader, dayOfInstant } from "./calendar-day.js";
import { FoldedNeedle, foldCase } from "./case-fold.js";

/** A search key whose message sets are resolved to the UIDs they name in the selected mailbox. */
export type ResolvedSearchKey = SearchKey<ReadonlySet<Uid>>;

/** What is known about one message; each stage of search-mailbox.ts fills in more. */
export interface MessageFacts {
  uid: Uid;
  /** Stage "summary": flags, size, INTERNALDATE, modseq. */
  summary?: MessageSummary;
  recent: boolean;
  /** Stage "envelope": the stored envelope and structure. */
  stored?: StoredMessage;
  /** Stage "header": the top-level header of the logical message (trace prefix included). */
  header?: { fields: HeaderField[]; /** Search text of the blob's own header, see bodyText(). */ searchTextPrefix: string };
  /** Stage "attributes": EMAILID, THREADID and save date (MailStore.getMessageAttributes). */
  attributes?: MessageAttributes;
  /** Stage "text": the stored search text (decoded header values, then text bodies). */
  searchText?: string;
  /** Folded forms of the search text and of its body part, made on first use: several TEXT/BODY keys fold once. */
  folded?: { text?: string; body?: string };
}

/**
 * The data a leaf key needs first, cheapest first. BODY needs the text, then (only when the string
 * is in the text at all) the header too, to tell header text from body text.
 */
export type FactStage = "summary" | "attributes" | "envelope" | "header" | "text";

export function stageOf(key: ResolvedSearchKey): FactStage {
  switch (key.kind) {
    case "address":
    case "subject":
    case "sent-date":
      return "envelope";
    case "header":
      return "header";
    case "body":
    case "text":
      return "text";
    case "save-date":
    case "object-id":
      return "attributes";
    default:
      return "summary";
  }
}

/**
 * The RFC 6203 relevancy (1-100) of a matched message: the mean score of the fuzzy TEXT/BODY
 * leaves whose answer holds it, rounded; 100 when none does (it matched exactly).
 */
export function relevancyOf(compiled: CompiledKey, uid: number): number {
  let sum = 0;
  let count = 0;
  for (const scores of compiled.fuzzyScores?.values() ?? []) {
    const score = scores.get(uid);
    if (score !== undefined) {
      sum += score;
      count++;
    }
  }
  return count === 0 ? 100 : Math.round(sum / count);
}

/** A key prepared once per search: every search string folded once, not once per message. */
export interface CompiledKey {
  key: ResolvedSearchKey;
  /** When the search started (ms): what OLDER/YOUNGER (RFC 5032) measure from, the same for every message. */
  now: number;
  needles: Map<ResolvedSearchKey, FoldedNeedle>;
  /**
   * TEXT/BODY leaves already answered by the full-text index (MailStore.findTextMatches): the
   * leaf is then a UID lookup. `unverified` UIDs fall back to the text and header facts.
   */
  textMatches?: Map<ResolvedSearchKey, { matches: UidAnswer; unverified: UidAnswer }>;
  /**
   * SUBJECT/FROM/TO/CC/BCC/HEADER leaves already answered by the header index
   * (MailStore.findHeaderMatches): the leaf is then a UID lookup, no envelope or header is read.
   */
  headerMatches?: Map<ResolvedSearchKey, UidAnswer>;
  /**
   * TEXT/BODY leaves inside a FUZZY key (RFC 6203): answered by MailStore.findFuzzyTextMatches,
   * their textMatches entry is the fuzzy answer and `fuzzyScores` holds each match's score.
   */
  fuzzyLeaves: Set<ResolvedSearchKey>;
  fuzzyScores?: Map<ResolvedSearchKey, ReadonlyMap<number, number>>;
}

/**
 * An index's answer: UIDs ascending as the store returned them. The hash set for per-message
 * lookups is made on first use only: a search walked by the answer itself (search-mailbox.ts,
 * boundingAnswer) never needs it, which at 100,000 matches saves most of the search's own time.
 */
export class UidAnswer {
  private set: Set<number> | undefined;

  constructor(readonly sorted: readonly number[]) {}

  get size(): number {
    return this.sorted.length;
  }

  has(uid: number): boolean {
    this.set ??= new Set(this.sorted);
    return this.set.has(uid);
  }
}

export function compileKey(key: ResolvedSearchKey, now: number = Date.now()): CompiledKey {
  const needles = new Map<ResolvedSearchKey, FoldedNeedle>();
  const fuzzyLeaves = new Set<ResolvedSearchKey>();
  const visit = (k: ResolvedSearchKey, fuzzy = false): void => {
    switch (k.kind) {
      case "body":
      case "text":
        if (fuzzy) fuzzyLeaves.add(k);
        needles.set(k, new FoldedNeedle(k.value));
        return;
      case "address":
      case "subject":
      case "header":
        // Header keys inside FUZZY are matched exactly (docs/rfc-coverage.md, RFC 6203).
        needles.set(k, new FoldedNeedle(k.value));
        return;
      case "fuzzy":
        return visit(k.key, true);
      case "not":
        return visit(k.key, fuzzy);
      case "or":
        visit(k.left, fuzzy);
        return visit(k.right, fuzzy);
      case "and":
        return k.keys.forEach((inner) => visit(inner, fuzzy));
      default:
        return;
    }
  };
  visit(key);
  return { key, now, needles, fuzzyLeaves };
}

/** true / false when decided, undefined when a needed fact is not loaded yet. */
export function evaluate(compiled: CompiledKey, facts: MessageFacts): boolean | undefined {
  return evaluateKey(compiled, compiled.key, facts);
}

function evaluateKey(compiled: CompiledKey, key: ResolvedSearchKey, facts: MessageFacts): boolean | undefined {
  const { summary } = facts;
  switch (key.kind) {
    case "all":
      return true;
    case "flag":
      return summary === undefined ? undefined : hasFlag(summary.flags, key.flag) === key.present;
    case "recent":
      return facts.recent;
    case "sequence":
    case "uid":
      return key.set.has(facts.uid);
    case "size":
      // RFC 9051 §6.4.4: LARGER "larger than", SMALLER "smaller than": both strict.
      if (summary === undefined) return undefined;
      return key.comparison === "larger" ? summary.size > key.octets : summary.size < key.octets;
    case "internal-date":
      return summary === undefined ? undefined : compareDay(dayOfInstant(summary.internalDate), key.comparison, key.day);
    case "age": {
      // RFC 5032 §3: OLDER n matches an INTERNALDATE at least n seconds before now, YOUNGER n one
      // less than n seconds before now (whole seconds, so the two are complements).
      if (summary === undefined) return undefined;
      const age = Math.floor((compiled.now - summary.internalDate.getTime()) / 1000);
      return key.comparison === "older" ? age >= key.seconds : age < key.seconds;
    }
    case "save-date":
      // RFC 8514 §4: as BEFORE/ON/SINCE, on the save date (disregarding time and timezone).
      return facts.attributes === undefined ? undefined : compareDay(dayOfInstant(facts.attributes.saveDate), key.comparison, key.day);
    case "savedate-supported":
      return true;
    case "object-id": {
      // RFC 8474 §6: objectids compare exactly (case-sensitive).
      if (facts.attributes === undefined) return undefined;
      return (key.field === "emailid" ? facts.attributes.emailId : facts.attributes.threadId) === key.value;
    }
    case "modseq":
      // RFC 7162 §3.1.5: "mod-sequence equal to or greater than".
      return summary === undefined ? undefined : summary.modseq >= key.modseq;
    case "sent-date": {
      if (facts.stored === undefined) return undefined;
      // RFC 9051 §6.4.4: the Date: header, disregarding time and timezone. Without a readable
      // Date: header no SENT* key matches (so NOT SENTBEFORE does).
      const day = facts.stored.envelope.date === null ? null : dayOfDateHeader(facts.stored.envelope.date);
      return day !== null && compareDay(day, key.comparison, key.day);
    }
    case "subject": {
      const indexed = compiled.headerMatches?.get(key);
      if (indexed !== undefined) return indexed.has(facts.uid);
      if (facts.stored === undefined) return undefined;
      const subject = facts.stored.envelope.subject;
      return subject !== null && needle(compiled, key).foundIn(decodeEncodedWords(subject));
    }
    case "address": {
      const indexed = compiled.headerMatches?.get(key);
      if (indexed !== undefined) return indexed.has(facts.uid);
      if (facts.stored === undefined) return undefined;
      const addresses = facts.stored.envelope[key.field];
      return addresses !== null && needle(compiled, key).foundIn(addressText(addresses));
    }
    case "header": {
      const indexed = compiled.headerMatches?.get(key);
      if (indexed !== undefined) return indexed.has(facts.uid);
      if (facts.header === undefined) return undefined;
      const name = key.field.toLowerCase();
      const wanted = needle(compiled, key);
      // RFC 9051 §6.4.4: an empty string matches every message that has the field at all.
      return facts.header.fields.some((f) => f.name.toLowerCase() === name && wanted.foundIn(decodeEncodedWords(f.value)));
    }
    case "text": {
      const indexed = compiled.textMatches?.get(key);
      if (indexed !== undefined) return indexed.matches.has(facts.uid);
      if (facts.searchText === undefined) return undefined;
      const folded = (facts.folded ??= {});
      folded.text ??= foldCase(facts.searchText);
      return needle(compiled, key).foundInFolded(folded.text);
    }
    case "body": {
      const indexed = compiled.textMatches?.get(key);
      if (indexed !== undefined && indexed.matches.has(facts.uid)) return true;
      if (indexed !== undefined && !indexed.unverified.has(facts.uid)) return false;
      if (facts.searchText === undefined) return undefined;
      const folded = (facts.folded ??= {});
      folded.text ??= foldCase(facts.searchText);
      const wanted = needle(compiled, key);
      // Not anywhere in the text: not in the body either, and the header need not be read.
      if (!wanted.foundInFolded(folded.text)) return false;
      if (facts.header === undefined) return undefined;
      // The stored text is folded (MailStore.getSearchText); the header's is folded alike to line up.
      folded.body ??= bodyText(folded.text, foldCase(facts.header.searchTextPrefix));
      return wanted.foundInFolded(folded.body);
    }
    case "not": {
      const inner = evaluateKey(compiled, key.key, facts);
      return inner === undefined ? undefined : !inner;
    }
    case "fuzzy":
      // Its TEXT/BODY leaves carry the fuzzy answer (fuzzyLeaves); anything else matches exactly.
      return evaluateKey(compiled, key.key, facts);
    case "or": {
      const left = evaluateKey(compiled, key.left, facts);
      if (left === true) return true;
      const right = evaluateKey(compiled, key.right, facts);
      if (right === true) return true;
      return left === false && right === false ? false : undefined;
    }
    case "and": {
      let unknown = false;
      for (const k of key.keys) {
        const value = evaluateKey(compiled, k, facts);
        if (value === false) return false;
        if (value === undefined) unknown = true;
      }
      return unknown ? undefined : true;
    }
  }
}

function needle(compiled: CompiledKey, key: ResolvedSearchKey): FoldedNeedle {
  const found = compiled.needles.get(key);
  if (found === undefined) throw new Error("search key was not compiled");
  return found;
}

/** RFC 9051 §2.3.2: flags and keywords compare case-insensitively. */
function hasFlag(flags: readonly string[], flag: string): boolean {
  const wanted = flag.toLowerCase();
  return flags.some((f) => f.toLowerCase() === wanted);
}

function compareDay(day: number, comparison: DateComparison, wanted: number): boolean {
  if (comparison === "before") return day < wanted;
  if (comparison === "on") return day === wanted;
  return day >= wanted; // RFC 9051 §6.4.4: SINCE is "within or later than".
}

/** The text FROM/TO/CC/BCC match against (mail/header-search.ts, shared with the store's index). */
export { addressText };

/**
 * The search text of a header block as the MIME tree builder writes it (decoded values joined by
 * line feeds), so BODY can skip it: the stored search text starts with the top-level header's
 * values and continues with the bodies.
 */
export function headerSearchText(fields: readonly HeaderField[]): string {
  let text = "";
  for (const field of fields) {
    if (text !== "") text += "\n";
    text += decodeEncodedWords(field.value);
  }
  return text;
}

/** The body part of a search text. If the header part does not line up, the whole text is searched rather than missing a match. */
export function bodyText(searchText: string, headerPrefix: string): string {
  if (searchText.startsWith(headerPrefix)) return searchText.slice(headerPrefix.length);
  // The text was capped inside the header: there is no body text.
  if (headerPrefix.startsWith(searchText)) return "";
  return searchText;
}

