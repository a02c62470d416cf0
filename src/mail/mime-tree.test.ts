import { test } from "node:test";
import assert from "node:assert/strict";
import { readAllMessageFixtures, readMessageFixture } from "../../test/harness/fixtures.js";
import { MimeTreeBuilder, findPart, shiftOffsets, type MimePart, type MimeTreeLimits, type ParsedMessage } from "./mime-tree.js";

function parse(message: Buffer, limits?: MimeTreeLimits): ParsedMessage {
  const builder = new MimeTreeBuilder(limits);
  builder.push(message);
  return builder.finish();
}

function bodyOf(message: Buffer, part: MimePart): string {
  return message.subarray(part.bodyStart, part.bodyEnd).toString("latin1");
}

function headerOf(message: Buffer, part: MimePart): string {
  return message.subarray(part.headerStart, part.headerEnd).toString("latin1");
}

interface ExpectedPart {
  section: string;
  type: string;
  /** Exact body octets (latin1); omitted where a dedicated test checks them. */
  body?: string;
  lines: number;
  header?: string;
  partNumber?: string;
}

// Expected structure per fixture: for every IMAP section, the exact body octets and line count.
const corpus: Record<string, ExpectedPart[]> = {
  "plain.eml": [
    { section: "1", partNumber: "", type: "text/plain", body: "Hi Bob,\r\n\r\nshall we meet at noon?\r\n-- \r\nAlice\r\n", lines: 5 },
  ],
  "alternative.eml": [
    { section: "1", type: "text/plain", body: "Bananas are cheap this week.\r\n", lines: 1,
      header: 'Content-Type: text/plain; charset="us-ascii"\r\nContent-Transfer-Encoding: 7bit\r\n\r\n' },
    { section: "2", type: "text/html", lines: 2,
      body: "<html><body><p>Bananas are <b>cheap</b> this week &amp; next, caf=C3=A9 =\r\nincluded.</p></body></html>" },
  ],
  "mixed-attachment.eml": [
    { section: "1", type: "text/plain", body: "See attached.", lines: 1 },
    { section: "3", type: "text/plain", body: "UXVhcnRlcmx5IG51bWJlcnM6IHJldmVudWUgZ3JldyBieSAxMiUuDQo=", lines: 1 },
  ],
  "nested-rfc822.eml": [
    { section: "1", type: "text/plain", body: "Forwarding this.", lines: 1 },
    { section: "2", type: "message/rfc822", lines: 16 },
    { section: "2.1", type: "text/plain", body: "Plan A", lines: 1, header: "Content-Type: text/plain\r\n\r\n" },
    { section: "2.2", type: "text/html", body: "<p>Plan B</p>", lines: 1 },
  ],
  "bare-lf.eml": [
    { section: "1", type: "text/plain", body: "first part, default type\nsecond line", lines: 2, header: "\n" },
    { section: "2", type: "text/plain", body: "trailing part", lines: 1 },
  ],
  "broken-headers.eml": [{ section: "1", partNumber: "", type: "text/plain", body: "", lines: 0 }],
  "missing-close-boundary.eml": [
    { section: "1", type: "multipart/alternative", lines: 8, body: "--inner\r\nContent-Type: text/plain\r\n\r\ninner one\r\n--inner\r\nContent-Type: text/plain\r\n\r\ninner two" },
    { section: "1.1", type: "text/plain", body: "inner one", lines: 1 },
    { section: "1.2", type: "text/plain", body: "inner two", lines: 1 },
    { section: "2", type: "text/plain", body: "outer two, no close delimiter follows\r\n", lines: 1 },
  ],
  "utf8-headers.eml": [{ section: "1", partNumber: "", type: "text/plain", body: "Sch=F6ne Gr=FC=DFe\r\n", lines: 1 }],
  "digest.eml": [
    { section: "1", type: "message/rfc822", body: "Subject: first digest item\r\n\r\nitem one", lines: 3 },
    { section: "1.1", partNumber: "1", type: "text/plain", body: "item one", lines: 1 },
    { section: "2.1", partNumber: "2", type: "text/plain", body: "item two", lines: 1 },
  ],
};

