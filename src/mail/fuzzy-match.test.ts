// The FUZZY algorithm's pieces (fuzzy-match.ts): trigrams, threshold, scores and the merge.
import assert from "node:assert/strict";
import { test } from "node:test";
import { FUZZY_MAX_GRAMS, fuzzyGrams, fuzzyMinOverlap, fuzzyScore, mergeFuzzy } from "./fuzzy-match.js";

test("trigrams: distinct, by code point, capped and spread over long strings", () => {
  assert.deepEqual(fuzzyGrams("meeting"), ["mee", "eet", "eti", "tin", "ing"]);
  assert.deepEqual(fuzzyGrams("aaaa"), ["aaa"]);
  assert.deepEqual(fuzzyGrams("ab"), []);
  assert.deepEqual(fuzzyGrams("😀ab"), ["😀ab"], "a surrogate pair is one character");
  const long = fuzzyGrams("abcdefghijklmnopqrstuvwxyz0123456789");
  assert.equal(long.length, FUZZY_MAX_GRAMS);
  assert.equal(long[0], "abc");
});

test("threshold and scores", () => {
  assert.equal(fuzzyMinOverlap(5), 3);
  assert.equal(fuzzyMinOverlap(1), 1);
  assert.equal(fuzzyScore(3, 5, false), 59);
  assert.equal(fuzzyScore(5, 5, false), 99, "all trigrams but not the string: below an exact match");
  assert.equal(fuzzyScore(5, 5, true), 100);
  assert.equal(fuzzyScore(0, 0, false), 100);
});

test("merge: exact matches win, overlaps under the threshold drop, ascending by UID", () => {
  assert.deepEqual(mergeFuzzy([9], [{ uid: 4, overlap: 3 }, { uid: 9, overlap: 5 }, { uid: 2, overlap: 2 }], 5), [
    { uid: 4, score: 59 },
    { uid: 9, score: 100 },
  ]);
  assert.deepEqual(mergeFuzzy([1, 2], [], 0), [{ uid: 1, score: 100 }, { uid: 2, score: 100 }]);
});
