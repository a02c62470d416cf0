import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  decodeEncodedWords,
  decodeHeaderBytes,
  firstHeaderValue,
  parseHeaderBlock,
  unfoldHeaderValue,
} from "./header-fields.js";

test("unfolding removes line ends before whitespace (RFC 5322 §2.2.3)", () => {
  assert.equal(unfoldHeaderValue("a\r\n b\n\tc"), "a b\tc");
  assert.equal(unfoldHeaderValue("stray\r\nend"), "stray end");
});

test("header block: fields in order, continuations joined, broken lines skipped, stops at the empty line", () => {
  const fields = parseHeaderBlock(
    Buffer.from(" orphan continuation\r\nFrom: a@b\r\nno colon here\r\nSubject: one\r\n two\r\nX-Empty:\r\n: no name\r\nbad name: x\r\nTo:c@d\r\n\r\nBody: not a field\r\n"),
  );
  assert.deepEqual(fields, [
    { name: "From", value: "a@b" },
    { name: "Subject", value: "one two" },
    { name: "X-Empty", value: "" },
    { name: "To", value: "c@d" },
  ]);
  assert.equal(firstHeaderValue(fields, "subject"), "one two");
  assert.equal(firstHeaderValue(fields, "cc"), null);
});

test("header bytes: UTF-8 when valid (RFC 6532), Latin-1 otherwise, nothing replaced", () => {
  assert.equal(decodeHeaderBytes(Buffer.from("Zoë")), "Zoë");
  assert.equal(decodeHeaderBytes(Buffer.from([0x63, 0x61, 0x66, 0xe9])), "café");
});

test("encoded-words (RFC 2047): B and Q, charsets, adjacent words, split multi-byte characters", () => {
  assert.equal(decodeEncodedWords("=?UTF-8?B?w6l0w6k=?="), "été");
  assert.equal(decodeEncodedWords("=?iso-8859-1?q?caf=E9_cr=E8me?="), "café crème");
  assert.equal(decodeEncodedWords("=?utf-8?q?a?= \r\n =?utf-8?q?b?= c"), "ab c", "whitespace between words dropped");
  assert.equal(decodeEncodedWords("x =?utf-8?q?a?= y"), "x a y");
  assert.equal(decodeEncodedWords("=?utf-8?B?4oI=?==?utf-8?B?rA==?="), "€", "a character split over two words");
  assert.equal(decodeEncodedWords("=?utf-8*en?Q?hi?="), "hi", "RFC 2231 language suffix");
  assert.equal(decodeEncodedWords("=?x-unknown?Q?plain?="), "plain", "unknown charset read as UTF-8");
  assert.equal(decodeEncodedWords("no words =?broken"), "no words =?broken");
});

test("property: header parsing and decoding never throw", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
      const buffer = Buffer.from(bytes);
      for (const field of parseHeaderBlock(buffer)) {
        assert.ok(field.name.length > 0);
        assert.ok(!/[\r\n]/.test(field.value));
        decodeEncodedWords(field.value);
      }
    }),
    { numRuns: 500 },
  );
  fc.assert(
    fc.property(fc.string({ unit: fc.constantFrom(..."=?BbQq_azAZ09+/ \r\n"), maxLength: 60 }), (value) => {
      decodeEncodedWords(value);
    }),
    { numRuns: 500 },
  );
});
