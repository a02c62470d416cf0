import assert from "node:assert/strict";
import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { MimeTreeBuilder, shiftOffsets, type MimePart } from "../../mail/mime-tree.js";
import { findRepositoryRoot, readMessageFixture } from "../../../test/harness/fixtures.js";
import { renderBody, renderBodyStructure } from "./body-structure.js";
import { valueText } from "./value-text.js";

const parse = (bytes: Buffer | string, chunks: number[] = []): MimePart => {
  const builder = new MimeTreeBuilder();
  const data = Buffer.from(bytes);
  let at = 0;
  for (const size of chunks) {
    if (at >= data.length) break;
    builder.push(data.subarray(at, at + size));
    at += size;
  }
  builder.push(data.subarray(at));
  return builder.finish().root;
};

const goldenDir = join(findRepositoryRoot(import.meta.url), "test", "fixtures", "bodystructure");

async function goldens(): Promise<{ message: string; bodystructure: string; body: string }[]> {
  const files = (await readdir(goldenDir)).filter((name) => name.endsWith(".eml.txt")).sort();
  const result = [];
  for (const file of files) {
    const [bodystructure = "", body = ""] = (await readFile(join(goldenDir, file), "utf8")).split("\n");
    result.push({ message: file.slice(0, -".txt".length), bodystructure, body });
  }
  return result;
}

describe("BODYSTRUCTURE and BODY against the hand-written goldens", async () => {
  const expected = await goldens();
  it("covers the corpus", () => assert.ok(expected.length >= 9, `only ${expected.length} golden files`));
  for (const { message, bodystructure, body } of expected) {
    it(message, async () => {
      const root = parse(await readMessageFixture(import.meta.url, message));
      assert.equal(valueText(renderBodyStructure(root)), bodystructure);
      assert.equal(valueText(renderBody(root)), body);
    });
  }
});

describe("BODYSTRUCTURE does not depend on how the message was stored", () => {
  it("is identical for every chunking at delivery", async () => {
    for (const name of ["mixed-attachment.eml", "nested-rfc822.eml", "bare-lf.eml", "digest.eml"]) {
      const bytes = await readMessageFixture(import.meta.url, name);
      const whole = valueText(renderBodyStructure(parse(bytes)));
      fc.assert(
        fc.property(fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 60 }), (chunks) => {
          assert.equal(valueText(renderBodyStructure(parse(bytes, chunks))), whole);
        }),
        { numRuns: 150 },
      );
    }
  });

  it("is identical when a trace prefix moved every offset", async () => {
    const root = parse(await readMessageFixture(import.meta.url, "nested-rfc822.eml"));
    assert.equal(valueText(renderBodyStructure(shiftOffsets(root, 137))), valueText(renderBodyStructure(root)));
  });
});

describe("BODYSTRUCTURE edge cases", () => {
  it("gives a multipart without parts one empty text/plain part (1*body)", () => {
    const noBoundary = parse("Content-Type: multipart/mixed\r\n\r\nno parts here\r\n");
    assert.equal(valueText(renderBody(noBoundary)), '(("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 0 0) "MIXED")');
    const noDelimiter = parse('Content-Type: multipart/related; boundary="zz"\r\n\r\nnothing\r\n');
    assert.equal(
      valueText(renderBodyStructure(noDelimiter)),
      '(("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 0 0) "RELATED" ("BOUNDARY" "zz") NIL NIL NIL)',
    );
  });

  it("keeps the message shape for a message/rfc822 part that was not parsed (base64)", () => {
    const root = parse(
      "Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\nU3ViamVjdDogaGkNCg0KYm9keQ==\r\n--x--\r\n",
    );
    assert.equal(
      valueText(renderBody(root)),
      '(("MESSAGE" "RFC822" NIL NIL NIL "BASE64" 28 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) ("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 0 0) 1) "MIXED")',
    );
  });

  it("renders a single-part message/rfc822 top level with its encapsulated message", () => {
    const root = parse("Content-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\nhello\r\n");
    assert.equal(
      valueText(renderBody(root)),
      '("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 25 (NIL "inner" NIL NIL NIL NIL NIL NIL NIL NIL) ("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 7 1) 3)',
    );
  });

  it("sends message/partial and other message types as basic parts (no envelope)", () => {
    const root = parse("Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x\r\n");
    assert.equal(valueText(renderBody(root)), '("MESSAGE" "DELIVERY-STATUS" NIL NIL NIL "7BIT" 23)');
  });

  it("renders one language as a string, MD5 and location as strings, a missing field as NIL", () => {
    const root = parse(
      "Content-Type: image/png\r\nContent-Language: de\r\nContent-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\r\nContent-Location: http://x.example/a.png\r\nContent-Disposition: inline\r\n\r\n",
    );
    assert.equal(
      valueText(renderBodyStructure(root)),
      '("IMAGE" "PNG" NIL NIL NIL "7BIT" 0 "Q2hlY2sgSW50ZWdyaXR5IQ==" ("INLINE" NIL) "de" "http://x.example/a.png")',
    );
  });

  it("falls back to text/plain for a broken Content-Type", () => {
    const root = parse("Content-Type: ???\r\n\r\nx");
    assert.equal(valueText(renderBody(root)), '("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 1 1)');
  });
});
