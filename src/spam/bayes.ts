// The per-account statistical classifier: Gary Robinson's method as SpamBayes implements it
// (token probabilities with a prior, the most telling tokens combined by Fisher's chi-square
// test). It learns from what the user does: a message moved into Junk is trained as spam, one
// moved out of Junk as ham (spam/trainer.ts), so it knows each user's mail, not a global corpus.
//
// Tokens are words (3 to 40 letters or digits) and pairs of adjacent words from the decoded,
// case-folded text (header values and text parts: the search text), each reduced to a 48-bit
// digest so the statistics table stays small and holds no readable text of anyone's mail.
// Hand-written: the npm classifiers are naive Bayes over whole-corpus counts without Robinson's
// prior, which misjudges rare tokens, and none keeps its statistics in our store.

/** Text read for tokens (the head of the search text). Bounds the work per message. */
export const MAX_TOKEN_TEXT = 100_000;
/**
 * Distinct tokens kept per message, the first ones in the text. Each costs one index lookup when
 * the message is judged (about 1.3 µs on SQLite); a few hundred is what a typical message has, and
 * the verdict combines at most MAX_CLUES of them, so more only costs time.
 */
export const MAX_TOKENS = 1000;
/** Tokens combined for the verdict (SpamBayes' max_discriminators). */
const MAX_CLUES = 150;
/** Slots of tokenize()'s table: a power of two over twice MAX_TOKENS, so probes stay short. */
const TABLE_SIZE = 4096;
/** Robinson's prior: an unseen token is 0.5, and `strength` messages of evidence move it. */
const STRENGTH = 0.45;
const PRIOR = 0.5;
/** Tokens closer than this to 0.5 say nothing and are left out (SpamBayes' minimum_prob_strength). */
const MIN_STRENGTH = 0.1;

const WORD = /[\p{L}\p{N}][\p{L}\p{N}_'-]*/gu;

/** 48 bits of two 32-bit FNV-1a hashes with different offsets: fast, and plenty for a few million tokens. */
function digest(text: string): number {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193 + 0x2a);
  }
  return (b & 0xffff) * 0x1_0000_0000 + (a >>> 0);
}

/** A pair token from the two words' digests, without building the "w1 w2" string. */
function pairDigest(first: number, second: number): number {
  let a = 0x9e3779b9;
  let b = 0x85ebca6b;
  const step = (part: number) => {
    a = Math.imul(a ^ part, 0x01000193);
    a ^= a >>> 15;
    b = Math.imul(b ^ part, 0x5bd1e995);
    b ^= b >>> 13;
  };
  step(first >>> 0);
  step((first / 0x1_0000_0000) | 0);
  step(second >>> 0);
  step((second / 0x1_0000_0000) | 0);
  return (b & 0xffff) * 0x1_0000_0000 + (a >>> 0);
}

/**
 * The distinct tokens of an already case-folded text. Words repeat, so each distinct word is
 * digested once per call (a small map), pairs are digests of digests, and distinctness is kept in
 * an open-addressing table of doubles: a Set of 48-bit numbers (heap numbers, not small integers)
 * costs more than everything else together.
 */
export function tokenize(foldedText: string): number[] {
  const text = foldedText.length > MAX_TOKEN_TEXT ? foldedText.slice(0, MAX_TOKEN_TEXT) : foldedText;
  const seen = new Float64Array(TABLE_SIZE).fill(-1);
  const tokens = new Float64Array(MAX_TOKENS);
  let count = 0;
  const add = (token: number): void => {
    let slot = (token >>> 0) & (TABLE_SIZE - 1);
    for (;;) {
      const held = seen[slot]!;
      if (held === token) return;
      if (held === -1) break;
      slot = (slot + 1) & (TABLE_SIZE - 1);
    }
    seen[slot] = token;
    tokens[count++] = token;
  };
  const digests = new Map<string, number>();
  let previous = -1;
  WORD.lastIndex = 0;
  for (let match = WORD.exec(text); match !== null && count < MAX_TOKENS; match = WORD.exec(text)) {
    const word = match[0];
    if (word.length < 3 || word.length > 40) {
      previous = -1;
      continue;
    }
    let token = digests.get(word);
    if (token === undefined) {
      token = digest(word);
      digests.set(word, token);
    }
    add(token);
    if (previous !== -1 && count < MAX_TOKENS) add(pairDigest(previous, token));
    previous = token;
  }
  return Array.from(tokens.subarray(0, count));
}

export interface TokenStatistics {
  readonly spamMessages: number;
  readonly hamMessages: number;
  readonly tokens: ReadonlyMap<number, { readonly spam: number; readonly ham: number }>;
}

/** P(chi-square with `v` (even) degrees of freedom >= x2), by the series for even v. */
function chi2Q(x2: number, v: number): number {
  const m = x2 / 2;
  let term = Math.exp(-m);
  let sum = term;
  for (let i = 1; i < v / 2; i++) {
    term *= m / i;
    sum += term;
  }
  return Math.min(sum, 1);
}

/**
 * The spam probability of a message with these tokens, 0 (ham) to 1 (spam); 0.5 means "cannot
 * tell". Null until the account has trained at least `minMessages` of each class: a cold
 * classifier says nothing rather than guess.
 */
export function spamProbability(stats: TokenStatistics, tokens: readonly number[], minMessages: number): number | null {
  if (stats.spamMessages < minMessages || stats.hamMessages < minMessages) return null;
  const clues: number[] = [];
  for (const token of new Set(tokens)) {
    const counts = stats.tokens.get(token);
    if (!counts || counts.spam + counts.ham === 0) continue;
    const spamRatio = counts.spam / stats.spamMessages;
    const hamRatio = counts.ham / stats.hamMessages;
    const p = spamRatio / (spamRatio + hamRatio);
    const n = counts.spam + counts.ham;
    const f = (STRENGTH * PRIOR + n * p) / (STRENGTH + n);
    if (Math.abs(f - 0.5) >= MIN_STRENGTH) clues.push(f);
  }
  if (clues.length === 0) return 0.5;
  clues.sort((x, y) => Math.abs(y - 0.5) - Math.abs(x - 0.5));
  const used = clues.slice(0, MAX_CLUES);
  let lnSpam = 0;
  let lnHam = 0;
  for (const f of used) {
    // Probabilities are kept off 0 and 1 so one token can never decide alone.
    const clamped = Math.min(Math.max(f, 0.0001), 0.9999);
    lnHam += Math.log(clamped);
    lnSpam += Math.log(1 - clamped);
  }
  const s = 1 - chi2Q(-2 * lnSpam, 2 * used.length);
  const h = 1 - chi2Q(-2 * lnHam, 2 * used.length);
  return (s - h + 1) / 2;
}

/** The named test a probability gives (SpamAssassin's BAYES_* bands), or null in the middle. */
export function bayesTest(probability: number): "BAYES_99" | "BAYES_95" | "BAYES_05" | "BAYES_01" | null {
  if (probability >= 0.99) return "BAYES_99";
  if (probability >= 0.95) return "BAYES_95";
  if (probability <= 0.01) return "BAYES_01";
  if (probability <= 0.05) return "BAYES_05";
  return null;
}
