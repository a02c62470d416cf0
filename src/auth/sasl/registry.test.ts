import { test } from "node:test";
import assert from "node:assert/strict";
import { advertisedMechanisms, createMechanism, findMechanism, mechanismPermitted } from "./registry.js";

test("plaintext mechanisms are advertised only over TLS unless the operator allows it", () => {
  assert.deepEqual(advertisedMechanisms({ tls: true, allowPlaintextWithoutTls: false }), ["PLAIN", "LOGIN"]);
  assert.deepEqual(advertisedMechanisms({ tls: false, allowPlaintextWithoutTls: false }), []);
  assert.deepEqual(advertisedMechanisms({ tls: false, allowPlaintextWithoutTls: true }), ["PLAIN", "LOGIN"]);
  assert.deepEqual(advertisedMechanisms({ tls: true, allowPlaintextWithoutTls: false, enabled: ["plain"] }), ["PLAIN"]);
});

test("a mechanism the client names is checked against the link, not only the advertisement", () => {
  const plain = findMechanism("Plain")!;
  assert.equal(mechanismPermitted(plain, { tls: false, allowPlaintextWithoutTls: false }), false);
  assert.equal(mechanismPermitted(plain, { tls: true, allowPlaintextWithoutTls: false }), true);
  assert.equal(mechanismPermitted(findMechanism("LOGIN")!, { tls: true, allowPlaintextWithoutTls: false, enabled: ["PLAIN"] }), false);
});

test("unknown names give null, known names a fresh state machine each time", () => {
  assert.equal(createMechanism("CRAM-MD5"), null);
  assert.equal(createMechanism(""), null);
  assert.equal(findMechanism("XOAUTH2"), null);
  const a = createMechanism("login");
  const b = createMechanism("LOGIN");
  assert.ok(a && b && a !== b);
  assert.equal(a.name, "LOGIN");
});
