// The bench's pass/fail column (issue #13) and its opt-in workloads: a goal is judged from the
// Mailroom median and the ratio, a missing side leaves a ratio goal unjudged, and the 1M mailbox
// runs only when --only names it exactly (it takes long to build).
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseBenchArgs } from "../../bench/lib/args.js";
import { judgeGoal, type MetricResult } from "../../bench/lib/results.js";
import { summarize } from "../../bench/lib/stats.js";
import { catalog, selectWorkloads } from "../../bench/workloads/catalog.js";

const metric = (over: Partial<MetricResult>): MetricResult => ({
  workload: "w", metric: "m", title: "t", unit: "ms", better: "lower", mailroom: summarize([10]), peer: summarize([20]), ratio: 2, ...over,
});

test("a goal passes only when both its limit and its ratio hold", () => {
  assert.equal(judgeGoal(metric({ goal: { max: 50, minRatio: 1 } })), true);
  assert.equal(judgeGoal(metric({ goal: { max: 5 } })), false, "median 10 ms over a 5 ms limit");
  assert.equal(judgeGoal(metric({ goal: { minRatio: 1 }, ratio: 0.5 })), false);
  assert.equal(judgeGoal(metric({ goal: { minRatio: 1 }, ratio: null, peer: null })), null, "no peer: a ratio goal is not judged");
  assert.equal(judgeGoal(metric({ goal: { max: 50 }, mailroom: null })), false, "Mailroom did not run: fail");
  assert.equal(judgeGoal(metric({})), null);
  assert.equal(judgeGoal(metric({ better: "higher", unit: "MB/s", mailroom: summarize([80]), goal: { max: 100 } })), false, "higher-is-better: the limit is a floor");
  assert.equal(judgeGoal(metric({ better: "higher", unit: "MB/s", mailroom: summarize([120]), goal: { max: 100 } })), true);
});

test("imap-1m runs only when named exactly", () => {
  // The quick catalog (the full one builds its corpora eagerly, slow for a unit test) lists it too.
  const full = catalog(parseBenchArgs(["--quick"]));
  const ids = selectWorkloads(full, null).map((w) => w.id);
  assert.ok(ids.includes("server-idle") && ids.includes("smtp-load") && ids.includes("big-message"));
  assert.ok(!ids.includes("imap-1m"));
  assert.ok(!selectWorkloads(full, ["imap"]).some((w) => w.id === "imap-1m"), "a prefix does not pull in the opt-in workload");
  assert.deepEqual(selectWorkloads(full, ["imap-1m"]).map((w) => w.id), ["imap-1m"]);
  assert.ok(ids.includes("imap-1k") && !ids.includes("imap-100k"));
});
