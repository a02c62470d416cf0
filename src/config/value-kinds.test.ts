import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { cidr, duration, size, ValueProblem } from "./value-kinds.js";

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

test("cidr: networks and single addresses of both families, normalised; anything else is a ValueProblem", () => {
  const kind = cidr();
  assert.equal(kind.parse("127.0.0.0/8"), "127.0.0.0/8");
  assert.equal(kind.parse("192.0.2.7"), "192.0.2.7/32");
  assert.equal(kind.parse("::1"), "::1/128");
  assert.equal(kind.parse(" 2001:DB8::/32 "), "2001:db8::/32");
  for (const bad of ["", "/8", "10.0.0.0/33", "::/129", "10.0.0.0/-1", "10.0.0/8", "host.example/24", "10.0.0.0/8/8", 8, null, ["10.0.0.0/8"]]) {
    assert.throws(() => kind.parse(bad), ValueProblem, String(bad));
  }
  assert.equal(kind.render("10.0.0.0/8"), '"10.0.0.0/8"');
});

test("cidr: hostile strings give a ValueProblem or a network, never another error", () => {
  const kind = cidr();
  fc.assert(
    fc.property(fc.string({ maxLength: 60 }), (raw) => {
      try {
        assert.match(kind.parse(raw), /\/\d{1,3}$/);
      } catch (error) {
        assert.ok(error instanceof ValueProblem, String(error));
      }
    }),
    { numRuns: 500 },
  );
});
