import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { decodeUtf8AddrXtext, decodeXtext, encodeXtext } from "./xtext.js";

test("xtext decoding per RFC 3461 §4", () => {
  assert.equal(decodeXtext("a+2Bb+3Dc"), "a+b=c");
  assert.equal(decodeXtext("+c3+b6"), "ö", "hex may be lower case; octets are UTF-8");
  for (const bad of ["a b", "a=b", "a+2", "a+zz", "+FF", "é"]) assert.equal(decodeXtext(bad), null, bad);
  assert.equal(decodeXtext("jö", true), "jö", "raw UTF-8 under SMTPUTF8");
  assert.equal(decodeXtext("\uD800", true), null);
});

test("RFC 6533 utf-8-addr-xtext escapes", () => {
  assert.equal(decodeUtf8AddrXtext("j\\x{F6}rg@x.example"), "jörg@x.example");
  assert.equal(decodeUtf8AddrXtext("a\\x{5C}b"), "a\\b");
  for (const bad of ["a\\b", "\\x{D800}", "\\x{110000}", "\\x{}"]) assert.equal(decodeUtf8AddrXtext(bad), null, bad);
});

test("property: encodeXtext then decodeXtext is the identity", () => {
  fc.assert(
    fc.property(fc.string({ unit: "grapheme", maxLength: 30 }), (text) => {
      const encoded = encodeXtext(text);
      assert.match(encoded, /^[\x21-\x7e]*$/);
      assert.equal(decodeXtext(encoded), text);
    }),
  );
});
