import { test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_SASL_LIMITS } from "./mechanism.js";
import { PLAIN, parsePlainMessage } from "./plain.js";

const limits = DEFAULT_SASL_LIMITS;
const nul = "\u0000";
const bytes = (s: string) => Buffer.from(s, "utf8");

test("PLAIN accepts RFC 4616 messages with an empty or matching authzid", () => {
  const cases: [string, { authcid: string; authzid: string | null; password: string }][] = [
    [`${nul}tim@example.org${nul}tanstaaftanstaaf`, { authcid: "tim@example.org", authzid: null, password: "tanstaaftanstaaf" }],
    [`Tim@Example.org${nul}tim@example.org${nul}pw`, { authcid: "tim@example.org", authzid: "Tim@Example.org", password: "pw" }],
    [`${nul}jöns@exämple.org${nul}pässwörd`, { authcid: "jöns@exämple.org", authzid: null, password: "pässwörd" }],
    [`${nul}u${nul}pass with spaces`, { authcid: "u", authzid: null, password: "pass with spaces" }],
  ];
  for (const [message, expected] of cases) {
    assert.deepEqual(parsePlainMessage(bytes(message), limits), { kind: "done", credentials: { kind: "password", ...expected } }, JSON.stringify(message));
  }
});

test("PLAIN refuses hostile and malformed messages with a reason", () => {
  const cases: [Buffer, string][] = [
    [bytes(""), "malformed"],
    [bytes("user pass"), "malformed"],
    [bytes(`user${nul}pass`), "malformed"],
    [bytes(`${nul}user${nul}pa${nul}ss`), "malformed"],
    [bytes(`${nul}${nul}user${nul}pass`), "malformed"],
    [bytes(`${nul}${nul}pass`), "empty-field"],
    [bytes(`${nul}user${nul}`), "empty-field"],
    [bytes(`admin@example.org${nul}user@example.org${nul}pass`), "authzid-mismatch"],
    [Buffer.concat([bytes(`${nul}`), Buffer.from([0xff, 0xfe]), bytes(`${nul}pass`)]), "invalid-utf8"],
    [Buffer.concat([bytes(`${nul}user${nul}`), Buffer.from([0xc3])]), "invalid-utf8"],
    [Buffer.concat([Buffer.from([0xed, 0xa0, 0x80]), bytes(`${nul}user${nul}pass`)]), "invalid-utf8"],
    [bytes(`${nul}${"u".repeat(256)}${nul}pass`), "too-long"],
    [bytes(`${"u".repeat(256)}${nul}user${nul}pass`), "too-long"],
    [bytes(`${nul}user${nul}${"p".repeat(1025)}`), "too-long"],
  ];
  for (const [message, reason] of cases) {
    assert.deepEqual(parsePlainMessage(message, limits), { kind: "error", reason }, JSON.stringify(message.toString("latin1")));
  }
});

test("PLAIN accepts fields exactly at the limits (RFC 4616 §2: at least 255 octets)", () => {
  const step = parsePlainMessage(bytes(`${nul}${"u".repeat(255)}${nul}${"p".repeat(1024)}`), limits);
  assert.equal(step.kind, "done");
});

test("PLAIN without an initial response sends an empty challenge, then takes one message only", () => {
  const mechanism = PLAIN.create(limits);
  assert.deepEqual(mechanism.start(null), { kind: "challenge", challenge: Buffer.alloc(0) });
  assert.equal((mechanism.next(bytes(`${nul}u${nul}p`)) as { kind: string }).kind, "done");
  assert.deepEqual(mechanism.next(bytes(`${nul}u${nul}p`)), { kind: "error", reason: "unexpected-response" });
});

test("PLAIN with an initial response finishes at once", () => {
  const mechanism = PLAIN.create(limits);
  assert.equal((mechanism.start(bytes(`${nul}u${nul}p`)) as { kind: string }).kind, "done");
  assert.deepEqual(PLAIN.create(limits).start(Buffer.alloc(0)), { kind: "error", reason: "malformed" });
});
