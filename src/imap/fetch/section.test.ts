import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { describe, it } from "node:test";
import { MimeTreeBuilder, shiftOffsets, type MimePart } from "../../mail/mime-tree.js";
import type { ByteRange } from "../../store/index.js";
import { readMessageFixture } from "../../../test/harness/fixtures.js";
import { ArgumentReader } from "../protocol/arguments.js";
import { readFetchRequest, type Partial, type Section } from "../protocol/fetch-item.js";
import type { ImapValue } from "../protocol/response-value.js";
import { binarySize, binaryValue, locateSection, sectionValue, UnknownCteError, type OpenRange } from "./section.js";

/** A message as the store would hold it: optional trace prefix, structure shifted past it. */
function stored(raw: Buffer | string, prefix = ""): { bytes: Buffer; root: MimePart; open: OpenRange; reads: ByteRange[] } {
  const blob = Buffer.from(raw);
  const builder = new MimeTreeBuilder();
  builder.push(blob);
  const parsed = builder.finish();
  const bytes = Buffer.concat([Buffer.from(prefix), blob]);
  const reads: ByteRange[] = [];
  // Small chunks, so every consumer is exercised across chunk boundaries.
  const open: OpenRange = (range) => {
    reads.push(range);
    const slice = bytes.subarray(range.start, range.end);
    const chunks: Buffer[] = [];
    for (let at = 0; at < slice.length; at += 7) chunks.push(slice.subarray(at, at + 7));
    return Readable.from(chunks);
  };
  return { bytes, root: prefix === "" ? parsed.root : shiftOffsets(parsed.root, prefix.length), open, reads };
}

/** The octets of a value (literal or string), and whether it is literal8. */
async function octets(value: ImapValue): Promise<{ text: string; binary: boolean; kind: string }> {
  if (value.kind === "string") return { text: Buffer.from(value.value).toString("latin1"), binary: false, kind: "string" };
  assert.equal(value.kind, "literal");
  if (value.kind !== "literal") throw new Error("unreachable");
  const chunks: Buffer[] = [];
  if (Buffer.isBuffer(value.bytes)) chunks.push(value.bytes);
  else for await (const chunk of value.bytes()) chunks.push(chunk as Buffer);
  const all = Buffer.concat(chunks);
  assert.equal(all.length, value.size, "a literal's size is the number of octets it streams");
  return { text: all.toString("latin1"), binary: value.binary === true, kind: "literal" };
}

function sectionOf(spec: string): { section: Section; partial: Partial | null } {
  const item = readFetchRequest(ArgumentReader.ofLine(spec), false).items[0];
  if (item?.kind !== "body-section") throw new Error(`not a section: ${spec}`);
  return { section: item.section, partial: item.partial };
}

async function fetchSection(message: ReturnType<typeof stored>, spec: string): Promise<string> {
  const { section, partial } = sectionOf(spec);
  const value = await sectionValue(locateSection(message.root, message.bytes.length, section), partial, message.open);
  return (await octets(value)).text;
}

const PREFIX = "Return-Path: <bob@example.net>\r\nReceived: from x by y; Tue, 4 Mar 2025 10:00:00 +0000\r\n";

