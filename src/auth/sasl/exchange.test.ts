import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { DEFAULT_SASL_EXCHANGE_LIMITS, SaslExchange } from "./exchange.js";
import type { SaslMechanism } from "./mechanism.js";
import { createMechanism } from "./registry.js";

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
const exchangeFor = (name: string, limits = DEFAULT_SASL_EXCHANGE_LIMITS) => new SaslExchange(createMechanism(name, limits)!, limits);
const credentials = (authcid: string, password: string) => ({ kind: "done", credentials: { kind: "password", authcid, authzid: null, password } });

test("PLAIN with an initial response (SASL-IR) completes in one line", async () => {
  const exchange = exchangeFor("PLAIN");
  assert.deepEqual(await exchange.begin(b64("\0tim\0tanstaaf")), credentials("tim", "tanstaaf"));
  assert.equal(exchange.finished, true);
  assert.deepEqual(await exchange.continue(""), { kind: "failed", reason: "unexpected-response" });
});

test("PLAIN without one sends an empty challenge line, then takes the message", async () => {
  const exchange = exchangeFor("plain");
  assert.deepEqual(await exchange.begin(null), { kind: "challenge", line: "" });
  assert.deepEqual(await exchange.continue(b64("\0tim\0pw")), credentials("tim", "pw"));
});

test("LOGIN drives two base64 challenges", async () => {
  const exchange = exchangeFor("LOGIN");
  assert.deepEqual(await exchange.begin(null), { kind: "challenge", line: "VXNlcm5hbWU6" });
  assert.deepEqual(await exchange.continue(b64("tim")), { kind: "challenge", line: "UGFzc3dvcmQ6" });
  assert.deepEqual(await exchange.continue(b64("pw")), credentials("tim", "pw"));
});

test("'*' cancels, bad base64 and oversized lines are malformed, and each ends the exchange", async () => {
  const cancelled = exchangeFor("LOGIN");
  await cancelled.begin(null);
  assert.deepEqual(await cancelled.continue("*"), { kind: "cancelled" });
  assert.deepEqual(await cancelled.continue(b64("tim")), { kind: "failed", reason: "unexpected-response" });

  const mangled = exchangeFor("LOGIN");
  await mangled.begin(null);
  assert.deepEqual(await mangled.continue("dGlt!!"), { kind: "malformed", reason: "bad-base64" });

  const oversized = exchangeFor("PLAIN", { ...DEFAULT_SASL_EXCHANGE_LIMITS, maxResponseBytes: 16 });
  assert.deepEqual(await oversized.begin(b64("\0tim\0a-long-password")), { kind: "malformed", reason: "too-long" });

  assert.deepEqual(await exchangeFor("PLAIN").begin("="), { kind: "failed", reason: "malformed" });
  assert.deepEqual(await exchangeFor("PLAIN").begin("*"), { kind: "malformed", reason: "bad-base64" });
  assert.deepEqual(await exchangeFor("PLAIN").begin(b64("admin\0tim\0pw")), { kind: "failed", reason: "authzid-mismatch" });
});

test("a line before begin, or a second begin, is refused", async () => {
  const exchange = exchangeFor("LOGIN");
  assert.deepEqual(await exchange.continue(b64("tim")), { kind: "failed", reason: "unexpected-response" });
  await exchange.begin(null);
  assert.deepEqual(await exchange.begin(null), { kind: "failed", reason: "unexpected-response" });
});

test("an endless mechanism is cut off after maxSteps responses", async () => {
  const chatty: SaslMechanism = {
    name: "CHATTY",
    start: () => ({ kind: "challenge", challenge: Buffer.from("more") }),
    next: async () => ({ kind: "challenge", challenge: Buffer.from("more") }),
  };
  const exchange = new SaslExchange(chatty, { ...DEFAULT_SASL_EXCHANGE_LIMITS, maxSteps: 3 });
  await exchange.begin(null);
  for (let i = 0; i < 3; i += 1) assert.equal((await exchange.continue("")).kind, "challenge");
  assert.deepEqual(await exchange.continue(""), { kind: "malformed", reason: "too-many-steps" });
  assert.equal(exchange.finished, true);
});

test("property: arbitrary lines and arbitrary decoded bytes never throw, in either mechanism", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom("PLAIN", "LOGIN"),
      fc.option(fc.string({ unit: "binary", maxLength: 80 })),
      fc.array(fc.oneof(fc.string({ unit: "binary", maxLength: 80 }), fc.uint8Array({ maxLength: 80 }).map((u) => Buffer.from(u).toString("base64"))), { maxLength: 5 }),
      async (name, initial, lines) => {
        const exchange = exchangeFor(name);
        const steps = [await exchange.begin(initial)];
        for (const line of lines) steps.push(await exchange.continue(line));
        for (const step of steps) {
          if (step.kind === "done" && step.credentials.kind === "password") {
            assert.ok(step.credentials.authcid.length > 0 && step.credentials.password.length > 0);
            assert.ok(!step.credentials.authcid.includes("\0") && !step.credentials.password.includes("\0"));
          }
        }
      },
    ),
  );
});
