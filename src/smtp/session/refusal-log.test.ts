import { test } from "node:test";
import assert from "node:assert/strict";
import { RefusalLogBudget } from "./refusal-log.js";

test("refusal log budget: a burst of 10, then one per 6 s, reporting what was held back", () => {
  const budget = new RefusalLogBudget(0);
  for (let i = 0; i < 10; i++) assert.deepEqual(budget.take(i), { suppressed: 0 });
  for (let i = 0; i < 50; i++) assert.equal(budget.take(100), null);
  assert.equal(budget.take(5_999), null);
  assert.deepEqual(budget.take(6_000), { suppressed: 51 });
  assert.equal(budget.take(6_001), null);
  // A long quiet spell refills the burst, never beyond it.
  for (let i = 0; i < 10; i++) assert.ok(budget.take(600_000 + i) !== null);
  assert.deepEqual(budget.take(600_100), null);
});