describe("BODY[section] octets from stored offsets", async () => {
  const nested = stored(await readMessageFixture(import.meta.url, "nested-rfc822.eml"), PREFIX);
  const text = nested.bytes.toString("latin1");
  const inner = text.slice(text.indexOf("From: Frank"), text.indexOf("\r\n--b1--"));

  it("BODY[] is the whole logical message, prefix included", async () => {
    assert.equal(await fetchSection(nested, "BODY[]"), text);
  });

  it("HEADER ends with the blank line; TEXT is the rest", async () => {
    const cut = text.indexOf("\r\n\r\n") + 4;
    assert.equal(await fetchSection(nested, "BODY[HEADER]"), text.slice(0, cut));
    assert.equal(await fetchSection(nested, "BODY[TEXT]"), text.slice(cut));
  });

  it("part numbers, MIME headers, and the encapsulated message's HEADER and TEXT", async () => {
    assert.equal(await fetchSection(nested, "BODY[1]"), "Forwarding this.");
    assert.equal(await fetchSection(nested, "BODY[1.MIME]"), "Content-Type: text/plain\r\n\r\n");
    assert.equal(await fetchSection(nested, "BODY[2.MIME]"), "Content-Type: message/rfc822\r\n\r\n");
    assert.equal(await fetchSection(nested, "BODY[2]"), inner);
    assert.equal(await fetchSection(nested, "BODY[2.HEADER]"), inner.slice(0, inner.indexOf("\r\n\r\n") + 4));
    assert.equal(await fetchSection(nested, "BODY[2.TEXT]"), inner.slice(inner.indexOf("\r\n\r\n") + 4));
    assert.equal(await fetchSection(nested, "BODY[2.1]"), "Plan A");
    assert.equal(await fetchSection(nested, "BODY[2.2]"), "<p>Plan B</p>");
    assert.equal(await fetchSection(nested, "BODY[2.2.MIME]"), "Content-Type: text/html\r\n\r\n");
  });

  it("reads only the octets of the section", async () => {
    nested.reads.length = 0;
    await fetchSection(nested, "BODY[2.2]");
    assert.equal(nested.reads.length, 1);
    const range = nested.reads[0];
    assert.equal(nested.bytes.subarray(range?.start, range?.end).toString(), "<p>Plan B</p>");
  });

  it("gives an empty string for missing parts and meaningless specifiers", async () => {
    for (const spec of ["BODY[3]", "BODY[1.1]", "BODY[9.HEADER]", "BODY[1.HEADER]", "BODY[1.TEXT]", "BODY[2.1.HEADER]", "BODY[2.3.MIME]"]) {
      const { section, partial } = sectionOf(spec);
      const value = await sectionValue(locateSection(nested.root, nested.bytes.length, section), partial, nested.open);
      assert.deepEqual(value, { kind: "string", value: "" }, spec);
    }
  });

  it("partials: a window of the section, truncated at its end, empty past it", async () => {
    assert.equal(await fetchSection(nested, "BODY[2.1]<2.3>"), "an ");
    assert.equal(await fetchSection(nested, "BODY[2.1]<0.2048>"), "Plan A");
    assert.equal(await fetchSection(nested, "BODY[2.1]<4.100>"), " A");
    assert.equal(await fetchSection(nested, "BODY[2.1]<6.1>"), "");
    assert.equal(await fetchSection(nested, "BODY[]<0.12>"), text.slice(0, 12));
    assert.equal(await fetchSection(nested, `BODY[]<${text.length - 3}.10>`), text.slice(-3));
  });
});

describe("single-part messages (RFC 9051 §6.4.5: the body is part 1)", async () => {
  const plain = stored(await readMessageFixture(import.meta.url, "plain.eml"));
  const body = "Hi Bob,\r\n\r\nshall we meet at noon?\r\n-- \r\nAlice\r\n";
  it("BODY[1] and BODY[TEXT] are the body", async () => {
    assert.equal(await fetchSection(plain, "BODY[1]"), body);
    assert.equal(await fetchSection(plain, "BODY[TEXT]"), body);
    assert.equal(await fetchSection(plain, "BODY[2]"), "");
  });
  it("a header-only message has no blank line to add", async () => {
    const headerOnly = stored("Subject: nothing\r\nFrom: a@b.example\r\n");
    assert.equal(await fetchSection(headerOnly, "BODY[HEADER]"), "Subject: nothing\r\nFrom: a@b.example\r\n");
    assert.equal(await fetchSection(headerOnly, "BODY[HEADER.FIELDS (FROM)]"), "From: a@b.example\r\n");
    assert.equal(await fetchSection(headerOnly, "BODY[TEXT]"), "");
  });
});

