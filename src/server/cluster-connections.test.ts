import assert from "node:assert/strict";
import { test } from "node:test";
import { silentLogger } from "../observability/log.js";
import type { ConnectionCountStore } from "../store/index.js";
import { ClusterConnections } from "./cluster-connections.js";

/** A store standing in for the database: remembers what was published, answers with `others`. */
function fakeStore(): ConnectionCountStore & { published: Map<string, number>[]; others: Map<string, number>; failing: boolean; withdrawn: string[] } {
  const store = {
    published: [] as Map<string, number>[],
    others: new Map<string, number>(),
    failing: false,
    withdrawn: [] as string[],
    async publishConnections(_node: string, counts: ReadonlyMap<string, number>) {
      if (store.failing) throw new Error("database down");
      store.published.push(new Map(counts));
      return new Map(store.others);
    },
    async withdrawConnections(node: string) {
      store.withdrawn.push(node);
    },
  };
  return store;
}

test("publishes this node's counts and counts the other nodes' from the answer", async () => {
  const store = fakeStore();
  const cluster = new ClusterConnections({ store, log: silentLogger, staleMs: 60_000 });
  cluster.track(() => new Map([["192.0.2.1", 2]]));
  store.others = new Map([["192.0.2.1", 3]]);
  assert.equal(cluster.elsewhere("192.0.2.1"), 0, "nothing heard yet");
  await cluster.publish();
  assert.deepEqual(store.published.at(-1), new Map([["192.0.2.1", 2]]));
  assert.equal(cluster.elsewhere("192.0.2.1"), 3);
  assert.equal(cluster.elsewhere("192.0.2.2"), 0);
  await cluster.stop();
  assert.deepEqual(store.withdrawn, [cluster.nodeId], "a clean stop removes the node's row");
});

test("a failing store keeps the last view only until it is stale, then counts this node alone", async () => {
  const store = fakeStore();
  const cluster = new ClusterConnections({ store, log: silentLogger, staleMs: 200 });
  store.others = new Map([["192.0.2.1", 5]]);
  await cluster.publish();
  store.failing = true;
  await cluster.publish();
  assert.equal(cluster.elsewhere("192.0.2.1"), 5, "still fresh");
  await new Promise((r) => setTimeout(r, 250));
  assert.equal(cluster.elsewhere("192.0.2.1"), 0, "stale: fail open");
  await cluster.stop();
});

test("a change is published soon, at most once per gap", async () => {
  const store = fakeStore();
  const cluster = new ClusterConnections({ store, log: silentLogger, minGapMs: 50 });
  await cluster.publish();
  const before = store.published.length;
  cluster.changed();
  cluster.changed();
  cluster.changed();
  await new Promise((r) => setTimeout(r, 150));
  assert.equal(store.published.length, before + 1);
  await cluster.stop();
});
