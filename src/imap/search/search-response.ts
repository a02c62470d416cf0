// What a finished search answers and saves. Three response forms:
// - `* SEARCH 2 5 9` (RFC 3501 §7.2.5), for IMAP4rev1 without RETURN;
// - `* ESEARCH (TAG "a1") UID MIN 2 MAX 9 COUNT 3 ALL 2,5,9` (RFC 4731 §3.1), with RETURN (and
//   `(TAG "a1" MAILBOX "x" UIDVALIDITY 7)` for the multi-mailbox ESEARCH of RFC 7377), and
//   always under IMAP4rev2 (RFC 9051 §6.4.4: SEARCH without RETURN is RETURN (ALL) there);
// - none at all for RETURN (SAVE) alone (RFC 5182 §2.4).
// `(MODSEQ n)` / `MODSEQ n` is added when the criteria used MODSEQ (RFC 7162 §3.1.5), and
// `RELEVANCY (s1 s2 ...)` when asked for (RFC 6203 §4).
import type { ModSeq, Uid } from "../../store/index.js";
import { applyPartialRange, type PartialRange, type SearchReturnOption } from "../protocol/search-key.js";
import { encodeNumbers } from "../protocol/sequence-set.js";
import { atom, encoded, list, NIL, num, str, type ImapValue } from "../protocol/response-value.js";

export interface SearchMatch {
  uid: Uid;
  /** Sequence number in the session's view. */
  seq: number;
  modseq: ModSeq;
  /** RFC 6203 relevancy score, 1-100; 100 when absent. */
  relevancy?: number;
}

export interface ResponseForm {
  tag: string;
  byUid: boolean;
  /** As parsed: null without RETURN. */
  returnOptions: readonly SearchReturnOption[] | null;
  /** IMAP4rev2 enabled. */
  rev2: boolean;
  /** The criteria held a MODSEQ key. */
  withModSeq: boolean;
  /** RFC 9394 PARTIAL's range when asked for. */
  partial?: PartialRange | null;
  /** RFC 7377 §2: a multi-mailbox ESEARCH names the mailbox (already encoded for the wire) and its UIDVALIDITY. */
  mailbox?: { name: string; uidValidity: number };
}

export interface SearchOutcome {
  /** The untagged response (values after "* "), or null when none is sent. */
  response: ImapValue[] | null;
  /** UIDs `$` now stands for, or null when SAVE was not asked for. */
  saved: Uid[] | null;
}

/** `matches` ascending (by UID, hence by sequence number). */
export function searchOutcome(matches: readonly SearchMatch[], form: ResponseForm): SearchOutcome {
  const options = new Set(form.returnOptions ?? []);
  const partial = options.has("PARTIAL") && form.partial != null ? applyPartialRange(matches, form.partial) : null;
  // RFC 9394 §3.1 with SAVE: `$` is what PARTIAL returned (the page the client asked for).
  const saved = options.has("SAVE") ? (partial !== null ? partial.map((m) => m.uid) : savedUids(matches, options)) : null;
  if (form.returnOptions === null && !form.rev2) return { response: legacyResponse(matches, form), saved };
  // RFC 9051 §6.4.4: without RETURN, an IMAP4rev2 session gets ESEARCH with ALL.
  if (form.returnOptions === null) options.add("ALL");
  options.delete("SAVE");
  // RFC 5267 §4: CONTEXT and UPDATE change nothing in this response.
  options.delete("CONTEXT");
  options.delete("UPDATE");
  // RFC 5182 §2.4: RETURN (SAVE) alone produces no ESEARCH response.
  if (options.size === 0) return { response: null, saved };
  return { response: extendedResponse(matches, form, options), saved };
}

function numberOf(match: SearchMatch, byUid: boolean): number {
  return byUid ? match.uid : match.seq;
}

