// The score as RFC 5235 values for Sieve: 1-10 and 0-100, the junk threshold in the middle.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spamTestValue } from "./spam-checker.js";

test("spamtest values: negative and zero scores are 1 / 0 %, twice junk_score and above 10 / 100 %", () => {
  assert.deepEqual(spamTestValue(-3, 6), { score: 1, percent: 0 });
  assert.deepEqual(spamTestValue(0, 6), { score: 1, percent: 0 });
  assert.deepEqual(spamTestValue(6, 6), { score: 6, percent: 50 });
  assert.deepEqual(spamTestValue(4, 6), { score: 4, percent: 33 });
  assert.deepEqual(spamTestValue(12, 6), { score: 10, percent: 100 });
  assert.deepEqual(spamTestValue(50, 6), { score: 10, percent: 100 });
});
