import { test } from "node:test";
import assert from "node:assert/strict";
import { DeliveryLog, MinuteSeries, tapLogger } from "./admin-series.js";
import { createMemoryLogger } from "./log.js";

test("minute series: each point is the increase in its minute; the running minute is last; missing minutes are zeros; bounded", async () => {
  let now = Date.UTC(2026, 11, 3, 10, 0, 30);
  const counters: Record<string, number> = { received: 0 };
  const series = new MinuteSeries(async () => ({ ...counters }), { minutes: 3, clock: () => now });
  await series.start();
  series.stop();
  counters.received = 2;
  now += 60_000; // 10:01:30
  await series.sample();
  counters.received = 5;
  let view = await series.view(10);
  assert.equal(view.start, Date.UTC(2026, 11, 3, 9, 58), "3 closed minutes and the running one");
  assert.deepEqual(view.series.received, [0, 0, 2, 3], "10:00 had 2; 10:01 so far 3");
  assert.deepEqual((await series.view(2)).series.received, [2, 3]);
  now += 3 * 60_000; // 10:04:30, two minutes without a sample
  await series.sample();
  view = await series.view(10);
  assert.equal(view.start, Date.UTC(2026, 11, 3, 10, 1));
  assert.deepEqual(view.series.received, [3, 0, 0, 0], "10:01 closed with 3; 10:02 and 10:03 had no reading; 10:04 runs");
});

test("delivery log: smtp.accepted and queue.delivery become entries, newest first, filtered by event and text, bounded", () => {
  const log = new DeliveryLog(3);
  const at = new Date("2026-12-03T10:00:00Z");
  log.record("smtp.accepted", { queueId: 7, mailFrom: "alice@example.org", recipients: ["bob@remote.test"], size: 120, local: 0, remote: 1 }, at);
  log.record("queue.delivery", { queueId: 7, recipient: "bob@remote.test", state: "deferred", result: "451 later", mailFrom: "alice@example.org", size: 120 }, at);
  log.record("queue.delivery", { queueId: 7, recipient: "bob@remote.test", state: "delivered", result: "250 ok", mailFrom: "alice@example.org", size: 120 }, at);
  log.record("auth.failure", { username: "x" }, at);
  assert.deepEqual(log.list().map((e) => e.event), ["delivered", "deferred", "accepted"]);
  assert.deepEqual(log.list({ event: "deferred" }).map((e) => e.detail), ["451 later"]);
  assert.equal(log.list({ text: "BOB@" }).length, 3);
  assert.equal(log.list({ text: "carol" }).length, 0);
  log.record("smtp.accepted", { queueId: null, mailFrom: "x@y.test", recipients: ["alice@example.org"], folder: "INBOX" }, at);
  assert.equal(log.list().length, 3, "the oldest went");
  assert.equal(log.list()[0]!.detail, "delivered to INBOX");
});

test("tapLogger hands info events of the logger and its children to the tap, and still logs them", () => {
  const memory = createMemoryLogger();
  const seen: string[] = [];
  const log = tapLogger(memory, (event) => seen.push(event));
  log.child({ component: "smtp" }).info("smtp.accepted", { size: 1 });
  log.warn("not.tapped");
  assert.deepEqual(seen, ["smtp.accepted"]);
  assert.equal(memory.records.length, 2);
  const throwing = tapLogger(memory, () => {
    throw new Error("tap broke");
  });
  throwing.info("still.logged");
  assert.equal(memory.records.at(-1)!.event, "still.logged");
});
