// Conformance: the admin dashboard's history (AdminHistoryStore): counts added to a minute add up
// (two nodes flushing the same minute), are read back from a time on, pruned by age; deliveries
// come back newest first, filtered by event and text (LIKE wildcards taken literally), pruned to
// the newest N, and survive a reopen.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { DeliveryRecord } from "../index.js";
import { type OpenBackend, using } from "./fixture.js";

const T0 = Date.UTC(2026, 11, 3, 10, 0);
const MIN = 60_000;

export function adminHistoryContract(open: OpenBackend): void {
  test("admin history: minute counts add up per minute and name, read from a time on, pruned by age", using(open, async (fx) => {
    const store = fx.adminHistory;
    if (!store) return;
    await store.addMinuteCounts([
      { minute: T0, counts: { received: 2, "connections.smtp": 1, bounced: 0 } },
      { minute: T0 + MIN, counts: { received: 1 } },
    ]);
    // A second node (or the same one after a restart) adds to the same minute.
    await Promise.all([store.addMinuteCounts([{ minute: T0, counts: { received: 3 } }]), store.addMinuteCounts([{ minute: T0, counts: { received: 4, loginsFailed: 1 } }])]);
    await store.addMinuteCounts([]);
    assert.deepEqual(await store.readMinuteCounts(T0), [
      { minute: T0, counts: { received: 9, "connections.smtp": 1, loginsFailed: 1 } },
      { minute: T0 + MIN, counts: { received: 1 } },
    ], "zeros are not stored; concurrent adds are not lost");
    assert.deepEqual(await store.readMinuteCounts(T0 + MIN), [{ minute: T0 + MIN, counts: { received: 1 } }]);
    assert.equal(await store.pruneMinuteCounts(T0 + MIN), 3);
    assert.deepEqual(await store.readMinuteCounts(0), [{ minute: T0 + MIN, counts: { received: 1 } }]);
  }));

  test("admin history: deliveries newest first, filtered by event and text, pruned to the newest N, kept over a reopen", using(open, async (fx) => {
    const store = fx.adminHistory;
    if (!store) return;
    const entry = (i: number, over: Partial<DeliveryRecord> = {}): DeliveryRecord => ({
      at: new Date(T0 + Math.floor(i / 2) * 1000),
      event: "accepted",
      queueId: i,
      from: `sender${i}@example.org`,
      to: [`rcpt${i}@remote.test`, "second@remote.test"],
      detail: `queued ${i}`,
      size: 100 + i,
      ...over,
    });
    await store.addDeliveries([entry(0), entry(1, { event: "deferred", detail: "451 4.7.1 Try 100%_later", to: ["Bob@Remote.TEST"], size: null, queueId: null }), entry(2), entry(3, { event: "failed", from: "" })]);
    await store.addDeliveries([]);
    const all = await store.listDeliveries({ limit: 100 });
    assert.deepEqual(all.map((e) => e.queueId), [3, 2, null, 0], "newest first; equal times in the order added");
    assert.deepEqual(all[2], { at: new Date(T0), event: "deferred", queueId: null, from: "sender1@example.org", to: ["Bob@Remote.TEST"], detail: "451 4.7.1 Try 100%_later", size: null });
    assert.deepEqual(all[0]!.to, ["rcpt3@remote.test", "second@remote.test"]);
    assert.equal(all[0]!.from, "");
    assert.deepEqual((await store.listDeliveries({ event: "accepted", limit: 100 })).map((e) => e.queueId), [2, 0]);
    assert.deepEqual((await store.listDeliveries({ text: "bob@remote", limit: 100 })).map((e) => e.event), ["deferred"], "case-insensitive, in the recipients");
    assert.deepEqual((await store.listDeliveries({ text: "100%_", limit: 100 })).map((e) => e.event), ["deferred"], "% and _ are literal");
    assert.deepEqual((await store.listDeliveries({ text: "0%", limit: 100 })).length, 1);
    assert.deepEqual((await store.listDeliveries({ text: "SENDER2@", limit: 100 })).map((e) => e.queueId), [2]);
    assert.deepEqual((await store.listDeliveries({ limit: 2 })).map((e) => e.queueId), [3, 2]);
    assert.equal(await store.pruneDeliveries(3), 1);
    assert.equal(await store.pruneDeliveries(3), 0);
    assert.deepEqual((await store.listDeliveries({ limit: 100 })).map((e) => e.queueId), [3, 2, null]);
    if (fx.canReopen) {
      await fx.reopen();
      assert.deepEqual((await fx.adminHistory!.listDeliveries({ limit: 100 })).map((e) => e.queueId), [3, 2, null], "kept over a reopen");
    }
  }));
}