test("fixture corpus: part numbers, types, exact body and header octets, body lines", async () => {
  const fixtures = await readAllMessageFixtures(import.meta.url);
  for (const name of Object.keys(corpus)) assert.ok(fixtures.has(name), `fixture ${name} is missing`);
  for (const [name, message] of fixtures) {
    const parsed = parse(message);
    assert.equal(parsed.size, message.length, name);
    for (const expected of corpus[name] ?? []) {
      const part = findPart(parsed.root, expected.section);
      assert.ok(part, `${name} ${expected.section}`);
      const label = `${name} section ${expected.section}`;
      assert.equal(`${part.contentType.type}/${part.contentType.subtype}`, expected.type, label);
      if (expected.body !== undefined) assert.equal(bodyOf(message, part), expected.body, label);
      assert.equal(part.bodyLines, expected.lines, label);
      assert.equal(part.partNumber, expected.partNumber ?? expected.section, label);
      if (expected.header !== undefined) assert.equal(headerOf(message, part), expected.header, label);
    }
  }
});

test("a multipart's part header starts right after its delimiter line", async () => {
  const message = await readMessageFixture(import.meta.url, "alternative.eml");
  const { root } = parse(message);
  const first = root.children[0];
  assert.ok(first);
  const delimiter = "--=_alt_42\r\n";
  assert.equal(first.headerStart, message.indexOf(delimiter) + delimiter.length);
  assert.equal(root.headerEnd, message.indexOf("\r\n\r\n") + 4);
  assert.equal(root.bodyEnd, message.length, "the multipart body runs to the end, epilogue included");
  assert.equal(root.contentType.params.boundary, "=_alt_42");
});

test("RFC 2231 parameters, disposition and content fields", async () => {
  const message = await readMessageFixture(import.meta.url, "mixed-attachment.eml");
  const pdf = findPart(parse(message).root, "2");
  assert.ok(pdf);
  assert.deepEqual(pdf.contentType, { type: "application", subtype: "pdf", params: { name: "report.pdf" } });
  assert.deepEqual(pdf.disposition, { type: "attachment", params: { filename: "résumé final.pdf" } });
  assert.equal(pdf.contentTransferEncoding, "base64");
  assert.equal(pdf.contentId, "<pdf1@example.net>");
  assert.equal(pdf.contentDescription, "The report");
  assert.deepEqual(pdf.contentLanguage, ["en", "fr"]);
  assert.equal(pdf.bodyLines, 3);
  const text = findPart(parse(message).root, "3");
  assert.equal(text?.contentTransferEncoding, "base64", "lower-cased");
});

test("message/rfc822: encapsulated envelope and tree, numbered under the message part", async () => {
  const message = await readMessageFixture(import.meta.url, "nested-rfc822.eml");
  const forwarded = findPart(parse(message).root, "2");
  assert.ok(forwarded?.encapsulated);
  const { envelope, root } = forwarded.encapsulated;
  assert.equal(envelope.subject, "Plans");
  assert.equal(envelope.messageId, "<inner@example.org>");
  assert.equal(envelope.inReplyTo, "<earlier@example.org>");
  assert.deepEqual(envelope.from, [{ name: "Frank", adl: null, mailbox: "frank", host: "example.org" }]);
  assert.equal(root.partNumber, "2");
  assert.equal(root.headerStart, forwarded.bodyStart);
  assert.equal(root.bodyEnd, forwarded.bodyEnd);
  assert.ok(bodyOf(message, forwarded).startsWith("From: Frank"));
  assert.ok(bodyOf(message, forwarded).endsWith("--b2--\r\n"));
  assert.deepEqual(root.children.map((c) => c.partNumber), ["2.1", "2.2"]);
});

