// Authentication-Results composition (RFC 8601): value encoding and folding.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { encodePropertyValue, formatAuthenticationResults } from "./authentication-results.js";

test("tokens and addresses stay bare, everything else is a quoted-string", () => {
  assert.equal(encodePropertyValue("example.org"), "example.org");
  assert.equal(encodePropertyValue("alice+tag@example.org"), "alice+tag@example.org");
  assert.equal(encodePropertyValue("@example.org"), "@example.org");
  assert.equal(encodePropertyValue("pass"), "pass");
  assert.equal(encodePropertyValue(""), '""');
  assert.equal(encodePropertyValue("two words"), '"two words"');
  assert.equal(encodePropertyValue('a"b\\c'), '"a\\"b\\\\c"');
  assert.equal(encodePropertyValue("x;y"), '"x;y"');
  assert.equal(encodePropertyValue("a\r\nb"), "ab");
  assert.equal(encodePropertyValue("x".repeat(1000)).length, 256);
});

test("no-result form when nothing was evaluated", () => {
  assert.equal(formatAuthenticationResults("mx.example.net", []), "Authentication-Results: mx.example.net; none\r\n");
});

test("long resinfo folds between properties, never inside a value", () => {
  const long = `${"l".repeat(60)}@${"d".repeat(60)}.example`;
  const header = formatAuthenticationResults("mx.example.net", [
    { method: "spf", result: "pass", properties: [{ ptype: "smtp", property: "mailfrom", value: long }, { ptype: "smtp", property: "helo", value: "mail.example.org" }] },
  ]);
  assert.equal(header, `Authentication-Results: mx.example.net;\r\n\tspf=pass\r\n\t  smtp.mailfrom=${long}\r\n\t  smtp.helo=mail.example.org\r\n`);
});

test("property: any values keep the field one header, every line ≤ 998 octets, values recoverable", () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 300, unit: "binary" }), fc.string({ maxLength: 300, unit: "binary" }), (authserv, value) => {
      const header = formatAuthenticationResults(authserv, [{ method: "spf", result: "pass", comment: value, properties: [{ ptype: "smtp", property: "mailfrom", value }] }]);
      assert.ok(header.startsWith("Authentication-Results: "));
      assert.ok(header.endsWith("\r\n"));
      const lines = header.slice(0, -2).split("\r\n");
      for (const [index, line] of lines.entries()) {
        assert.doesNotMatch(line, /[\r\n]/);
        assert.ok(Buffer.byteLength(line) <= 998);
        if (index > 0) assert.match(line, /^\t/);
      }
      // Outside quoted-strings and comments there is exactly one resinfo separator.
      const bare = header.replace(/"(?:[^"\\]|\\.)*"/g, "").replace(/\([^()]*\)/g, "");
      assert.equal(bare.match(/;/g)?.length, 1);
    }),
  );
});
