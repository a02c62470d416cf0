// The keys SORT orders by (RFC 5256 §3, RFC 5957 §3) and the sent date THREAD orders siblings
// by, computed from MailStore.getSortFacts (stored envelope, never a message file).
import { decodeEncodedWords } from "../../mail/header-fields.js";
import type { EnvelopeAddress } from "../../mail/envelope.js";
import type { SortFacts } from "../../store/index.js";
import { asciiCasemap, baseSubject } from "./base-subject.js";

export type SortKeyName = "ARRIVAL" | "CC" | "DATE" | "FROM" | "SIZE" | "SUBJECT" | "TO" | "DISPLAYFROM" | "DISPLAYTO" | "RELEVANCY";

/** RELEVANCY: RFC 6203 §4, a server with SORT and SEARCH=FUZZY sorts by the fuzzy search's scores. */
export const SORT_KEY_NAMES: readonly SortKeyName[] = ["ARRIVAL", "CC", "DATE", "FROM", "SIZE", "SUBJECT", "TO", "DISPLAYFROM", "DISPLAYTO", "RELEVANCY"];

export interface SortCriterion {
  key: SortKeyName;
  reverse: boolean;
}

/** One key's value for one message: numbers for dates and sizes, comparator-mapped strings otherwise. */
export type SortValue = number | string;

/**
 * The value of `key` for a message. `relevancy` is the message's RFC 6203 score (1-100; 100 when
 * no FUZZY key scored it, as SEARCH RETURN (RELEVANCY) reports). RELEVANCY orders the most
 * relevant first, unlike every other key that is a number (REVERSE gives the least relevant
 * first; Dovecot orders it so too), hence the negated score.
 */
export function sortValue(key: SortKeyName, facts: SortFacts, relevancy = 100): SortValue {
  switch (key) {
    case "RELEVANCY":
      return -relevancy;
    case "ARRIVAL":
      return facts.internalDate.getTime();
    case "DATE":
      return sentTime(facts);
    case "SIZE":
      return facts.size;
    case "SUBJECT":
      return baseSubject(facts.envelope.subject).key;
    // RFC 5256 §3: the addr-mailbox (local part) of the first address; none sorts as "".
    case "FROM":
      return asciiCasemap(firstAddress(facts.envelope.from)?.mailbox ?? "");
    case "TO":
      return asciiCasemap(firstAddress(facts.envelope.to)?.mailbox ?? "");
    case "CC":
      return asciiCasemap(firstAddress(facts.envelope.cc)?.mailbox ?? "");
    case "DISPLAYFROM":
      return displayValue(facts.envelope.from);
    case "DISPLAYTO":
      return displayValue(facts.envelope.to);
  }
}

/**
 * The first element of an address list, or null. A group's start marker counts: its mailbox is
 * the group name (RFC 9051 §7.5.2), which is what a group-addressed message sorts by, as Dovecot
 * and imaptest's sort-addresses expect.
 */
function firstAddress(list: readonly EnvelopeAddress[] | null): EnvelopeAddress | null {
  return list?.[0] ?? null;
}

/**
 * RFC 5957 §3: the decoded display-name of the first address when it has a non-empty one, else
 * its addr-spec; no address sorts as "".
 */
function displayValue(list: readonly EnvelopeAddress[] | null): string {
  const first = firstAddress(list);
  if (first === null) return "";
  const name = first.name === null ? "" : decodeEncodedWords(first.name).trim();
  if (name !== "") return asciiCasemap(name);
  // A group: its name; otherwise the addr-spec.
  return asciiCasemap(first.host === null ? (first.mailbox ?? "") : `${first.mailbox ?? ""}@${first.host}`);
}

/**
 * RFC 5256 §2.2: the sent date is the Date: header in UTC; when it is missing or cannot be
 * parsed, the INTERNALDATE.
 */
export function sentTime(facts: Pick<SortFacts, "envelope" | "internalDate">): number {
  const date = facts.envelope.date === null ? null : parseDateHeader(facts.envelope.date);
  return date ?? facts.internalDate.getTime();
}

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
/** RFC 5322 §4.3 obsolete zones. */
const ZONES: Readonly<Record<string, number>> = { ut: 0, gmt: 0, z: 0, edt: -4, est: -5, cdt: -5, cst: -6, mdt: -6, mst: -7, pdt: -7, pst: -8 };

/**
 * An RFC 5322 §3.3 date-time as milliseconds since the epoch, or null. Tolerant like readers of
 * real mail: no day-of-week, comments, two- and three-digit years (§4.3), seconds optional, an
 * unknown or missing zone taken as UTC.
 */
export function parseDateHeader(value: string): number | null {
  const text = value.replace(/\([^()]*\)/g, " ").toLowerCase();
  const match = /(?:^|[^0-9a-z])(\d{1,2})\s*-?\s*([a-z]{3})[a-z]*\.?\s*-?\s*(\d{2,4})\s+(\d{1,2})\s*:\s*(\d{2})(?:\s*:\s*(\d{2}))?\s*([+-]\d{4}|[a-z]+)?/.exec(text);
  if (match === null) return null;
  const month = MONTHS.indexOf(match[2] ?? "");
  if (month < 0) return null;
  const digits = match[3] ?? "";
  let year = Number(digits);
  if (digits.length === 2) year += year < 50 ? 2000 : 1900;
  else if (digits.length === 3) year += 1900;
  const day = Number(match[1]);
  const hour = Number(match[4]);
  const minute = Number(match[5]);
  const second = Number(match[6] ?? "0");
  if (day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return null;
  let offsetMinutes = 0;
  const zone = match[7];
  if (zone !== undefined && /^[+-]\d{4}$/.test(zone)) {
    const sign = zone.startsWith("-") ? -1 : 1;
    offsetMinutes = sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(3, 5)));
  } else if (zone !== undefined) offsetMinutes = (ZONES[zone] ?? 0) * 60;
  const time = Date.UTC(year, month, day, hour, minute, second) - offsetMinutes * 60_000;
  return Number.isFinite(time) ? time : null;
}

/** A message's values for the criteria, in order, with its sequence number for the final tie-break. */
export interface SortRow {
  uid: number;
  seq: number;
  values: SortValue[];
}

/**
 * Orders rows by the criteria (REVERSE flips one key), then by sequence number (RFC 5256 §3:
 * messages equal on every key are in sequence order). Sorts in place and returns the array.
 */
export function sortRows(rows: SortRow[], criteria: readonly SortCriterion[]): SortRow[] {
  return rows.sort((a, b) => {
    for (let i = 0; i < criteria.length; i++) {
      const x = a.values[i] as SortValue;
      const y = b.values[i] as SortValue;
      if (x === y) continue;
      const order = x < y ? -1 : 1;
      return criteria[i]!.reverse ? -order : order;
    }
    return a.seq - b.seq;
  });
}
