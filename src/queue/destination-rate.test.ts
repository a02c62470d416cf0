// DestinationRate on a fake clock (plain epoch milliseconds): even spacing, reservations that
// hold, domains that do not slow each other.
import { test } from "node:test";
import assert from "node:assert/strict";
import { DestinationRate } from "./destination-rate.js";

const T0 = 1_700_000_000_000;

test("0 is unlimited: every message goes at once", () => {
  const rate = new DestinationRate(0);
  assert.equal(rate.limited, false);
  for (let id = 1; id <= 1000; id++) assert.deepEqual(rate.admit("b.test", id, T0), { kind: "go" });
  assert.equal(rate.reservations, 0);
});

test("a burst is spread one interval apart, each entry keeping its own slot", () => {
  const rate = new DestinationRate(60); // one a second
  const decisions = [1, 2, 3, 4].map((id) => rate.admit("b.test", id, T0));
  assert.deepEqual(decisions, [{ kind: "go" }, { kind: "wait", until: T0 + 1000 }, { kind: "wait", until: T0 + 2000 }, { kind: "wait", until: T0 + 3000 }]);
  assert.equal(rate.reservations, 3);
  // Asking again early (a flush, a short poll) neither moves nor duplicates the slot.
  assert.deepEqual(rate.admit("b.test", 3, T0 + 500), { kind: "wait", until: T0 + 2000 });
  assert.deepEqual(rate.admit("b.test", 2, T0 + 999), { kind: "wait", until: T0 + 1000 });
  // At its slot the entry goes; late is fine too, and does not shift the others.
  assert.deepEqual(rate.admit("b.test", 2, T0 + 1000), { kind: "go" });
  assert.deepEqual(rate.admit("b.test", 4, T0 + 3500), { kind: "go" });
  assert.deepEqual(rate.admit("b.test", 3, T0 + 3600), { kind: "go" });
  assert.equal(rate.reservations, 0);
  // A newcomer queues after every promised slot.
  assert.deepEqual(rate.admit("b.test", 5, T0 + 3600), { kind: "wait", until: T0 + 4000 });
});

test("after a quiet spell no credit piles up", () => {
  const rate = new DestinationRate(6); // one every 10 s
  assert.deepEqual(rate.admit("b.test", 1, T0), { kind: "go" });
  assert.deepEqual(rate.admit("b.test", 2, T0 + 1), { kind: "wait", until: T0 + 10_000 });
  assert.deepEqual(rate.admit("b.test", 3, T0 + 2), { kind: "wait", until: T0 + 20_000 });
  // After a quiet spell the domain is fresh again: no credit piles up (one at a time).
  assert.deepEqual(rate.admit("b.test", 4, T0 + 120_000), { kind: "go" });
  assert.deepEqual(rate.admit("b.test", 5, T0 + 120_000), { kind: "wait", until: T0 + 130_000 });
});

test("one busy domain does not slow another", () => {
  const rate = new DestinationRate(60);
  for (let id = 1; id <= 100; id++) rate.admit("busy.test", id, T0);
  assert.deepEqual(rate.admit("quiet.test", 1000, T0), { kind: "go" });
  assert.deepEqual(rate.admit("busy.test", 1000, T0), { kind: "wait", until: T0 + 100_000 }, "the same entry for the busy domain queues there");
});

test("stale reservations of entries that never came back are dropped", () => {
  const rate = new DestinationRate(60);
  rate.admit("b.test", 1, T0);
  rate.admit("b.test", 2, T0);
  assert.equal(rate.reservations, 1);
  rate.admit("c.test", 3, T0 + 20 * 60_000);
  assert.equal(rate.reservations, 0);
});

test("rates below zero or not finite are refused", () => {
  assert.throws(() => new DestinationRate(-1), RangeError);
  assert.throws(() => new DestinationRate(Number.NaN), RangeError);
  assert.throws(() => new DestinationRate(Infinity), RangeError);
});
