import { test } from "node:test";
import assert from "node:assert/strict";
import { DeliveryLog, MemorySeriesHistory, MinuteSeries, tapLogger, type DeliveryEntry, type DeliveryHistory } from "./admin-series.js";
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

test("delivery log: smtp.accepted and queue.delivery become entries, newest first, filtered by event and text, bounded", async () => {
  const log = new DeliveryLog(3);
  const at = new Date("2026-12-03T10:00:00Z");
  log.record("smtp.accepted", { queueId: 7, mailFrom: "alice@example.org", recipients: ["bob@remote.test"], size: 120, local: 0, remote: 1 }, at);
  log.record("queue.delivery", { queueId: 7, recipient: "bob@remote.test", state: "deferred", result: "451 later", mailFrom: "alice@example.org", size: 120 }, at);
  log.record("queue.delivery", { queueId: 7, recipient: "bob@remote.test", state: "delivered", result: "250 ok", mailFrom: "alice@example.org", size: 120 }, at);
  log.record("auth.failure", { username: "x" }, at);
  assert.deepEqual((await log.list()).map((e) => e.event), ["delivered", "deferred", "accepted"]);
  assert.deepEqual((await log.list({ event: "deferred" })).map((e) => e.detail), ["451 later"]);
  assert.equal((await log.list({ text: "BOB@" })).length, 3);
  assert.equal((await log.list({ text: "carol" })).length, 0);
  log.record("smtp.accepted", { queueId: null, mailFrom: "x@y.test", recipients: ["alice@example.org"], folder: "INBOX" }, at);
  assert.equal((await log.list()).length, 3, "the oldest went");
  assert.equal((await log.list())[0]!.detail, "delivered to INBOX");
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

test("minute series over a history: a stop writes the running minute, a new series (a restart) reads it back and adds its own; a failed write is retried, not lost", async () => {
  let now = Date.UTC(2026, 11, 3, 10, 0, 10);
  const history = new MemorySeriesHistory();
  let counters: Record<string, number> = { received: 0 };
  const first = new MinuteSeries(async () => ({ ...counters }), { minutes: 60, clock: () => now, history });
  await first.start();
  counters.received = 4;
  now += 20_000; // 10:00:30
  await first.stop();
  assert.deepEqual(await history.readMinuteCounts(0), [{ minute: Date.UTC(2026, 11, 3, 10, 0), counts: { received: 4 } }]);
  // The restarted process counts from zero again.
  counters = { received: 0 };
  const second = new MinuteSeries(async () => ({ ...counters }), { minutes: 60, clock: () => now, history });
  await second.start();
  counters.received = 1;
  assert.deepEqual((await second.view(2)).series.received, [0, 5], "4 before the restart and 1 after, in the same minute");
  // A second node adding to the same minute is summed.
  await history.addMinuteCounts([{ minute: Date.UTC(2026, 11, 3, 10, 0), counts: { received: 10 } }]);
  counters.received = 2;
  now += 60_000; // 10:01:30: the second series closes 10:00 with its 2
  await second.sample();
  assert.deepEqual((await second.view(2)).series.received, [16, 0], "10:00: 4 + 2 + another node's 10");
  // The history refuses a write: the increase is kept and written with the next one.
  let refuse = true;
  const errors: unknown[] = [];
  const flaky = {
    addMinuteCounts: (points: Parameters<MemorySeriesHistory["addMinuteCounts"]>[0]) => (refuse ? Promise.reject(new Error("store down")) : history.addMinuteCounts(points)),
    readMinuteCounts: (since: number) => history.readMinuteCounts(since),
    pruneMinuteCounts: (before: number) => history.pruneMinuteCounts(before),
  };
  const third = new MinuteSeries(async () => ({ ...counters }), { minutes: 60, clock: () => now, history: flaky, onError: (e) => errors.push(e) });
  await third.start();
  counters.received = 5;
  now += 60_000; // 10:02:30
  await third.sample();
  assert.equal(errors.length, 1);
  refuse = false;
  counters.received = 6;
  now += 60_000; // 10:03:30
  await third.sample();
  assert.deepEqual((await history.readMinuteCounts(Date.UTC(2026, 11, 3, 10, 1))), [{ minute: Date.UTC(2026, 11, 3, 10, 1), counts: { received: 4 } }], "the 3 refused and the 1 after, none lost");
  await third.stop();
  second.stop().catch(() => {});
});

test("delivery log over a history: entries wait in memory until a flush writes them in one batch; listed merged, newest first; pruned to capacity; a failed batch waits for the next", async () => {
  const stored: DeliveryEntry[] = [];
  let batches = 0;
  let failNext = false;
  const history: DeliveryHistory = {
    async addDeliveries(entries) {
      if (failNext) {
        failNext = false;
        throw new Error("store down");
      }
      batches += 1;
      stored.push(...entries);
    },
    async listDeliveries(query) {
      return stored.filter((e) => (query.event === undefined || e.event === query.event) && (!query.text || [e.from, ...e.to, e.detail].some((t) => t.toLowerCase().includes(query.text!)))).reverse().slice(0, query.limit);
    },
    async pruneDeliveries(keep) {
      const drop = Math.max(0, stored.length - keep);
      stored.splice(0, drop);
      return drop;
    },
  };
  const entry = (i: number): DeliveryEntry => ({ at: new Date(Date.UTC(2026, 11, 3, 10, 0, i)), event: "accepted", queueId: i, from: "a@example.org", to: [`r${i}@remote.test`], detail: "queued", size: 1 });
  const log = new DeliveryLog(4, { history, onError: () => {} });
  for (let i = 0; i < 3; i++) log.add(entry(i));
  assert.equal(stored.length, 0, "nothing written per message");
  assert.deepEqual((await log.list()).map((e) => e.queueId), [2, 1, 0]);
  await log.flush();
  assert.equal(batches, 1);
  assert.equal(stored.length, 3);
  log.add(entry(3));
  log.add(entry(4));
  assert.deepEqual((await log.list()).map((e) => e.queueId), [4, 3, 2, 1], "waiting and written entries together, bounded by the limit of 100 and the capacity");
  assert.deepEqual((await log.list({ text: "R3@" })).map((e) => e.queueId), [3]);
  failNext = true;
  await log.flush();
  assert.equal(stored.length, 3, "the failed batch is not lost");
  await log.stop();
  assert.deepEqual(stored.map((e) => e.queueId), [1, 2, 3, 4], "pruned to the newest 4");
});

test("delivery log: a prune that fails after the batch was written does not write the batch again", async () => {
  const stored: DeliveryEntry[] = [];
  const errors: unknown[] = [];
  let pruneFails = true;
  const history: DeliveryHistory = {
    async addDeliveries(entries) {
      stored.push(...entries);
    },
    async listDeliveries(query) {
      return [...stored].reverse().slice(0, query.limit);
    },
    async pruneDeliveries(keep) {
      if (pruneFails) throw new Error("prune failed");
      const drop = Math.max(0, stored.length - keep);
      stored.splice(0, drop);
      return drop;
    },
  };
  const entry = (i: number): DeliveryEntry => ({ at: new Date(Date.UTC(2026, 11, 3, 10, 0, i)), event: "accepted", queueId: i, from: "a@example.org", to: [`r${i}@remote.test`], detail: "queued", size: 1 });
  const log = new DeliveryLog(2, { history, onError: (error) => errors.push(error) });
  for (let i = 0; i < 2; i++) log.add(entry(i));
  await log.flush();
  assert.equal(errors.length, 1, "the failed prune is reported");
  await log.flush();
  assert.deepEqual(stored.map((e) => e.queueId), [0, 1], "written once, not again by the next flush");
  assert.deepEqual((await log.list()).map((e) => e.queueId), [1, 0], "listed once");
  pruneFails = false;
  log.add(entry(2));
  await log.stop();
  assert.deepEqual(stored.map((e) => e.queueId), [1, 2], "the next flush prunes");
});