describe("HEADER.FIELDS and HEADER.FIELDS.NOT", async () => {
  const plain = stored(await readMessageFixture(import.meta.url, "plain.eml"), PREFIX);
  it("keeps matching fields with their original bytes and folding, then the blank line", async () => {
    assert.equal(await fetchSection(plain, "BODY[HEADER.FIELDS (subject FROM)]"), "From: Alice Example <alice@example.org>\r\nSubject: Lunch\r\n on Friday\r\n\r\n");
    assert.equal(await fetchSection(plain, "BODY[HEADER.FIELDS (X-None)]"), "\r\n");
  });
  it("NOT keeps the others, trace prefix included", async () => {
    assert.equal(
      await fetchSection(plain, "BODY[HEADER.FIELDS.NOT (Subject Received Date From Message-ID)]"),
      "Return-Path: <bob@example.net>\r\nReturn-Path: <alice@example.org>\r\nTo: bob@example.net\r\n\r\n",
    );
  });
  it("partial is counted after subsetting", async () => {
    assert.equal(await fetchSection(plain, "BODY[HEADER.FIELDS (To)]<4.6>"), "bob@ex");
    assert.equal(await fetchSection(plain, "BODY[HEADER.FIELDS (To)]<100.6>"), "");
  });
  it("works on an encapsulated message and skips lines that are not fields", async () => {
    const nested = stored(await readMessageFixture(import.meta.url, "nested-rfc822.eml"));
    assert.equal(await fetchSection(nested, "BODY[2.HEADER.FIELDS (Message-ID In-Reply-To)]"), "Message-ID: <inner@example.org>\r\nIn-Reply-To: <earlier@example.org>\r\n\r\n");
    const broken = stored(await readMessageFixture(import.meta.url, "broken-headers.eml"));
    const kept = await fetchSection(broken, "BODY[HEADER.FIELDS.NOT (X-Long Subject)]");
    assert.equal(kept, "From: ivan@example.com\r\nTo: (nobody) jane@example.com (Jane Doe)\r\nContent-Type: text/plain; charset=\r\n");
  });
  it("keeps bare-LF line ends as they are", async () => {
    const lf = stored(await readMessageFixture(import.meta.url, "bare-lf.eml"));
    assert.equal(await fetchSection(lf, "BODY[HEADER.FIELDS (to subject)]"), "To: hank@example.com\nSubject: Unix line ends\n\n");
  });
});

describe("BINARY and BINARY.SIZE (RFC 3516)", async () => {
  const mixed = stored(await readMessageFixture(import.meta.url, "mixed-attachment.eml"), PREFIX);
  const pdfBase64 = mixed.bytes.toString("latin1").split("Content-Language: en, fr\r\n\r\n")[1]?.split("\r\n--outer-boundary")[0] ?? "";
  const pdf = Buffer.from(pdfBase64, "base64");

  it("decodes a base64 part to its original octets, sized exactly", async () => {
    const value = await binaryValue(mixed.root, mixed.bytes.length, [2], null, mixed.open);
    assert.equal((await octets(value)).text, pdf.toString("latin1"));
    assert.equal(await binarySize(mixed.root, mixed.bytes.length, [2], mixed.open), pdf.length);
    const window = await binaryValue(mixed.root, mixed.bytes.length, [2], { start: 4, length: 10 }, mixed.open);
    assert.equal((await octets(window)).text, pdf.subarray(4, 14).toString("latin1"));
  });

  it("uppercase BASE64 and quoted-printable", async () => {
    const value = await binaryValue(mixed.root, mixed.bytes.length, [3], null, mixed.open);
    assert.equal((await octets(value)).text, "Quarterly numbers: revenue grew by 12%.\r\n");
    const alt = stored(await readMessageFixture(import.meta.url, "alternative.eml"));
    const html = await binaryValue(alt.root, alt.bytes.length, [2], null, alt.open);
    assert.equal(Buffer.from((await octets(html)).text, "latin1").toString("utf8"), "<html><body><p>Bananas are <b>cheap</b> this week &amp; next, café included.</p></body></html>");
  });

  it("identity encodings are the raw part; BINARY[] the whole message", async () => {
    assert.equal((await octets(await binaryValue(mixed.root, mixed.bytes.length, [1], null, mixed.open))).text, "See attached.");
    assert.equal(await binarySize(mixed.root, mixed.bytes.length, [1], mixed.open), 13);
    assert.equal((await octets(await binaryValue(mixed.root, mixed.bytes.length, [], null, mixed.open))).text, mixed.bytes.toString("latin1"));
  });

  it("uses literal8 only when the decoded octets hold NUL", async () => {
    const withNul = stored("Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nAAECAw==\r\n");
    const value = await binaryValue(withNul.root, withNul.bytes.length, [1], null, withNul.open);
    assert.deepEqual(await octets(value), { text: "\x00\x01\x02\x03", binary: true, kind: "literal" });
    const noNul = await binaryValue(mixed.root, mixed.bytes.length, [3], null, mixed.open);
    assert.equal((await octets(noNul)).binary, false);
  });

  it("refuses an unknown transfer encoding with UnknownCteError", async () => {
    const uu = stored("Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 x\r\n");
    await assert.rejects(binaryValue(uu.root, uu.bytes.length, [1], null, uu.open), UnknownCteError);
    await assert.rejects(binarySize(uu.root, uu.bytes.length, [1], uu.open), UnknownCteError);
  });

  it("a missing part is an empty string of size 0", async () => {
    assert.deepEqual(await binaryValue(mixed.root, mixed.bytes.length, [7], null, mixed.open), { kind: "string", value: "" });
    assert.equal(await binarySize(mixed.root, mixed.bytes.length, [7], mixed.open), 0);
  });
});