test("multipart/digest parts default to message/rfc822", async () => {
  const message = await readMessageFixture(import.meta.url, "digest.eml");
  const parsed = parse(message);
  assert.deepEqual(parsed.root.children.map((c) => `${c.contentType.type}/${c.contentType.subtype}`), ["message/rfc822", "message/rfc822"]);
  assert.equal(parsed.root.children[1]?.encapsulated?.envelope.subject, "second digest item");
});

test("a header without an empty line: all header, empty body", async () => {
  const message = await readMessageFixture(import.meta.url, "broken-headers.eml");
  const parsed = parse(message);
  assert.equal(parsed.root.headerEnd, message.length);
  assert.equal(parsed.root.bodyStart, message.length);
  assert.equal(parsed.envelope.subject, "café latin-1 byte");
  assert.deepEqual(parsed.envelope.to, [{ name: "Jane Doe", adl: null, mailbox: "jane", host: "example.com" }]);
  assert.equal(parsed.root.contentType.params.charset, "us-ascii", "an empty charset is the default one");
});

test("search text: decoded headers and text bodies (base64, quoted-printable, charsets, HTML)", async () => {
  const fixtures = await readAllMessageFixtures(import.meta.url);
  const text = (name: string): string => parse(fixtures.get(name) ?? Buffer.alloc(0)).searchText;
  const utf8 = text("utf8-headers.eml");
  assert.match(utf8, /José García/);
  assert.match(utf8, /Grüße aus München/);
  assert.match(utf8, /Schöne Grüße/);
  const html = text("alternative.eml");
  assert.match(html, /Bananas are +cheap +this week & next, café included\./);
  assert.doesNotMatch(html, /<b>/);
  const mixed = text("mixed-attachment.eml");
  assert.match(mixed, /revenue grew by 12%/);
  assert.doesNotMatch(mixed, /PDF-1\.4/, "non-text attachments are not decoded into search text");
  assert.match(text("nested-rfc822.eml"), /Plan A[\s\S]*Plan B/);
});

test("search text is capped in UTF-8 octets without splitting a character", () => {
  const message = Buffer.from(`Subject: x\r\n\r\n${"é".repeat(1000)}\r\n`);
  const parsed = parse(message, { maxSearchTextBytes: 101 });
  assert.ok(Buffer.byteLength(parsed.searchText) <= 101);
  assert.ok(parsed.searchText.endsWith("é"));
});

test("findPart: single-part messages, out-of-range and malformed sections", async () => {
  const plain = parse(await readMessageFixture(import.meta.url, "plain.eml")).root;
  assert.equal(findPart(plain, ""), plain);
  assert.equal(findPart(plain, "1"), plain);
  for (const bad of ["2", "1.1", "0", "01", "1.", "a", "-1", "1..2"]) assert.equal(findPart(plain, bad), null, bad);
  const nested = parse(await readMessageFixture(import.meta.url, "nested-rfc822.eml")).root;
  assert.equal(findPart(nested, "3"), null);
  assert.equal(findPart(nested, "2.3"), null);
  assert.equal(findPart(nested, "1.1"), null, "a text part inside a multipart has no sub-parts");
});

test("findPart: a top-level message/rfc822 has its encapsulated parts under 1", () => {
  const message = Buffer.from("Content-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\nhello\r\n");
  const root = parse(message).root;
  assert.equal(findPart(root, "1"), root);
  const inner = findPart(root, "1.1");
  assert.equal(inner?.partNumber, "1");
  assert.equal(inner && bodyOf(message, inner), "hello\r\n");
});

