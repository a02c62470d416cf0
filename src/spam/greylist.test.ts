// Greylisting keys: networks as big senders rotate addresses (/24, /64), case-insensitive
// addresses, and which domains are greylisted.
import { test } from "node:test";
import assert from "node:assert/strict";
import { greylistedDomain, greylistNetwork, greylistSender, greylistTriplet } from "./greylist.js";

test("networks: IPv4 /24, IPv6 /64, IPv4-mapped as IPv4", () => {
  assert.equal(greylistNetwork("192.0.2.77"), "192.0.2.0/24");
  assert.equal(greylistNetwork("::ffff:192.0.2.77"), "192.0.2.0/24");
  assert.equal(greylistNetwork("2001:db8:1:2:3:4:5:6"), "2001:0db8:0001:0002::/64");
  assert.equal(greylistNetwork("2001:db8:1:2::9"), greylistNetwork("2001:db8:1:2:ffff::1"));
});

test("triplets and sender keys ignore case and the address within the network", () => {
  assert.equal(greylistTriplet("192.0.2.1", "Alice@Example.NET", "Bob@Example.ORG"), greylistTriplet("192.0.2.200", "alice@example.net", "bob@example.org"));
  assert.equal(greylistSender("192.0.2.1", "alice@Example.NET"), "192.0.2.0/24|example.net");
  assert.equal(greylistSender("192.0.2.1", ""), "192.0.2.0/24|", "the null sender keys on the network alone");
});

test("greylisted domains: none, listed ones (any case), or all", () => {
  assert.equal(greylistedDomain([], "a@example.org"), false);
  assert.equal(greylistedDomain(["Example.org"], "a@EXAMPLE.ORG"), true);
  assert.equal(greylistedDomain(["example.org"], "a@other.org"), false);
  assert.equal(greylistedDomain(["*"], "a@other.org"), true);
});