describe("NUL octets in non-BINARY sections (RFC 9051 §4.3: a literal holds no NUL)", () => {
  const raw = Buffer.concat([
    Buffer.from("Subject: nul\r\nX-Odd: a\0b\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Transfer-Encoding: binary\r\n\r\n"),
    Buffer.from([0, 1, 0, 0, 2]),
    Buffer.from("\r\n--b\r\nContent-Transfer-Encoding: 8bit\r\n\r\nx\0y\r\n--b--\r\n"),
  ]);
  const message = stored(raw);
  const whole = message.bytes;

  it("BODY[], BODY[n], partials and HEADER.FIELDS replace each NUL by 0x80, streamed or sliced from a read-ahead copy", async () => {
    for (const spec of ["BODY[]", "BODY[1]", "BODY[1]<1.3>", "BODY[2]", "BODY[HEADER.FIELDS (X-Odd)]", "BODY[TEXT]"]) {
      const { section, partial } = sectionOf(spec);
      const source = locateSection(message.root, whole.length, section);
      for (const readAhead of [null, whole]) {
        const value = await sectionValue(source, partial, message.open, readAhead);
        const { text, binary } = await octets(value);
        assert.ok(!text.includes("\0"), `${spec} (read ahead: ${readAhead !== null}) has no NUL`);
        assert.equal(binary, false, `${spec} is a plain literal`);
      }
    }
    assert.equal(await fetchSection(message, "BODY[1]"), "\x80\x01\x80\x80\x02");
    assert.equal(await fetchSection(message, "BODY[1]<1.3>"), "\x01\x80\x80");
    assert.equal(await fetchSection(message, "BODY[HEADER.FIELDS (X-Odd)]"), "X-Odd: a\x80b\r\n\r\n");
    assert.equal((await fetchSection(message, "BODY[]")).length, raw.length, "same size as RFC822.SIZE");
  });

  it("BINARY gives the octets back as literal8, also for a 7bit/8bit part that holds NUL", async () => {
    for (const readAhead of [null, whole]) {
      const one = await octets(await binaryValue(message.root, whole.length, [1], null, message.open, readAhead));
      assert.deepEqual(one, { text: "\0\x01\0\0\x02", binary: true, kind: "literal" });
      const two = await octets(await binaryValue(message.root, whole.length, [2], null, message.open, readAhead));
      assert.deepEqual(two, { text: "x\0y", binary: true, kind: "literal" });
    }
  });
});
