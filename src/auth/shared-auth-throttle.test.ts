// The auth throttle with its records in PostgreSQL (store migration 10), two stores on one
// database standing in for two nodes: failures on one node refuse on the other, failures counted
// concurrently by both are all counted, a success forgives only its pair.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { postgresUnavailable, startPostgres, type PostgresCluster } from "../../test/harness/postgres.js";
import { SharedAuthThrottle } from "./shared-auth-throttle.js";
import { openPostgresStore, type PostgresStore } from "../store/postgresql/postgresql-store.js";

const unavailable = postgresUnavailable();

if (unavailable !== null) {
  describe("shared auth throttle on postgresql", { skip: unavailable }, () => undefined);
} else {
  describe("shared auth throttle on postgresql", () => {
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

    const options = { lockoutThresholdIp: 5, lockoutThresholdAccount: 8, windowMs: 60_000, baseDelayMs: 100, maxDelayMs: 1000 };

    test("user unlock on one node lifts an account lock-out on every node, and only that account's", async () => {
      const onA = new SharedAuthThrottle(a, options);
      const onB = new SharedAuthThrottle(b, options);
      for (let i = 0; i < 8; i++) await onA.recordFailure({ remoteAddress: `198.51.100.${i}`, username: "locked@example.org" });
      for (let i = 0; i < 8; i++) await onA.recordFailure({ remoteAddress: `198.51.100.${i}`, username: "other@example.org" });
      const fresh = { remoteAddress: "203.0.113.9", username: "locked@example.org" };
      assert.equal((await onB.check(fresh)).allowed, false);
      await onA.unlock("Locked@example.org");
      assert.deepEqual(await onB.check(fresh), { allowed: true });
      assert.equal((await onB.check({ remoteAddress: "203.0.113.9", username: "other@example.org" })).allowed, false, "another account stays locked");
    });

    test("failures on node A refuse the address on node B; the delay doubles across nodes", async () => {
      const onA = new SharedAuthThrottle(a, options);
      const onB = new SharedAuthThrottle(b, options);
      const subject = { remoteAddress: "192.0.2.10", username: "alice@example.org" };
      const delays: number[] = [];
      for (let i = 0; i < 4; i++) delays.push((await (i % 2 === 0 ? onA : onB).recordFailure({ ...subject, username: `u${i}@example.org` })).delayMs);
      assert.deepEqual(delays, [100, 200, 400, 800], "each node's failure counts on the same record");
      assert.deepEqual(await onB.check(subject), { allowed: true });
      await onA.recordFailure(subject);
      const verdict = await onB.check(subject);
      assert.equal(verdict.allowed, false);
      assert.equal(verdict.allowed === false && verdict.scope, "ip");
      assert.ok(verdict.allowed === false && verdict.retryAfterMs > 50_000 && verdict.retryAfterMs <= 60_000);
      assert.deepEqual(await onA.check({ remoteAddress: "192.0.2.11", username: "alice@example.org" }), { allowed: true }, "other addresses unaffected");
    });

    test("failures counted at once by both nodes are all counted (atomic upserts)", async () => {
      const onA = new SharedAuthThrottle(a, { ...options, lockoutThresholdIp: 1000, lockoutThresholdAccount: 1000 });
      const onB = new SharedAuthThrottle(b, { ...options, lockoutThresholdIp: 1000, lockoutThresholdAccount: 1000 });
      const subject = { remoteAddress: "198.51.100.20", username: "bob@example.org" };
      await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? onA : onB).recordFailure(subject)));
      const rows = await cluster.query<{ key: string; failures: number }>("SELECT key, failures FROM auth_throttle WHERE key LIKE '%198.51.100.20%' OR key = 'account\tbob@example.org' ORDER BY key", [], dbName);
      assert.deepEqual(
        rows.map((r) => r.failures),
        [40, 40, 40],
        JSON.stringify(rows),
      );
    });

    test("a success on one node forgives that pair's failures everywhere, and only those", async () => {
      const onA = new SharedAuthThrottle(a, options);
      const onB = new SharedAuthThrottle(b, options);
      const carol = { remoteAddress: "203.0.113.5", username: "carol@example.org" };
      for (let i = 0; i < 3; i++) await onA.recordFailure(carol);
      await onA.recordFailure({ ...carol, username: "dave@example.org" });
      await onB.recordSuccess(carol);
      const [ip] = await cluster.query<{ failures: number }>("SELECT failures FROM auth_throttle WHERE key = $1", ["ip\t203.0.113.5"], dbName);
      assert.equal(ip?.failures, 1, "dave's failure from that address still counts");
      const [pair] = await cluster.query<{ failures: number; last_success_at: string | null }>("SELECT failures, last_success_at FROM auth_throttle WHERE key = $1", ["pair\t203.0.113.5\tcarol@example.org"], dbName);
      assert.equal(pair?.failures, 0);
      assert.notEqual(pair?.last_success_at, null, "the pair is trusted");
      // Trusted pair: the account under attack elsewhere does not lock carol out at her address.
      for (let i = 0; i < 8; i++) await onB.recordFailure({ remoteAddress: `198.18.0.${i}`, username: "carol@example.org" });
      assert.equal((await onA.check({ remoteAddress: "198.18.1.1", username: "carol@example.org" })).allowed, false);
      assert.deepEqual(await onA.check(carol), { allowed: true });
      assert.ok((await onA.prune()) >= 0);
    });

  });
}
