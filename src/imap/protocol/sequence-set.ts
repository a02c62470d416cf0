// RFC 9051 §9 sequence-set: parse, normalise, resolve `*`, test membership, iterate lazily and
// encode. A set is kept as ranges and never expanded: `1:4294967295` costs one range. The same
// grammar serves message sequence numbers and UIDs; which one a set means is the command's
// business (selected-mailbox.ts resolves it). `$` (RFC 5182 SEARCHRES) is its own kind, resolved
// by the session from the last saved search result.
import { ImapParseError } from "./parse-error.js";

/** RFC 9051 §9: nz-number = digit-nz *DIGIT ; (0 < n < 4,294,967,296). */
export const MAX_SEQUENCE_NUMBER = 0xffffffff;

/** An inclusive range of positive integers with start <= end. */
export interface NumberRange {
  readonly start: number;
  readonly end: number;
}

/** One range as written; `*` is "the largest number in use" and is resolved late. */
export interface SequenceRange {
  readonly start: number | "*";
  readonly end: number | "*";
}

export type SequenceSet =
  /** Ranges as written; when none uses `*` they are already normalised (sorted, merged). */
  | { readonly kind: "ranges"; readonly ranges: readonly SequenceRange[] }
  /** RFC 5182 §2.1: `$`, the result of the last SEARCH ... RETURN (SAVE). */
  | { readonly kind: "saved" };

const NUMBER = /^[1-9][0-9]*$/;

function parseBound(text: string): number | "*" {
  if (text === "*") return "*";
  if (!NUMBER.test(text) || text.length > 10) throw new ImapParseError(`invalid number in sequence set: ${printable(text)}`);
  const value = Number(text);
  if (value > MAX_SEQUENCE_NUMBER) throw new ImapParseError(`sequence number out of range: ${printable(text)}`);
  return value;
}

/** Parses `1:4,7,9:*` or `$`. Throws ImapParseError (BAD) on any deviation from the grammar. */
export function parseSequenceSet(text: string): SequenceSet {
  if (text === "$") return { kind: "saved" };
  if (text.length === 0) throw new ImapParseError("empty sequence set");
  const ranges: SequenceRange[] = [];
  for (const element of text.split(",")) {
    const colon = element.indexOf(":");
    if (colon < 0) {
      const n = parseBound(element);
      ranges.push({ start: n, end: n });
    } else {
      const start = parseBound(element.slice(0, colon));
      const end = parseBound(element.slice(colon + 1));
      ranges.push({ start, end });
    }
  }
  const hasStar = ranges.some((r) => r.start === "*" || r.end === "*");
  return { kind: "ranges", ranges: hasStar ? ranges : normaliseRanges(ranges as NumberRange[]) };
}

/**
 * Sorted, non-overlapping, non-adjacent ranges covering the same numbers. Each range's ends are
 * ordered first: RFC 9051 §9 says `4:2` is `2:4`.
 */
export function normaliseRanges(ranges: Iterable<NumberRange>): NumberRange[] {
  const ordered = [...ranges].map((r) => (r.start <= r.end ? r : { start: r.end, end: r.start })).sort((a, b) => a.start - b.start);
  const out: { start: number; end: number }[] = [];
  for (const range of ordered) {
    const last = out[out.length - 1];
    if (last !== undefined && range.start <= last.end + 1) last.end = Math.max(last.end, range.end);
    else out.push({ start: range.start, end: range.end });
  }
  return out;
}

/**
 * The numeric ranges of a (non-`$`) set once `*` is known: `*` becomes `largest`.
 * RFC 9051 §6.4.8: `559:*` includes the largest UID even when 559 is above it, which the end
 * ordering gives for free. With largest = 0 (empty mailbox) `*` matches nothing.
 */
export function resolveRanges(set: Extract<SequenceSet, { kind: "ranges" }>, largest: number): NumberRange[] {
  const resolved: NumberRange[] = [];
  for (const range of set.ranges) {
    if ((range.start === "*" || range.end === "*") && largest === 0) continue;
    const start = range.start === "*" ? largest : range.start;
    const end = range.end === "*" ? largest : range.end;
    resolved.push({ start, end });
  }
  return normaliseRanges(resolved);
}

/** Membership by binary search over normalised ranges. */
export function rangesContain(ranges: readonly NumberRange[], n: number): boolean {
  let low = 0;
  let high = ranges.length - 1;
  while (low <= high) {
    const mid = (low + high) >> 1;
    const range = ranges[mid] as NumberRange;
    if (n < range.start) high = mid - 1;
    else if (n > range.end) low = mid + 1;
    else return true;
  }
  return false;
}

/** Every number of normalised ranges, ascending, one at a time (never materialised). */
export function* iterateRanges(ranges: readonly NumberRange[]): Generator<number, void, undefined> {
  for (const range of ranges) for (let n = range.start; n <= range.end; n++) yield n;
}

/** The largest number a set names explicitly (ignoring `*`), for range checks; 0 when none. */
export function largestExplicit(set: Extract<SequenceSet, { kind: "ranges" }>): number {
  let largest = 0;
  for (const r of set.ranges) for (const b of [r.start, r.end]) if (b !== "*" && b > largest) largest = b;
  return largest;
}

/** Compact text of ranges: `1:3,5,7:9`. Input need not be normalised. */
export function encodeRanges(ranges: Iterable<NumberRange>): string {
  return normaliseRanges(ranges)
    .map((r) => (r.start === r.end ? String(r.start) : `${r.start}:${r.end}`))
    .join(",");
}

/** Compact text of numbers in any order: [5,1,2,3] → `1:3,5`. Empty input gives "". */
export function encodeNumbers(numbers: Iterable<number>): string {
  const ranges: NumberRange[] = [];
  for (const n of numbers) ranges.push({ start: n, end: n });
  return encodeRanges(ranges);
}

/** Compact text of numbers keeping their order (COPYUID pairs must stay aligned): [3,1,2] → `3,1:2`. */
export function encodeOrderedNumbers(numbers: readonly number[]): string {
  const parts: string[] = [];
  let i = 0;
  while (i < numbers.length) {
    const start = numbers[i] as number;
    let end = start;
    while (i + 1 < numbers.length && numbers[i + 1] === end + 1) end = numbers[++i] as number;
    parts.push(start === end ? String(start) : `${start}:${end}`);
    i++;
  }
  return parts.join(",");
}

function printable(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
}
