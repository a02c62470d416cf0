import { test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_SASL_LIMITS } from "./mechanism.js";
import type { SaslMechanism, SaslStep } from "./mechanism.js";
import { LOGIN } from "./login.js";

const limits = DEFAULT_SASL_LIMITS;
const bytes = (s: string) => Buffer.from(s, "utf8");
// LOGIN and PLAIN answer synchronously; the union with Promise is for SCRAM.
const start = (m: SaslMechanism, r: Buffer | null) => m.start(r) as SaslStep;
const next = (m: SaslMechanism, r: Buffer) => m.next(r) as SaslStep;

test("LOGIN asks for the username, then the password", () => {
  const mechanism = LOGIN.create(limits);
  assert.deepEqual(start(mechanism, null), { kind: "challenge", challenge: bytes("Username:") });
  assert.deepEqual(next(mechanism, bytes("tim@example.org")), { kind: "challenge", challenge: bytes("Password:") });
  assert.deepEqual(next(mechanism, bytes("sécret")), {
    kind: "done",
    credentials: { kind: "password", authcid: "tim@example.org", authzid: null, password: "sécret" },
  });
  assert.deepEqual(next(mechanism, bytes("again")), { kind: "error", reason: "unexpected-response" });
});

test("LOGIN's initial response is the username", () => {
  const mechanism = LOGIN.create(limits);
  assert.deepEqual(start(mechanism, bytes("tim@example.org")), { kind: "challenge", challenge: bytes("Password:") });
  assert.equal(next(mechanism, bytes("pw")).kind, "done");
});

test("LOGIN refuses empty, over-long, NUL-carrying and non-UTF-8 fields, and stops after an error", () => {
  const usernameCases: [Buffer, string][] = [
    [Buffer.alloc(0), "empty-field"],
    [bytes("u".repeat(256)), "too-long"],
    [bytes("a\u0000b"), "malformed"],
    [Buffer.from([0x80]), "invalid-utf8"],
  ];
  for (const [username, reason] of usernameCases) {
    const mechanism = LOGIN.create(limits);
    start(mechanism, null);
    assert.deepEqual(next(mechanism, username), { kind: "error", reason });
    assert.deepEqual(next(mechanism, bytes("pw")), { kind: "error", reason: "unexpected-response" });
  }
  const passwordCases: [Buffer, string][] = [
    [Buffer.alloc(0), "empty-field"],
    [bytes("p".repeat(1025)), "too-long"],
    [Buffer.from([0xc3, 0x28]), "invalid-utf8"],
  ];
  for (const [password, reason] of passwordCases) {
    const mechanism = LOGIN.create(limits);
    start(mechanism, bytes("user"));
    assert.deepEqual(next(mechanism, password), { kind: "error", reason });
  }
});
