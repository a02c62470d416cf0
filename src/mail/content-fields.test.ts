import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { parseContentDisposition, parseContentType, readContentFields } from "./content-fields.js";
import { parseHeaderBlock } from "./header-fields.js";

test("Content-Type: lower-cased type and parameter names, quoted values, comments", () => {
  assert.deepEqual(parseContentType('Text/HTML; Charset="UTF-8"; format=flowed', false), {
    type: "text",
    subtype: "html",
    params: { charset: "UTF-8", format: "flowed" },
  });
  assert.deepEqual(parseContentType("text/plain; charset=us-ascii (Plain text)", false).params, { charset: "us-ascii" });
  assert.deepEqual(parseContentType('multipart/mixed; boundary="a;b \\"c\\""', false).params, { boundary: 'a;b "c"' });
  assert.deepEqual(parseContentType("image/png;name=file(1).png", false).params, { name: "file(1).png" });
});

test("Content-Type defaults: text/plain us-ascii, message/rfc822 inside a digest, also for garbage", () => {
  const plain = { type: "text", subtype: "plain", params: { charset: "us-ascii" } };
  assert.deepEqual(parseContentType(null, false), plain);
  assert.deepEqual(parseContentType("garbage", false), plain);
  assert.deepEqual(parseContentType("te xt/plain", false), plain);
  assert.deepEqual(parseContentType(null, true), { type: "message", subtype: "rfc822", params: {} });
  assert.deepEqual(parseContentType("text/plain", false), plain, "a text type without charset gets us-ascii");
});

test("RFC 2231: continuations, charset and language, percent-decoding, precedence over the plain form", () => {
  const joined = parseContentType("application/x-stuff; title*0*=us-ascii'en'This%20is%20even%20more%20; title*1*=%2A%2A%2Afun%2A%2A%2A%20; title*2=\"isn't it!\"", false);
  assert.equal(joined.params.title, "This is even more ***fun*** isn't it!");
  const latin = parseContentDisposition("attachment; filename*=iso-8859-1'fr'caf%E9.txt; filename=cafe.txt");
  assert.deepEqual(latin, { type: "attachment", params: { filename: "café.txt" } });
  const split = parseContentDisposition("inline; filename*1*=%AC.txt; filename*0*=utf-8''%E2%82");
  assert.equal(split?.params.filename, "€.txt", "segments sorted, a character split across segments");
  assert.equal(parseContentDisposition("attachment; filename=\"=?UTF-8?Q?a?=\"")?.params.filename, "=?UTF-8?Q?a?=", "encoded-words stay raw");
});

test("Content-Disposition: absent or broken gives null", () => {
  assert.equal(parseContentDisposition(null), null);
  assert.equal(parseContentDisposition("; filename=x"), null);
  assert.deepEqual(parseContentDisposition("INLINE"), { type: "inline", params: {} });
});

test("all content fields of a part", () => {
  const fields = parseHeaderBlock(
    "Content-Type: text/plain\r\nContent-Transfer-Encoding: Quoted-Printable\r\nContent-ID: <x@y>\r\nContent-Description: d\r\nContent-Language: en (English), de\r\nContent-Location: http://x/\r\nContent-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\r\n\r\n",
  );
  assert.deepEqual(readContentFields(fields, false), {
    contentType: { type: "text", subtype: "plain", params: { charset: "us-ascii" } },
    disposition: null,
    contentId: "<x@y>",
    contentDescription: "d",
    contentTransferEncoding: "quoted-printable",
    contentLanguage: ["en", "de"],
    contentLocation: "http://x/",
    contentMd5: "Q2hlY2sgSW50ZWdyaXR5IQ==",
  });
  assert.equal(readContentFields([], false).contentTransferEncoding, "7bit");
});

test("property: content fields never throw on any value", () => {
  fc.assert(
    fc.property(fc.string({ unit: fc.constantFrom(..."a/;=*'\"%()\\ 0123xE2"), maxLength: 80 }), (value) => {
      const type = parseContentType(value, false);
      assert.equal(type.type, type.type.toLowerCase());
      parseContentDisposition(value);
    }),
    { numRuns: 1000 },
  );
});
