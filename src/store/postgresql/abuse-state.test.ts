// Shared abuse state (migration 10) with two stores on one database standing in for two nodes:
// the hourly MAIL limit is one limit across nodes; connection counts published by one node are
// seen by the other until its heartbeat goes stale. (The auth throttle over these tables is
// tested in auth/shared-auth-throttle.test.ts.)
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { postgresUnavailable, startPostgres, type PostgresCluster } from "../../../test/harness/postgres.js";
import { openPostgresStore, type PostgresStore } from "./postgresql-store.js";

const unavailable = postgresUnavailable();

if (unavailable !== null) {
  describe("postgresql shared abuse state", { skip: unavailable }, () => undefined);
} else {
  describe("postgresql shared abuse state", () => {
    let cluster: PostgresCluster;
    let a: PostgresStore;
    let b: PostgresStore;
    let dbName: string;
    before(async () => {
      cluster = await startPostgres();
      const url = await cluster.createDatabase("abuse");
      dbName = new URL(url).pathname.slice(1);
      a = await openPostgresStore({ url, maxConnections: 6 });
      b = await openPostgresStore({ url, maxConnections: 6 });
    });
    after(async () => {
      await a?.close();
      await b?.close();
      await cluster?.stop();
    });

    test("the hourly MAIL limit per address is one limit across nodes", async () => {
      const admitted: boolean[] = [];
      for (let i = 0; i < 8; i++) admitted.push(await (i % 2 === 0 ? a : b).admitIpMessage("192.0.2.99", 5));
      assert.deepEqual(admitted, [true, true, true, true, true, false, false, false]);
      assert.equal(await b.admitIpMessage("192.0.2.98", 5), true, "another address has its own count");
      const [row] = await cluster.query<{ attempts: number }>("SELECT sum(attempts)::int AS attempts FROM ip_message_counts WHERE ip = '192.0.2.99'", [], dbName);
      assert.equal(row?.attempts, 5, "refused attempts are not counted");
      assert.equal(await a.pruneIpMessages(), 0, "this minute's counters stay");
    });

    test("connection counts: each node sees the others' fresh counts, not its own, not a stale node's", async () => {
      assert.deepEqual(await a.publishConnections("node-a", new Map([["192.0.2.1", 2], ["192.0.2.2", 1]]), 5000), new Map());
      assert.deepEqual(await b.publishConnections("node-b", new Map([["192.0.2.1", 1]]), 5000), new Map([["192.0.2.1", 2], ["192.0.2.2", 1]]));
      assert.deepEqual(await a.publishConnections("node-a", new Map([["192.0.2.1", 1]]), 5000), new Map([["192.0.2.1", 1]]), "A sees B only");
      assert.deepEqual(await b.publishConnections("node-b", new Map(), 5000), new Map([["192.0.2.1", 1]]), "A's republished counts replace its old ones");
      // Node A stops heartbeating: after staleMs it no longer counts.
      await new Promise((r) => setTimeout(r, 600));
      assert.deepEqual(await b.publishConnections("node-b", new Map(), 500), new Map());
      await b.withdrawConnections("node-b");
      assert.deepEqual(await a.publishConnections("node-a", new Map(), 5000), new Map());
    });
  });
}
