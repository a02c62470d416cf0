import { test } from "node:test";
import assert from "node:assert/strict";
import { createNetworkList } from "./network-list.js";

test("network list: loopback of both families, mapped IPv4, single addresses; junk is never contained", () => {
  const loopback = createNetworkList(["127.0.0.0/8", "::1/128"]);
  for (const inside of ["127.0.0.1", "127.9.8.7", "::1", "::ffff:127.0.0.1", "::FFFF:127.0.0.2"]) assert.ok(loopback.contains(inside), inside);
  for (const outside of ["128.0.0.1", "::2", "::ffff:10.0.0.1", "192.0.2.1", "", "localhost", "127.0.0.1/8"]) assert.ok(!loopback.contains(outside), outside);
  const mixed = createNetworkList(["192.0.2.7/32", "2001:db8::/32"]);
  assert.ok(mixed.contains("192.0.2.7"));
  assert.ok(!mixed.contains("192.0.2.8"));
  assert.ok(mixed.contains("2001:db8:ffff::1"));
  assert.ok(!mixed.contains("2001:db9::1"));
  assert.ok(!createNetworkList([]).contains("127.0.0.1"));
  assert.throws(() => createNetworkList(["example.org/8"]), RangeError);
});
