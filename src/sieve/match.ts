import { compileRegex, regexSearch, type CompiledRegex, type RegexBudget } from "./regex.js";

// Comparators (RFC 4790 via RFC 5228 §2.7.3, i;ascii-numeric), match types :is/:contains/:matches
// (RFC 5228 §2.7.1) and the relational :value/:count (RFC 5231). Wildcard matching is the
// linear-memory star-backtracking algorithm, O(pattern x value) time, never exponential.

export type Comparator = "i;octet" | "i;ascii-casemap" | "i;ascii-numeric";
export type Relation = "gt" | "ge" | "lt" | "le" | "eq" | "ne";

export interface MatchSpec {
  readonly comparator: Comparator;
  readonly type: "is" | "contains" | "matches" | "value" | "count" | "regex";
  readonly relation: Relation | null;
  /** For :regex: the run's compiled patterns, state bound and step budget (regex.ts). */
  readonly regex?: RegexRun;
}

export interface RegexRun {
  readonly maxStates: number;
  readonly budget: RegexBudget;
}

// Compiled patterns shared by every run (a script's constant patterns are the same each message);
// bounded, oldest dropped first.
const REGEX_CACHE = new Map<string, CompiledRegex>();
const REGEX_CACHE_ENTRIES = 512;

// i;ascii-casemap folds A-Z only (RFC 4790 §9.2); for pure-ASCII text that is toLowerCase, which
// is much faster than a replace callback over a body part.
const NON_ASCII = /[^\x00-\x7f]/;
const foldAscii = (s: string): string => (NON_ASCII.test(s) ? s.replace(/[A-Z]/g, (c) => c.toLowerCase()) : s.toLowerCase());
const fold = (comparator: Comparator, s: string): string => (comparator === "i;ascii-casemap" ? foldAscii(s) : s);

/** RFC 4790 §9.1: the leading digits as a number; a string without leading digits is positive infinity. */
function numericValue(s: string): bigint | null {
  const m = /^[0-9]+/.exec(s);
  return m ? BigInt(m[0]) : null;
}

/** -1, 0, 1 ordering of two values under a comparator. */
export function compareValues(comparator: Comparator, a: string, b: string): number {
  if (comparator === "i;ascii-numeric") {
    const x = numericValue(a);
    const y = numericValue(b);
    if (x === null && y === null) return 0;
    if (x === null) return 1;
    if (y === null) return -1;
    return x < y ? -1 : x > y ? 1 : 0;
  }
  const x = fold(comparator, a);
  const y = fold(comparator, b);
  // i;octet and i;ascii-casemap order by octets (RFC 4790 §9.2, §9.3).
  const bx = Buffer.from(x, "utf8");
  const by = Buffer.from(y, "utf8");
  return Buffer.compare(bx, by);
}

function relationHolds(relation: Relation, order: number): boolean {
  switch (relation) {
    case "gt":
      return order > 0;
    case "ge":
      return order >= 0;
    case "lt":
      return order < 0;
    case "le":
      return order <= 0;
    case "eq":
      return order === 0;
    case "ne":
      return order !== 0;
  }
}

/**
 * Glob match with * and ? (backslash escapes the next character). On success returns the
 * captures for RFC 5229 match variables: [whole, each wildcard's text in order]. Stars match as
 * little as possible, left to right.
 */