test("shiftOffsets: deep copy with every offset moved, root header still at 0", async () => {
  const message = await readMessageFixture(import.meta.url, "nested-rfc822.eml");
  const { root } = parse(message);
  const prefix = Buffer.from("Received: by test\r\n");
  const shifted = shiftOffsets(root, prefix.length);
  const whole = Buffer.concat([prefix, message]);
  assert.equal(shifted.headerStart, 0);
  assert.equal(shifted.headerEnd, root.headerEnd + prefix.length);
  for (const section of ["1", "2", "2.1", "2.2"]) {
    const before = findPart(root, section);
    const after = findPart(shifted, section);
    assert.ok(before && after);
    assert.equal(bodyOf(whole, after), bodyOf(message, before), section);
    assert.equal(headerOf(whole, after), headerOf(message, before), section);
  }
  const copiedParams = shifted.children[0]?.contentType.params;
  assert.ok(copiedParams);
  copiedParams.charset = "changed";
  assert.equal(root.children[0]?.contentType.params.charset, "us-ascii", "the copy shares nothing");
});

test("an 8-bit boundary matches in a UTF-8 and in a Latin-1 header", () => {
  for (const encoding of ["utf8", "latin1"] as const) {
    const message = Buffer.from("Content-Type: multipart/mixed; boundary=\"bé\"\r\n\r\n--bé\r\n\r\none\r\n--bé--\r\n", encoding);
    const part = findPart(parse(message).root, "1");
    assert.equal(part && bodyOf(message, part), "one", encoding);
  }
});

test("past maxParts the last part holds the rest of the message, outer delimiters included (as Dovecot)", () => {
  const message = Buffer.from(
    [
      "Content-Type: multipart/mixed; boundary=outer",
      "",
      "--outer",
      "Content-Type: multipart/mixed; boundary=inner",
      "",
      "--inner",
      "Content-Type: text/plain",
      "",
      "first",
      "--inner",
      "Content-Type: text/plain",
      "",
      "second",
      "--inner--",
      "--outer",
      "Content-Type: text/plain",
      "",
      "third",
      "--outer--",
      "",
    ].join("\r\n"),
  );
  const parsed = parse(message, { maxParts: 4 });
  const root = parsed.root;
  assert.equal(root.children.length, 1, "the outer multipart never gets its second part");
  const inner = root.children[0]!;
  assert.deepEqual(inner.children.map((part) => part.partNumber), ["1.1", "1.2"]);
  const last = inner.children[1]!;
  assert.equal(bodyOf(message, last), "second\r\n--inner--\r\n--outer\r\nContent-Type: text/plain\r\n\r\nthird\r\n--outer--\r\n");
  assert.equal(last.bodyLines, 7);
  assert.equal(last.bodyEnd, message.length);
  assert.equal(inner.bodyEnd, message.length);
  assert.equal(findPart(root, "2"), null);
  // Nothing past the limit becomes a part, however it is typed.
  const attached = Buffer.from("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: x\r\n\r\nbody\r\n--b--\r\n");
  const capped = parse(attached, { maxParts: 2 });
  assert.equal(capped.root.children.length, 1);
  assert.equal(capped.root.children[0]!.encapsulated, null, "the message/rfc822 part that reached the limit is a leaf");
});

test("the default limits: a 20,000-part message keeps 1,000 parts and is never refused", () => {
  const parts = Array.from({ length: 200 }, (_, o) => `--o\r\nContent-Type: multipart/mixed; boundary=i${o}\r\n\r\n` + `--i${o}\r\nContent-Type: text/plain\r\n\r\nx\r\n`.repeat(100) + `--i${o}--\r\n`);
  const message = Buffer.from(`Content-Type: multipart/mixed; boundary=o\r\n\r\n${parts.join("")}--o--\r\n`);
  const parsed = parse(message);
  let count = 0;
  const visit = (part: MimePart): void => {
    count++;
    part.children.forEach(visit);
  };
  visit(parsed.root);
  assert.equal(count, 1000);
  assert.equal(parsed.size, message.length);
  assert.equal(parsed.root.bodyEnd, message.length);
});
