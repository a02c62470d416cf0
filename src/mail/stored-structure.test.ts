import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { readAllMessageFixtures } from "../../test/harness/fixtures.js";
import { MimeTreeBuilder, shiftOffsets, type MimePart } from "./mime-tree.js";
import { decodeStructure, encodeStructure } from "./stored-structure.js";

function tree(message: Buffer | string): MimePart {
  const builder = new MimeTreeBuilder();
  builder.push(Buffer.from(message));
  return builder.finish().root;
}

/** Every field a MIME part can carry, an encapsulated message inside an encapsulated message. */
const RICH = [
  "From: a@example.org",
  "Subject: outer",
  "MIME-Version: 1.0",
  'Content-Type: multipart/mixed; boundary="x"',
  "",
  "--x",
  "Content-Type: text/plain; charset=utf-8; format=flowed",
  "Content-Transfer-Encoding: quoted-printable",
  "Content-ID: <id1@example.org>",
  "Content-Description: the text",
  "Content-Language: en, de",
  "Content-Location: http://example.org/a",
  "Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==",
  "Content-Disposition: inline; filename*=utf-8''%C3%A9t%C3%A9.txt",
  "",
  "caf=C3=A9",
  "--x",
  "Content-Type: message/rfc822",
  "",
  "Subject: inner",
  "Content-Type: message/rfc822",
  "",
  "Subject: innermost",
  "From: b@example.org",
  "",
  "deep",
  "--x",
  "Content-Type: multipart/digest; boundary=d",
  "",
  "--d",
  "",
  "Subject: digested",
  "",
  "one",
  "--d--",
  "--x--",
  "",
].join("\r\n");

test("the stored form gives back the same tree, part numbers included, for every fixture", async () => {
  const messages = [...(await readAllMessageFixtures(import.meta.url)).values(), Buffer.from(RICH)];
  for (const message of messages) {
    const root = tree(message);
    const text = encodeStructure(root);
    assert.deepEqual(decodeStructure(text), root);
    // A stored prefix (trace fields) moves every offset but the root's start.
    assert.deepEqual(decodeStructure(text, 123), shiftOffsets(root, 123));
  }
  const rich = tree(RICH);
  assert.equal(rich.children[1]?.encapsulated?.root.encapsulated?.root.partNumber, "2.1", "the message inside an attached message is part 2.1");
  assert.deepEqual(decodeStructure(encodeStructure(rich)).children[1]?.encapsulated?.root.encapsulated?.envelope.subject, "innermost");
});

test("rows written as plain JSON before the compact form still read, shifted the same way", async () => {
  for (const message of (await readAllMessageFixtures(import.meta.url)).values()) {
    const root = tree(message);
    assert.deepEqual(decodeStructure(JSON.stringify(root)), root);
    assert.deepEqual(decodeStructure(JSON.stringify(root), 57), shiftOffsets(root, 57));
  }
});

test("any message round-trips through the stored form (property)", () => {
  const line = fc.constantFrom(
    "Content-Type: multipart/mixed; boundary=a",
    "Content-Type: message/rfc822",
    "Content-Type: text/html; charset=iso-8859-1; name=\"x y\"",
    "Content-Transfer-Encoding: base64",
    "Content-Disposition: attachment; filename=r.pdf",
    "Content-ID: <i@d>",
    "Content-Language: fr",
    "Subject: =?utf-8?B?w6k=?=",
    "--a",
    "--a--",
    "",
    "",
    "text",
  );
  fc.assert(
    fc.property(fc.array(line, { maxLength: 40 }), fc.nat({ max: 5000 }), (lines, shift) => {
      const root = tree(lines.join("\r\n"));
      const text = encodeStructure(root);
      assert.deepEqual(decodeStructure(text, shift), shift === 0 ? root : shiftOffsets(root, shift));
    }),
    { numRuns: 300 },
  );
});

test("the stored form is compact: a 1,000-part tree takes a fraction of its JSON", () => {
  const bomb = "Content-Type: multipart/mixed; boundary=m\r\n\r\n" + "--m\r\nContent-Type: text/plain\r\n\r\nx\r\n".repeat(20_000) + "--m--\r\n";
  const root = tree(bomb);
  assert.equal(root.children.length, 999, "the default limit: 1,000 parts with the root");
  const compact = encodeStructure(root).length;
  const plain = JSON.stringify(root).length;
  assert.ok(compact < 64 * 1024, `${compact} octets`);
  assert.ok(compact * 5 < plain, `${compact} octets against ${plain} as plain JSON`);
});
