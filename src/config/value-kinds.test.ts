import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { duration, size, ValueProblem } from "./value-kinds.js";

test("size: units are binary multiples, case and a trailing B are accepted", () => {
  const kind = size();
  assert.equal(kind.parse("10K"), 10_240);
  assert.equal(kind.parse("25m"), 25 * 1024 * 1024);
  assert.equal(kind.parse("1G"), 1024 ** 3);
  assert.equal(kind.parse("64KiB"), 65_536);
  assert.equal(kind.parse("2MB"), 2 * 1024 * 1024);
  assert.equal(kind.parse(1234), 1234);
  for (const bad of ["", "M", "-1", "10X", "1.5.2M", 1.5, -3, true, [1]]) assert.throws(() => kind.parse(bad), ValueProblem, String(bad));
});

test("duration: seconds by default, ms/s/m/h/d units", () => {
  const kind = duration();
  assert.equal(kind.parse(30), 30_000);
  assert.equal(kind.parse(0.25), 250);
  assert.equal(kind.parse("500ms"), 500);
  assert.equal(kind.parse("45"), 45_000);
  assert.equal(kind.parse("5m"), 300_000);
  assert.equal(kind.parse("2h"), 7_200_000);
  assert.equal(kind.parse("1d"), 86_400_000);
  for (const bad of ["soon", "5 minutes", "-1s", Number.POSITIVE_INFINITY, {}]) assert.throws(() => kind.parse(bad), ValueProblem, String(bad));
});

test("render then parse gives back the same size or duration", () => {
  const sizes = size();
  const durations = duration();
  fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 40 }), (bytes) => sizes.parse(JSON.parse(sizes.render(bytes))) === bytes));
  fc.assert(fc.property(fc.integer({ min: 0, max: 7 * 86_400_000 }), (ms) => durations.parse(JSON.parse(durations.render(ms))) === ms));
});
