import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { ConnectionLimits, connectionGroup } from "./connection-limits.js";

test("per-IP limit refuses the extra connection and frees a slot on release", () => {
  const limits = new ConnectionLimits({ perIp: 2, total: 100 });
  const first = limits.tryAcquire("192.0.2.1");
  const second = limits.tryAcquire("192.0.2.1");
  assert.ok(first && second);
  assert.deepEqual(limits.admit("192.0.2.1"), { admitted: false, reason: "too-many-from-ip" });
  assert.ok(limits.tryAcquire("192.0.2.2"), "another client is unaffected");
  first();
  first();
  assert.equal(limits.openFrom("192.0.2.1"), 1, "release is idempotent");
  assert.ok(limits.tryAcquire("192.0.2.1"));
});

test("total limit refuses over all clients", () => {
  const limits = new ConnectionLimits({ perIp: 10, total: 3 });
  for (const ip of ["192.0.2.1", "192.0.2.2", "192.0.2.3"]) assert.ok(limits.tryAcquire(ip));
  assert.deepEqual(limits.admit("192.0.2.4"), { admitted: false, reason: "too-many-total" });
  assert.equal(limits.openConnections, 3);
});

test("IPv4-mapped addresses count as IPv4, IPv6 is grouped by /64", () => {
  assert.equal(connectionGroup("::ffff:192.0.2.7"), "192.0.2.7");
  assert.equal(connectionGroup("2001:db8:1:2::1"), connectionGroup("2001:0db8:0001:0002:ffff::9"));
  assert.notEqual(connectionGroup("2001:db8:1:2::1"), connectionGroup("2001:db8:1:3::1"));
  assert.equal(connectionGroup("::1"), "0:0:0:0::/64");
  assert.equal(connectionGroup("fe80::1%eth0"), "fe80:0:0:0::/64");
  const limits = new ConnectionLimits({ perIp: 1, total: 10 });
  assert.ok(limits.tryAcquire("2001:db8::1"));
  assert.equal(limits.tryAcquire("2001:db8::2"), null);
});

test("property: counters return to empty after every release, whatever the order", () => {
  fc.assert(
    fc.property(fc.array(fc.constantFrom("192.0.2.1", "192.0.2.2", "2001:db8::1", "2001:db8::ff", "::ffff:192.0.2.1")), fc.integer({ min: 1, max: 4 }), (ips, perIp) => {
      const limits = new ConnectionLimits({ perIp, total: 6 });
      const releases = ips.map((ip) => limits.tryAcquire(ip)).filter((r) => r !== null);
      assert.ok(limits.openConnections <= 6 && limits.trackedGroups <= 6);
      for (const release of releases.reverse()) release();
      assert.equal(limits.openConnections, 0);
      assert.equal(limits.trackedGroups, 0);
    }),
  );
});

test("other nodes' connections of a group count toward the per-IP limit; the total stays this node's", () => {
  const elsewhere = new Map([["192.0.2.1", 2]]);
  const limits = new ConnectionLimits({ perIp: 3, total: 2, elsewhere: (group) => elsewhere.get(group) ?? 0 });
  const mine = limits.tryAcquire("192.0.2.1");
  assert.ok(mine, "2 elsewhere + 1 here = 3");
  assert.deepEqual(limits.admit("192.0.2.1"), { admitted: false, reason: "too-many-from-ip" });
  assert.deepEqual([...limits.groups()], [["192.0.2.1", 1]], "only this node's own connections are published");
  elsewhere.set("192.0.2.1", 0);
  assert.ok(limits.tryAcquire("192.0.2.1"), "the other node closed its connections");
  assert.deepEqual(limits.admit("192.0.2.9"), { admitted: false, reason: "too-many-total" });
});