function legacyResponse(matches: readonly SearchMatch[], form: ResponseForm): ImapValue[] {
  // One pre-encoded value for all the numbers: a mailbox of 1,000,000 matches is one string, not
  // a million values (nor a million arguments to ctx.untagged, past the engine's limit).
  const values: ImapValue[] = [atom("SEARCH")];
  if (matches.length > 0) values.push(encoded(matches.map((m) => numberOf(m, form.byUid)).join(" ")));
  // RFC 7162 §3.1.5: the highest modseq of the returned messages; never with an empty result.
  if (form.withModSeq && matches.length > 0) values.push(list([atom("MODSEQ"), num(highestModSeq(matches))]));
  return values;
}

function extendedResponse(matches: readonly SearchMatch[], form: ResponseForm, options: ReadonlySet<SearchReturnOption>): ImapValue[] {
  // RFC 4731 §3.1: search-correlator = SP "(" "TAG" SP tag-string ")", and "UID" for UID SEARCH.
  const correlator: ImapValue[] = [atom("TAG"), str(form.tag)];
  if (form.mailbox !== undefined) correlator.push(atom("MAILBOX"), str(form.mailbox.name), atom("UIDVALIDITY"), num(form.mailbox.uidValidity));
  const values: ImapValue[] = [atom("ESEARCH"), list(correlator)];
  if (form.byUid) values.push(atom("UID"));
  const first = matches[0];
  const last = matches[matches.length - 1];
  // RFC 4731 §3.1: MIN, MAX and ALL are left out when nothing matched; COUNT is always given.
  if (options.has("MIN") && first !== undefined) values.push(atom("MIN"), num(numberOf(first, form.byUid)));
  if (options.has("MAX") && last !== undefined) values.push(atom("MAX"), num(numberOf(last, form.byUid)));
  if (options.has("COUNT")) values.push(atom("COUNT"), num(matches.length));
  if (options.has("ALL") && matches.length > 0) values.push(atom("ALL"), atom(encodeNumbers(matches.map((m) => numberOf(m, form.byUid)))));
  if (options.has("PARTIAL") && form.partial != null) {
    // RFC 9394 §3.1: PARTIAL (range results), results NIL when the range holds no match.
    const page = applyPartialRange(matches, form.partial);
    values.push(atom("PARTIAL"), list([atom(form.partial.text), page.length === 0 ? NIL : atom(encodeNumbers(page.map((m) => numberOf(m, form.byUid))))]));
  }
  // RFC 6203 §4: one score per matched message, in the order of the messages (as ALL lists them).
  if (options.has("RELEVANCY") && matches.length > 0) values.push(atom("RELEVANCY"), list(matches.map((m) => num(m.relevancy ?? 100))));
  if (form.withModSeq && first !== undefined && last !== undefined) {
    // RFC 4731 §3.2 with CONDSTORE: MIN/MAX alone report the modseq of the messages they name;
    // ALL or COUNT the highest of every match.
    const everything = options.has("ALL") || options.has("COUNT");
    const reported = everything ? matches : [...(options.has("MIN") ? [first] : []), ...(options.has("MAX") ? [last] : [])];
    values.push(atom("MODSEQ"), num(highestModSeq(reported)));
  }
  return values;
}

/**
 * RFC 5182 §2.4: with SAVE and only MIN and/or MAX beside it, just those messages are saved;
 * otherwise the whole result.
 */
function savedUids(matches: readonly SearchMatch[], options: ReadonlySet<SearchReturnOption>): Uid[] {
  const onlyEnds = (options.has("MIN") || options.has("MAX")) && !options.has("ALL") && !options.has("COUNT");
  if (!onlyEnds) return matches.map((m) => m.uid);
  const first = matches[0];
  const last = matches[matches.length - 1];
  const ends = new Set<Uid>();
  if (options.has("MIN") && first !== undefined) ends.add(first.uid);
  if (options.has("MAX") && last !== undefined) ends.add(last.uid);
  return [...ends];
}

function highestModSeq(matches: readonly SearchMatch[]): number {
  let highest = 0;
  for (const m of matches) if (m.modseq > highest) highest = m.modseq;
  return highest;
}
