import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { isDelayWarningDue, isExpired, nextAttemptAt, retryDelay, type RetryPolicy } from "./retry-schedule.js";

const MIN = 60_000;
const HOUR = 60 * MIN;
const policy: RetryPolicy = { scheduleMs: [5 * MIN, 30 * MIN, 4 * HOUR], maxLifetimeMs: 120 * HOUR, delayWarningMs: 4 * HOUR };
const created = new Date("2030-01-01T00:00:00Z");
const at = (ms: number) => new Date(created.getTime() + ms);

test("delays follow the schedule and the last one repeats", () => {
  assert.deepEqual([1, 2, 3, 4, 9].map((n) => retryDelay(policy, n)), [5 * MIN, 30 * MIN, 4 * HOUR, 4 * HOUR, 4 * HOUR]);
});

test("the next attempt stops at the delay warning and at the end of the lifetime", () => {
  assert.equal(nextAttemptAt(policy, created, 1, at(MIN), false).getTime(), at(6 * MIN).getTime());
  // 3h50 + 4h would pass the 4 h warning: the attempt is pulled forward to the warning.
  assert.equal(nextAttemptAt(policy, created, 3, at(3 * HOUR + 50 * MIN), false).getTime(), at(4 * HOUR).getTime());
  assert.equal(nextAttemptAt(policy, created, 3, at(3 * HOUR + 50 * MIN), true).getTime(), at(7 * HOUR + 50 * MIN).getTime());
  assert.equal(nextAttemptAt(policy, created, 9, at(118 * HOUR), true).getTime(), at(120 * HOUR).getTime());
});

test("expiry and the warning fall due at their times, the warning once", () => {
  assert.equal(isExpired(policy, created, at(120 * HOUR - 1)), false);
  assert.equal(isExpired(policy, created, at(120 * HOUR)), true);
  assert.equal(isDelayWarningDue(policy, created, at(4 * HOUR - 1), false), false);
  assert.equal(isDelayWarningDue(policy, created, at(4 * HOUR), false), true);
  assert.equal(isDelayWarningDue(policy, created, at(5 * HOUR), true), false);
  assert.equal(isDelayWarningDue({ ...policy, delayWarningMs: 0 }, created, at(5 * HOUR), false), false);
});

test("property: the next attempt is after now unless expired, and never past the lifetime", () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 50 }), fc.integer({ min: 0, max: 120 * HOUR - 1 }), fc.boolean(), (attempts, elapsed, warned) => {
      const next = nextAttemptAt(policy, created, attempts, at(elapsed), warned).getTime();
      assert.ok(next > at(elapsed).getTime());
      assert.ok(next <= at(120 * HOUR).getTime());
    }),
  );
});
