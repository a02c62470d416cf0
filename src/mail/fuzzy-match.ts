// FUZZY search (RFC 6203) by trigram overlap, the one algorithm both store backends apply
// (MailStore.findFuzzyTextMatches) so that a search answers alike on SQLite and PostgreSQL:
//
//   1. The search string is folded (mail/case-fold.ts) and cut into its distinct trigrams (three
//      consecutive characters, as the full-text index's trigram tokenizer cuts text), at most
//      FUZZY_MAX_GRAMS of them, spread evenly over the string when it has more.
//   2. A message's overlap is the number of those trigrams present anywhere in its folded text
//      (for BODY, in the text after the top-level header).
//   3. It matches when overlap / trigrams >= FUZZY_MIN_SIMILARITY, or when it holds the string
//      exactly (the ordinary SEARCH substring match, so FUZZY never finds less than the key alone).
//   4. Its score is 100 for an exact match, else round(99 * overlap / trigrams), at least 1.
//   Strings under 3 characters have no trigram: FUZZY is then the exact match, scored 100.
//
// One typo in a word changes at most three of its trigrams ("meetign" keeps mee, eet, eti of
// meeting's five: 0.6), so a word of six or more characters with one wrong or missing letter
// still matches; longer strings tolerate more.

/** Trigrams of the search string used at most (bounds the index queries per key). */
export const FUZZY_MAX_GRAMS = 24;
/** Share of the string's trigrams a message must hold to match fuzzily. */
export const FUZZY_MIN_SIMILARITY = 0.5;

/** The distinct trigrams of a folded string, at most FUZZY_MAX_GRAMS, spread over it. */
export function fuzzyGrams(folded: string): string[] {
  const chars = [...folded];
  const all = new Set<string>();
  for (let i = 0; i + 3 <= chars.length; i++) all.add(chars.slice(i, i + 3).join(""));
  const grams = [...all];
  if (grams.length <= FUZZY_MAX_GRAMS) return grams;
  const step = grams.length / FUZZY_MAX_GRAMS;
  return Array.from({ length: FUZZY_MAX_GRAMS }, (_, i) => grams[Math.floor(i * step)]!);
}

/** The least overlap that matches, for a string of `grams` trigrams. */
export function fuzzyMinOverlap(grams: number): number {
  return Math.max(1, Math.ceil(grams * FUZZY_MIN_SIMILARITY));
}

/** The RFC 6203 relevancy score (1-100) of a message with this overlap. */
export function fuzzyScore(overlap: number, grams: number, exact: boolean): number {
  if (exact || grams === 0) return 100;
  return Math.min(99, Math.max(1, Math.round((99 * overlap) / grams)));
}

/**
 * The FUZZY answer from the exact matches and the fuzzy overlaps (each list of the same mailbox):
 * every exact match (score 100) and every overlap at or above the threshold, ascending by UID.
 */
export function mergeFuzzy<U extends number>(exact: readonly U[], overlaps: readonly { uid: U; overlap: number }[], grams: number): { uid: U; score: number }[] {
  const scores = new Map<U, number>();
  const least = fuzzyMinOverlap(grams);
  for (const { uid, overlap } of overlaps) if (grams > 0 && overlap >= least) scores.set(uid, fuzzyScore(overlap, grams, false));
  for (const uid of exact) scores.set(uid, 100);
  return [...scores].map(([uid, score]) => ({ uid, score })).sort((a, b) => a.uid - b.uid);
}