export function wildcardMatch(pattern: string, value: string, comparator: Comparator): string[] | null {
  type Tok = { kind: "lit"; ch: string } | { kind: "any" } | { kind: "star" };
  const toks: Tok[] = [];
  const p = Array.from(pattern);
  const caselessChar = (ch: string): string => (comparator === "i;ascii-casemap" ? foldAscii(ch) : ch);
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === "\\" && i + 1 < p.length) toks.push({ kind: "lit", ch: caselessChar(p[++i]!) });
    else if (c === "*") toks.push({ kind: "star" });
    else if (c === "?") toks.push({ kind: "any" });
    else toks.push({ kind: "lit", ch: caselessChar(c) });
  }
  const v = Array.from(value);
  // Folded once up front (A-Z only, so positions stay those of the original for the captures).
  const caseless = comparator === "i;ascii-casemap";
  const vf = caseless ? Array.from(foldAscii(value)) : v;
  const eq = (a: string, b: string): boolean => a === b;
  // [start, end) in v of each wildcard (star or ?), in pattern order.
  const caps: [number, number][] = [];
  let ti = 0;
  let vi = 0;
  let starTok = -1;
  let starVal = 0;
  let capsAtStar = 0;
  while (vi < v.length) {
    const t = toks[ti];
    if (t && t.kind === "lit" && eq(t.ch, vf[vi]!)) {
      ti++;
      vi++;
    } else if (t && t.kind === "any") {
      caps.push([vi, vi + 1]);
      ti++;
      vi++;
    } else if (t && t.kind === "star") {
      starTok = ti;
      starVal = vi;
      capsAtStar = caps.length;
      caps.push([vi, vi]);
      ti++;
    } else if (starTok >= 0) {
      starVal++;
      vi = starVal;
      ti = starTok + 1;
      caps.length = capsAtStar + 1;
      caps[capsAtStar] = [caps[capsAtStar]![0], starVal];
    } else return null;
  }
  while (toks[ti]?.kind === "star") {
    caps.push([vi, vi]);
    ti++;
  }
  if (ti !== toks.length) return null;
  return [value, ...caps.map(([a, b]) => v.slice(a, b).join(""))];
}

/**
 * Does any value match any key? Returns the match variables of the first successful :matches
 * (for RFC 5229 ${0}..${9}), [] for other successful matches, null for no match.
 */
export function matchAny(spec: MatchSpec, values: readonly string[], keys: readonly string[]): string[] | null {
  if (spec.type === "count") {
    const count = String(values.length);
    return keys.some((k) => relationHolds(spec.relation!, compareValues(spec.comparator, count, k))) ? [] : null;
  }
  for (const value of values) {
    for (const key of keys) {
      const m = matchOne(spec, value, key);
      if (m) return m;
    }
  }
  return null;
}

function matchOne(spec: MatchSpec, value: string, key: string): string[] | null {
  switch (spec.type) {
    case "is":
      return compareEquality(spec.comparator, value, key) ? [] : null;
    case "contains":
      if (spec.comparator === "i;ascii-numeric") throw new Error("i;ascii-numeric does not support :contains");
      return fold(spec.comparator, value).includes(fold(spec.comparator, key)) ? [] : null;
    case "matches":
      if (spec.comparator === "i;ascii-numeric") throw new Error("i;ascii-numeric does not support :matches");
      return wildcardMatch(key, value, spec.comparator);
    case "value":
      return relationHolds(spec.relation!, compareValues(spec.comparator, value, key)) ? [] : null;
    case "count":
      return null;
    case "regex": {
      if (spec.comparator === "i;ascii-numeric") throw new Error("i;ascii-numeric does not support :regex");
      const run = spec.regex;
      if (!run) throw new Error(":regex without a regex run");
      const cacheKey = `${spec.comparator}\u0000${run.maxStates}\u0000${key}`;
      let re = REGEX_CACHE.get(cacheKey);
      if (!re) {
        re = compileRegex(key, spec.comparator === "i;ascii-casemap", run.maxStates);
        REGEX_CACHE.set(cacheKey, re);
        if (REGEX_CACHE.size > REGEX_CACHE_ENTRIES) REGEX_CACHE.delete(REGEX_CACHE.keys().next().value!);
      }
      return regexSearch(re, value, run.budget);
    }
  }
}

function compareEquality(comparator: Comparator, a: string, b: string): boolean {
  if (comparator === "i;ascii-numeric") return compareValues(comparator, a, b) === 0;
  return fold(comparator, a) === fold(comparator, b);
}
