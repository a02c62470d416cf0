// The classifier: tokens, the cold start, and its quality on a labelled corpus generated here
// (no downloads): spam and ham drawn from overlapping vocabularies with noise words from the other
// class, trained on one half and judged on the other. Precision and recall are printed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { foldCase } from "../mail/case-fold.js";
import { bayesTest, MAX_TOKENS, spamProbability, tokenize, type TokenStatistics } from "./bayes.js";

const COMMON = "the and you for this that with have please today thanks will your from about just more some what when here there would could".split(" ");
const SPAM_WORDS = "winner lottery casino bonus cheap pills prize claim urgent bitcoin investment guaranteed click unsubscribe offer exclusive discount credit loan viagra deal limited million dollars account verify password suspended refund shipping replica watches luxury pharmacy dating singles congratulations selected reward cash wire transfer".split(" ");
const HAM_WORDS = "meeting project lunch report schedule review draft team weekend family invoice agenda deadline notes budget release minutes photos dinner kids attached slides tomorrow afternoon call sprint roadmap feedback birthday party school holiday trip garden recipe concert tickets thesis chapter".split(" ");

/** A small deterministic PRNG (mulberry32) so the corpus and the figures are the same every run. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function message(random: () => number, own: string[], other: string[]): string {
  const words: string[] = [];
  const length = 30 + Math.floor(random() * 50);
  for (let i = 0; i < length; i++) {
    const roll = random();
    // Mostly common words; about one word in thirty from the other class's vocabulary.
    const pool = roll < 0.6 ? COMMON : roll < 0.967 ? own : other;
    words.push(pool[Math.floor(random() * pool.length)]!);
  }
  return words.join(" ");
}

/** Statistics as the store keeps them: per token, how many messages of each class held it. */
function train(spam: string[], ham: string[]): TokenStatistics {
  const tokens = new Map<number, { spam: number; ham: number }>();
  for (const [texts, kind] of [[spam, "spam"], [ham, "ham"]] as const) {
    for (const text of texts) {
      for (const token of tokenize(foldCase(text))) {
        const counts = tokens.get(token) ?? { spam: 0, ham: 0 };
        counts[kind]++;
        tokens.set(token, counts);
      }
    }
  }
  return { spamMessages: spam.length, hamMessages: ham.length, tokens };
}

test("tokens: words of 3 to 40 characters and adjacent pairs, case-folded first, bounded, deterministic", () => {
  const a = tokenize(foldCase("Hello WORLD, hello world"));
  assert.deepEqual(a, tokenize(foldCase("hello world hello world")));
  // hello, world, "hello world", "world hello": each distinct token once.
  assert.equal(a.length, 4);
  assert.deepEqual(tokenize("an ox is me"), [], "words under three letters are not tokens");
  assert.equal(tokenize(`long ${"x".repeat(41)} word`).length, 2, "nor are words over forty, which also break pairs");
});

test("a cold classifier says nothing; an untrained message is 0.5", () => {
  const stats = train(["cheap pills winner"], ["meeting notes agenda"]);
  assert.equal(spamProbability(stats, tokenize("cheap pills"), 20), null);
  assert.equal(spamProbability(stats, tokenize("entirely unknown words"), 1), 0.5);
});

test("classifier quality on a generated corpus: BAYES_95 or above has precision 1 and recall at least 0.95", (t) => {
  const random = prng(42);
  const make = (n: number, own: string[], other: string[]) => Array.from({ length: n }, () => message(random, own, other));
  const stats = train(make(100, SPAM_WORDS, HAM_WORDS), make(100, HAM_WORDS, SPAM_WORDS));
  const spamTests = make(200, SPAM_WORDS, HAM_WORDS);
  const hamTests = make(200, HAM_WORDS, SPAM_WORDS);
  const isSpam = (text: string) => {
    const band = bayesTest(spamProbability(stats, tokenize(foldCase(text)), 20)!);
    return band === "BAYES_99" || band === "BAYES_95";
  };
  const truePositives = spamTests.filter(isSpam).length;
  const falsePositives = hamTests.filter(isSpam).length;
  const precision = truePositives / Math.max(1, truePositives + falsePositives);
  const recall = truePositives / spamTests.length;
  t.diagnostic(`precision ${precision.toFixed(3)} recall ${recall.toFixed(3)} (train 100+100, test 200+200)`);
  assert.ok(precision >= 0.95, `precision ${precision}`);
  assert.ok(recall >= 0.95, `recall ${recall}`);
  assert.equal(falsePositives, 0, "no ham judged spam");
});

test("hostile text: a 25 MB single line or a flood of distinct words gives at most MAX_TOKENS tokens", () => {
  assert.ok(tokenize("a".repeat(25 * 1024 * 1024)).length <= 1);
  const flood = Array.from({ length: 100_000 }, (_, i) => `word${i}`).join(" ");
  assert.ok(tokenize(flood).length <= MAX_TOKENS);
});
