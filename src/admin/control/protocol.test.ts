import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { CONTROL_PROTOCOL_VERSION, ControlProtocolError, decodeRequest, decodeResponse, encodeLine, LineSplitter } from "./protocol.js";

test("requests and responses round-trip, dates included", () => {
  const request = { v: CONTROL_PROTOCOL_VERSION, id: 3, method: "addUser", args: [{ address: "a@example.org", password: "pw with \"quotes\"\n" }] };
  const line = encodeLine(request);
  assert.ok(line.endsWith("\n") && !line.slice(0, -1).includes("\n"), "one line");
  assert.deepEqual(decodeRequest(line.trimEnd()), request);
  const createdAt = new Date("2026-01-02T03:04:05.678Z");
  const response = { v: CONTROL_PROTOCOL_VERSION, id: 3, ok: true as const, result: [{ address: "a@example.org", createdAt, nested: { at: createdAt } }] };
  const decoded = decodeResponse(encodeLine(response).trimEnd());
  assert.deepEqual(decoded, response);
  assert.ok(decoded.ok && (decoded.result as { createdAt: Date }[])[0]!.createdAt instanceof Date);
});

test("a progress line before the answer decodes as progress, not as an answer", () => {
  const progress = { v: CONTROL_PROTOCOL_VERSION, id: 4, progress: { phase: "blobs", done: 20, total: 100 } };
  assert.deepEqual(decodeResponse(encodeLine(progress).trimEnd()), progress);
  assert.throws(() => decodeResponse(JSON.stringify({ v: 1, id: 4 })), /malformed response/, "neither an answer nor progress");
});

test("another protocol version, a bad id or args, and non-JSON are refused by name", () => {
  assert.throws(() => decodeRequest(JSON.stringify({ v: 2, id: 1, method: "listUsers", args: [] })), /version 2 is not spoken here/);
  assert.throws(() => decodeRequest(JSON.stringify({ v: 1, id: "1", method: "listUsers", args: [] })), ControlProtocolError);
  assert.throws(() => decodeRequest(JSON.stringify({ v: 1, id: 1, method: "listUsers", args: {} })), /args must be an array/);
  assert.throws(() => decodeRequest("{not json"), /not a JSON line/);
  assert.throws(() => decodeRequest("[1,2]"), /not a JSON object/);
  assert.throws(() => decodeResponse(JSON.stringify({ v: 1, id: 1, ok: false, error: { kind: 3 } })), /malformed response/);
});

test("the line splitter joins chunks, splits lines and refuses a line over its limit", () => {
  const splitter = new LineSplitter(10);
  assert.deepEqual(splitter.push(Buffer.from("abc")), []);
  assert.deepEqual(splitter.push(Buffer.from("de\nfg\nh")), ["abcde", "fg"]);
  assert.deepEqual(splitter.push(Buffer.from("ij\n")), ["hij"]);
  assert.throws(() => splitter.push(Buffer.from("0123456789x")), /longer than 10 bytes/);
  const again = new LineSplitter(10);
  again.push(Buffer.from("01234"));
  assert.throws(() => again.push(Buffer.from("56789x")), ControlProtocolError, "the limit counts across chunks");
});

test("hostile lines only ever fail with ControlProtocolError", () => {
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.json(), fc.jsonValue().map((v) => JSON.stringify({ v: 1, id: 1, method: "x", args: v }))), (line) => {
      try {
        decodeRequest(line);
      } catch (error) {
        assert.ok(error instanceof ControlProtocolError, String(error));
      }
    }),
    { numRuns: 500 },
  );
});
