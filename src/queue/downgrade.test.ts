// 8BITMIME downgrade: lossless re-encoding of 8-bit MIME leaves, composite parts relabelled,
// refusals where it cannot be lossless, and the output really 7-bit.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { MimeTreeBuilder } from "../mail/mime-tree.js";
import { downgradeTo7bit, encodeBase64Lines, encodeQuotedPrintable, withEncoding } from "./downgrade.js";

function decodeQuotedPrintable(text: string): Buffer {
  const unsoftened = text.replace(/=\r\n/g, "");
  const bytes: number[] = [];
  for (let i = 0; i < unsoftened.length; i++) {
    if (unsoftened[i] === "=") {
      bytes.push(parseInt(unsoftened.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(unsoftened.charCodeAt(i));
  }
  return Buffer.from(bytes);
}

function isSevenBitWithShortLines(bytes: Buffer): boolean {
  return !bytes.some((b) => b >= 0x80) && bytes.toString("latin1").split("\r\n").every((line) => line.length <= 998);
}

test("quoted-printable: round-trips any bytes, lines of at most 76 characters, no trailing whitespace", () => {
  fc.assert(
    fc.property(fc.array(fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.constantFrom(Buffer.from("\r\n"), Buffer.from("ü \t"), Buffer.from("="))), { maxLength: 20 }), (pieces) => {
      const body = Buffer.concat(pieces.map((p) => Buffer.from(p)));
      // Bare CR and LF never reach the queue (smuggling is refused on intake); CRLF is a line break.
      fc.pre(!/\r(?!\n)|(?<!\r)\n/.test(body.toString("latin1")));
      const encoded = encodeQuotedPrintable(body).toString("latin1");
      assert.deepEqual(decodeQuotedPrintable(encoded), body);
      for (const line of encoded.split("\r\n")) {
        assert.ok(line.length <= 76, line);
        assert.doesNotMatch(line, /[ \t]$/);
        assert.ok(!/[^\t\x20-\x7e]/.test(line), "only printable ASCII and tab");
      }
    }),
  );
  assert.equal(encodeQuotedPrintable(Buffer.from("Grüße = 1 \r\nok\r\n", "utf8")).toString(), "Gr=C3=BC=C3=9Fe =3D 1=20\r\nok\r\n");
});

test("base64 lines are 76 characters and decode to the input", () => {
  const body = Buffer.from(Array.from({ length: 500 }, (_, i) => (i * 37) % 256));
  const encoded = encodeBase64Lines(body).toString();
  assert.ok(encoded.split("\r\n").every((line) => line.length <= 76));
  assert.deepEqual(Buffer.from(encoded.replace(/\r\n/g, ""), "base64"), body);
});

test("the Content-Transfer-Encoding field is replaced (folded continuation too) or added; the root gets MIME-Version", () => {
  const replaced = withEncoding(Buffer.from("Content-Type: text/plain\r\nContent-Transfer-Encoding:\r\n 8bit\r\nX-A: b\r\n\r\n"), "quoted-printable", false).toString();
  assert.equal(replaced, "Content-Type: text/plain\r\nX-A: b\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n");
  const added = withEncoding(Buffer.from("Subject: hi\r\n\r\n"), "quoted-printable", true).toString();
  assert.equal(added, "Subject: hi\r\nMIME-Version: 1.0\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n");
});

const MULTIPART = [
  "Received: from x by y; Thu, 1 Jan 2026 00:00:00 +0000",
  "From: alice@a.test",
  "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=",
  "MIME-Version: 1.0",
  'Content-Type: multipart/mixed; boundary="b1"',
  "Content-Transfer-Encoding: 8bit",
  "",
  "--b1",
  "Content-Type: text/plain; charset=utf-8",
  "Content-Transfer-Encoding: 8bit",
  "",
  "Grüße aus Köln, ça va? " + "é".repeat(600),
  "--b1",
  "Content-Type: text/plain; charset=us-ascii",
  "",
  "plain ascii stays as it is",
  "--b1",
  "Content-Type: application/octet-stream",
  "Content-Transfer-Encoding: 8bit",
  "",
  "\u00ff\u00fe raw",
  "--b1",
  "Content-Type: message/rfc822",
  "Content-Transfer-Encoding: 8bit",
  "",
  "Subject: inner",
  "Content-Type: text/plain; charset=utf-8",
  "",
  "inner naïve text",
  "--b1--",
  "",
].join("\r\n");

test("a multipart with 8-bit text, an 8-bit attachment and a nested message becomes 7-bit, losslessly", () => {
  const original = Buffer.from(MULTIPART, "utf8");
  const result = downgradeTo7bit(original);
  assert.equal(result.kind, "downgraded");
  if (result.kind !== "downgraded") return;
  assert.ok(isSevenBitWithShortLines(result.bytes));
  const text = result.bytes.toString("latin1");
  assert.ok(text.startsWith("Received: from x by y;"), "the trace prefix is kept in place");
  assert.match(text, /plain ascii stays as it is/);
  assert.equal(text.match(/Content-Transfer-Encoding: 8bit/g), null, "no part is labelled 8bit any more");
  // Every leaf decodes back to its original octets.
  const builder = new MimeTreeBuilder();
  builder.push(result.bytes);
  const { root } = builder.finish();
  const [first, , attachment, nested] = root.children;
  assert.equal(first!.contentTransferEncoding, "quoted-printable");
  assert.equal(decodeQuotedPrintable(text.slice(first!.bodyStart, first!.bodyEnd)).toString("utf8"), "Grüße aus Köln, ça va? " + "é".repeat(600));
  assert.equal(attachment!.contentTransferEncoding, "base64");
  assert.equal(Buffer.from(text.slice(attachment!.bodyStart, attachment!.bodyEnd), "base64").toString("utf8"), "\u00ff\u00fe raw");
  assert.equal(nested!.contentTransferEncoding, "7bit");
  const inner = nested!.encapsulated!.root;
  assert.equal(inner.contentTransferEncoding, "quoted-printable");
  assert.equal(decodeQuotedPrintable(text.slice(inner.bodyStart, inner.bodyEnd)).toString("utf8"), "inner naïve text");
  assert.equal(root.contentTransferEncoding, "7bit");
});

test("a single-part 8-bit message gets quoted-printable and MIME-Version; a 7-bit one is unchanged", () => {
  const result = downgradeTo7bit(Buffer.from("Subject: x\r\n\r\nnaïve\r\n", "utf8"));
  assert.deepEqual(result.kind === "downgraded" && result.bytes.toString(), "Subject: x\r\nMIME-Version: 1.0\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nna=C3=AFve\r\n");
  const plain = Buffer.from("Subject: x\r\n\r\nascii\r\n");
  assert.deepEqual(downgradeTo7bit(plain), { kind: "downgraded", bytes: plain, parts: 0 });
});

test("what cannot be made 7-bit losslessly is refused: 8-bit part headers, 8-bit inside base64", () => {
  const header = downgradeTo7bit(Buffer.from('Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain; name="café.txt"\r\n\r\nx\r\n--b--\r\n', "utf8"));
  assert.equal(header.kind, "refused");
  assert.match(header.kind === "refused" ? header.reason : "", /header of MIME part 1/);
  const base64 = downgradeTo7bit(Buffer.from("Content-Transfer-Encoding: base64\r\n\r\nnaïve\r\n", "utf8"));
  assert.equal(base64.kind, "refused");
});

test("a message past the parser's part limit is refused, not re-encoded with parts buried in its last leaf", () => {
  const parts = "--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\ncafé\r\n".repeat(10_050);
  const result = downgradeTo7bit(Buffer.from(`Content-Type: multipart/mixed; boundary="b"\r\n\r\n${parts}--b--\r\n`, "utf8"));
  assert.equal(result.kind, "refused");
  assert.match(result.kind === "refused" ? result.reason : "", /more than 10000 MIME parts/);
});
