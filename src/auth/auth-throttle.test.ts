import { test } from "node:test";
import assert from "node:assert/strict";
import { AuthThrottle, clientAddressKey } from "./auth-throttle.js";
import type { AuthThrottleOptions, ThrottleVerdict } from "./auth-throttle.js";

function throttleWithClock(options: Partial<AuthThrottleOptions> = {}) {
  let now = 1_000_000;
  const throttle = new AuthThrottle({ ...options, clock: () => now });
  return { throttle, advance: (ms: number) => (now += ms) };
}

const scopeOf = (verdict: ThrottleVerdict) => (verdict.allowed ? "allowed" : verdict.scope);
const alice = { remoteAddress: "192.0.2.1", username: "alice@example.org" };

test("the failure delay doubles from baseDelayMs and stops at maxDelayMs", () => {
  const { throttle } = throttleWithClock({ baseDelayMs: 200, maxDelayMs: 1500, lockoutThresholdIp: 100, lockoutThresholdAccount: 100 });
  const delays = Array.from({ length: 6 }, () => throttle.recordFailure(alice).delayMs);
  assert.deepEqual(delays, [200, 400, 800, 1500, 1500, 1500]);
});

test("an address is refused after lockoutThresholdIp failures until the window passes", () => {
  const { throttle, advance } = throttleWithClock({ lockoutThresholdIp: 3, windowMs: 60_000 });
  for (let i = 0; i < 3; i += 1) {
    assert.deepEqual(throttle.check({ ...alice, username: `user${i}@example.org` }), { allowed: true });
    throttle.recordFailure({ ...alice, username: `user${i}@example.org` });
  }
  advance(10_000);
  assert.deepEqual(throttle.check({ ...alice, username: "someone-else@example.org" }), { allowed: false, scope: "ip", retryAfterMs: 50_000 });
  assert.deepEqual(throttle.check({ remoteAddress: "192.0.2.2", username: "someone-else@example.org" }), { allowed: true });
  advance(50_000);
  assert.deepEqual(throttle.check(alice), { allowed: true });
  // The window restarted: the next failure is the first again.
  assert.equal(throttle.recordFailure(alice).delayMs, 200);
});

test("an account is refused after lockoutThresholdAccount failures from many addresses", () => {
  const { throttle } = throttleWithClock({ lockoutThresholdIp: 3, lockoutThresholdAccount: 5 });
  for (let i = 0; i < 5; i += 1) throttle.recordFailure({ remoteAddress: `198.51.100.${i}`, username: "Alice@Example.org" });
  assert.equal(scopeOf(throttle.check({ remoteAddress: "203.0.113.9", username: "alice@example.org" })), "account");
  // Other accounts and the attacking addresses (each under its own threshold) are unaffected.
  assert.deepEqual(throttle.check({ remoteAddress: "198.51.100.1", username: "bob@example.org" }), { allowed: true });
});

test("a pair with a recent success keeps working while its account is under attack elsewhere", () => {
  const { throttle, advance } = throttleWithClock({ lockoutThresholdIp: 3, lockoutThresholdAccount: 5, trustedPairMs: 3_600_000, windowMs: 60_000 });
  throttle.recordSuccess(alice);
  for (let i = 0; i < 10; i += 1) throttle.recordFailure({ remoteAddress: `198.51.100.${i}`, username: alice.username });
  assert.equal(throttle.check({ remoteAddress: "203.0.113.9", username: alice.username }).allowed, false);
  assert.deepEqual(throttle.check(alice), { allowed: true });
  // The trusted pair's own failures still lock it, at the address threshold.
  for (let i = 0; i < 3; i += 1) throttle.recordFailure(alice);
  assert.equal(scopeOf(throttle.check(alice)), "pair");
  // Trust expires.
  advance(3_600_000);
  throttle.recordFailure({ remoteAddress: "198.51.100.77", username: alice.username });
  for (let i = 0; i < 5; i += 1) throttle.recordFailure({ remoteAddress: `198.51.100.${i}`, username: alice.username });
  assert.equal(throttle.check(alice).allowed, false);
});

