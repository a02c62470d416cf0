import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { decodeInitialResponse, decodeSaslResponse, decodeStrictBase64, encodeSaslChallenge, maxEncodedLength } from "./wire.js";

test("strict base64 decodes canonical text and refuses everything Node would tolerate", () => {
  assert.deepEqual(decodeStrictBase64(""), Buffer.alloc(0));
  assert.deepEqual(decodeStrictBase64("AHRpbQB0YW5zdGFhZg=="), Buffer.from("\0tim\0tanstaaf"));
  for (const bad of ["A", "AB", "ABC", "AB=", "A===", "AB==CD==", "AB CD", " ABCD", "ABCD\r\n", "AB-_", "AB==\0", "QQ=", "QR==", "QUJ=", "****"]) {
    assert.equal(decodeStrictBase64(bad), null, JSON.stringify(bad));
  }
});

test("response lines: '*' cancels, empty is an empty response, bad or oversized text is invalid", () => {
  assert.deepEqual(decodeSaslResponse("*", 100), { kind: "cancel" });
  assert.deepEqual(decodeSaslResponse("", 100), { kind: "response", bytes: Buffer.alloc(0) });
  assert.deepEqual(decodeSaslResponse("dGlt", 100), { kind: "response", bytes: Buffer.from("tim") });
  assert.deepEqual(decodeSaslResponse("dGlt!", 100), { kind: "invalid", reason: "bad-base64" });
  assert.deepEqual(decodeSaslResponse("=", 100), { kind: "invalid", reason: "bad-base64" });
  assert.deepEqual(decodeSaslResponse("dGlt", 2), { kind: "invalid", reason: "too-long" });
  assert.deepEqual(decodeSaslResponse("A".repeat(1_000_000), 100), { kind: "invalid", reason: "too-long" });
  assert.deepEqual(decodeSaslResponse(Buffer.alloc(4).toString("base64"), 4), { kind: "response", bytes: Buffer.alloc(4) });
});

test("initial responses: absent is null, '=' is empty (RFC 4954 §4), '*' and '' are not valid", () => {
  assert.equal(decodeInitialResponse(null, 100), null);
  assert.deepEqual(decodeInitialResponse("=", 100), { kind: "response", bytes: Buffer.alloc(0) });
  assert.deepEqual(decodeInitialResponse("*", 100), { kind: "invalid", reason: "bad-base64" });
  assert.deepEqual(decodeInitialResponse("", 100), { kind: "invalid", reason: "bad-base64" });
  assert.deepEqual(decodeInitialResponse("dGlt", 100), { kind: "response", bytes: Buffer.from("tim") });
});

test("challenges encode as base64 and an empty challenge as an empty line", () => {
  assert.equal(encodeSaslChallenge(Buffer.from("Username:")), "VXNlcm5hbWU6");
  assert.equal(encodeSaslChallenge(Buffer.alloc(0)), "");
});

test("property: every byte string round-trips, and no text makes the decoder throw", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (raw) => {
      const text = Buffer.from(raw).toString("base64");
      assert.ok(text.length <= maxEncodedLength(raw.length));
      assert.deepEqual(decodeSaslResponse(text, 300), { kind: "response", bytes: Buffer.from(raw) });
    }),
  );
  fc.assert(
    fc.property(fc.string({ unit: "binary", maxLength: 200 }), fc.nat(300), (text, max) => {
      const line = decodeSaslResponse(text, max);
      if (line.kind === "response") assert.ok(line.bytes.length <= max);
      decodeInitialResponse(text, max);
    }),
  );
});