test("a success forgives only that pair's failures", () => {
  const { throttle } = throttleWithClock({ lockoutThresholdIp: 4, lockoutThresholdAccount: 100, baseDelayMs: 100 });
  throttle.recordFailure(alice);
  throttle.recordFailure(alice);
  throttle.recordFailure({ ...alice, username: "bob@example.org" });
  throttle.recordSuccess(alice);
  const carol = { ...alice, username: "carol@example.org" };
  // Alice's two failures are forgiven, Bob's stays: Carol's failure is the address's second.
  assert.equal(throttle.recordFailure(carol).delayMs, 200);
  assert.deepEqual(throttle.check(carol), { allowed: true });
  throttle.recordFailure(carol);
  throttle.recordFailure(carol);
  assert.equal(throttle.check(carol).allowed, false);
});

test("per-address and per-account records are independent", () => {
  const { throttle } = throttleWithClock({ lockoutThresholdIp: 2, lockoutThresholdAccount: 3 });
  throttle.recordFailure({ remoteAddress: "192.0.2.1", username: "a@example.org" });
  throttle.recordFailure({ remoteAddress: "192.0.2.2", username: "b@example.org" });
  assert.deepEqual(throttle.check({ remoteAddress: "192.0.2.1", username: "b@example.org" }), { allowed: true });
  assert.deepEqual(throttle.check({ remoteAddress: "192.0.2.2", username: "a@example.org" }), { allowed: true });
});

test("memory is bounded: the least recently written records are evicted", () => {
  const { throttle } = throttleWithClock({ maxTrackedKeys: 50, lockoutThresholdIp: 1 });
  throttle.recordFailure({ remoteAddress: "192.0.2.250", username: "first@example.org" });
  assert.equal(throttle.check({ remoteAddress: "192.0.2.250", username: "x" }).allowed, false);
  for (let i = 0; i < 1000; i += 1) throttle.recordFailure({ remoteAddress: `10.0.${i >> 8}.${i & 255}`, username: `u${i}` });
  assert.ok(throttle.trackedKeys <= 50);
  assert.deepEqual(throttle.check({ remoteAddress: "192.0.2.250", username: "x" }), { allowed: true });
});

test("prune drops expired records", () => {
  const { throttle, advance } = throttleWithClock({ windowMs: 1000, trustedPairMs: 5000 });
  throttle.recordFailure(alice);
  throttle.recordSuccess({ ...alice, username: "bob@example.org" });
  assert.equal(throttle.trackedKeys, 4);
  advance(1000);
  assert.equal(throttle.prune(), 3);
  advance(4000);
  assert.equal(throttle.prune(), 1);
  assert.equal(throttle.trackedKeys, 0);
});

test("IPv6 clients count per /64, IPv4-mapped addresses as IPv4", () => {
  assert.equal(clientAddressKey("2001:db8:1:2:3:4:5:6", 64), "2001:db8:1:2:0:0:0:0/64");
  assert.equal(clientAddressKey("2001:db8:1:2::ffff", 64), "2001:db8:1:2:0:0:0:0/64");
  assert.equal(clientAddressKey("2001:db8::1", 128), "2001:db8:0:0:0:0:0:1/128");
  assert.equal(clientAddressKey("2001:db8:abcd:ef12::1", 56), "2001:db8:abcd:ef00:0:0:0:0/56");
  assert.equal(clientAddressKey("fe80::1%eth0", 64), "fe80:0:0:0:0:0:0:0/64");
  assert.equal(clientAddressKey("::ffff:192.0.2.7", 64), "192.0.2.7");
  assert.equal(clientAddressKey("::", 64), "0:0:0:0:0:0:0:0/64");
  assert.equal(clientAddressKey("198.51.100.3", 64), "198.51.100.3");
  assert.equal(clientAddressKey("/run/mailroom.sock", 64), "/run/mailroom.sock");

  const { throttle } = throttleWithClock({ lockoutThresholdIp: 2 });
  throttle.recordFailure({ remoteAddress: "2001:db8::1", username: "a" });
  throttle.recordFailure({ remoteAddress: "2001:db8::2", username: "b" });
  assert.equal(throttle.check({ remoteAddress: "2001:db8::3", username: "c" }).allowed, false);
  assert.equal(throttle.check({ remoteAddress: "2001:db8:0:1::3", username: "c" }).allowed, true);
});
