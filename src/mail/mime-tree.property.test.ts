// Properties of the MIME tree builder: the result never depends on chunking, hostile input never
// throws, and offsets always nest inside the message and inside their parent.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { readAllMessageFixtures } from "../../test/harness/fixtures.js";
import { MimeTreeBuilder, type MimePart, type MimeTreeLimits, type ParsedMessage } from "./mime-tree.js";

function parseChunks(chunks: readonly Buffer[], limits?: MimeTreeLimits): ParsedMessage {
  const builder = new MimeTreeBuilder(limits);
  for (const chunk of chunks) builder.push(chunk);
  return builder.finish();
}

/** Cuts a message at the given (unsorted, possibly repeated) positions. */
function splitAt(message: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (message.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let last = 0;
  for (const point of points) {
    chunks.push(message.subarray(last, point));
    last = point;
  }
  chunks.push(message.subarray(last));
  return chunks;
}

/** Lines of a body as the builder defines them: line feeds, plus a final line without one. */
function countLines(body: Buffer): number {
  let lines = 0;
  for (const byte of body) if (byte === 0x0a) lines++;
  return body.length > 0 && body[body.length - 1] !== 0x0a ? lines + 1 : lines;
}

function assertNested(message: Buffer, part: MimePart, low: number, high: number): void {
  const where = `part "${part.partNumber}"`;
  assert.ok(low <= part.headerStart, where);
  assert.ok(part.headerStart <= part.headerEnd, where);
  assert.ok(part.headerEnd <= part.bodyStart, where);
  assert.ok(part.bodyStart <= part.bodyEnd, where);
  assert.ok(part.bodyEnd <= high, where);
  assert.equal(part.bodyLines, countLines(message.subarray(part.bodyStart, part.bodyEnd)), `${where} lines`);
  let previousEnd = part.bodyStart;
  for (const child of part.children) {
    assertNested(message, child, previousEnd, part.bodyEnd);
    previousEnd = child.bodyEnd;
  }
  if (part.encapsulated) assertNested(message, part.encapsulated.root, part.bodyStart, part.bodyEnd);
}

function assertWellFormed(message: Buffer, parsed: ParsedMessage, maxSearchTextBytes = 1024 * 1024): void {
  assert.equal(parsed.size, message.length);
  assert.equal(parsed.root.headerStart, 0);
  assert.equal(parsed.root.bodyEnd, message.length);
  assertNested(message, parsed.root, 0, message.length);
  assert.ok(Buffer.byteLength(parsed.searchText) <= maxSearchTextBytes);
}

// Lines that exercise the grammar: delimiters of two nested boundaries, content fields, blank lines.
const mimeLine = fc.constantFrom(
  "Content-Type: multipart/mixed; boundary=a",
  "Content-Type: multipart/alternative; boundary=\"b\"",
  "Content-Type: multipart/digest; boundary=a",
  "Content-Type: message/rfc822",
  "Content-Type: text/html; charset=iso-8859-1",
  "Content-Transfer-Encoding: base64",
  "Content-Transfer-Encoding: quoted-printable",
  "Content-Disposition: attachment; filename*0*=utf-8''%C3%A9; filename*1=x",
  "Subject: =?utf-8?B?w6k=?=",
  "From: \"A\" <a@b>, g: c@d;",
  "--a", "--a--", "--b", "--b--", "--a  ", "--b\t", "--",
  "", "", "", " folded", "plain text line", "<p>tag</p>", "=C3=A9=", "w6nDqQ==", "\r", "x".repeat(1500),
  // Lines longer than the builder's line head, so they are streamed in pieces.
  "&amp;<i>".repeat(200), "=C3=A9".repeat(300), Buffer.from("é€".repeat(300)).toString("latin1"), "w6nigqw=".repeat(200),
);
const bodyLine = fc.constantFrom("text", "", "&amp;<b>x</b>", "=C3=A9=", "w6nDqQ==", "--", "--a-", "=C3=A9".repeat(300), "&lt;p&gt;".repeat(200));

/** Well-formed-ish MIME trees (with random missing close delimiters and reused boundaries). */
const { tree } = fc.letrec<{ tree: string[]; leaf: string[]; multipart: string[]; message: string[] }>((tie) => ({
  tree: fc.oneof({ depthSize: "small", withCrossShrink: true }, tie("leaf"), tie("multipart"), tie("message")),
  leaf: fc
    .tuple(fc.subarray(["Content-Type: text/html; charset=utf-8", "Content-Transfer-Encoding: quoted-printable", "Subject: s"]), fc.array(bodyLine, { maxLength: 6 }))
    .map(([header, body]) => [...header, "", ...body]),
  multipart: fc
    .tuple(fc.constantFrom("a", "b", "c"), fc.array(tie("tree"), { maxLength: 4 }), fc.boolean(), fc.array(bodyLine, { maxLength: 2 }))
    .map(([boundary, parts, closed, filler]) => [
      `Content-Type: multipart/mixed; boundary="${boundary}"`,
      "",
      ...filler,
      ...parts.flatMap((part) => [`--${boundary}`, ...part]),
      ...(closed ? [`--${boundary}--`, ...filler] : []),
    ]),
  message: tie("tree").map((inner) => ["Content-Type: message/rfc822", "", "Subject: inner", ...inner]),
}));
const treeMessage = fc
  .tuple(tree, fc.array(fc.boolean(), { minLength: 1, maxLength: 200 }))
  .map(([lines, crlf]) => Buffer.from(lines.map((line, i) => line + (crlf[i % crlf.length] ? "\r\n" : "\n")).join(""), "latin1"));
const mimeMessage = fc
  .tuple(fc.array(fc.tuple(mimeLine, fc.constantFrom("\r\n", "\n")), { maxLength: 60 }), fc.boolean())
  .map(([lines, finalEol]) => {
    const text = lines.map(([line, eol]) => line + eol).join("");
    return Buffer.from(finalEol ? text : text.replace(/\r?\n$/, ""), "latin1");
  });

test("every fixture gives the same result split at any single byte, or fed byte by byte", async () => {
  for (const [name, message] of await readAllMessageFixtures(import.meta.url)) {
    const whole = parseChunks([message]);
    assertWellFormed(message, whole);
    for (let cut = 0; cut <= message.length; cut++) {
      assert.deepEqual(parseChunks(splitAt(message, [cut])), whole, `${name} cut at ${cut}`);
    }
    const bytes = Array.from({ length: message.length }, (_, i) => message.subarray(i, i + 1));
    assert.deepEqual(parseChunks(bytes), whole, `${name} byte by byte`);
  }
});

test("property: generated MIME messages parse the same in any chunking, and are well formed", () => {
  fc.assert(
    fc.property(mimeMessage, fc.array(fc.nat(), { maxLength: 12 }), (message, cuts) => {
      const whole = parseChunks([message]);
      assertWellFormed(message, whole);
      assert.deepEqual(parseChunks(splitAt(message, cuts)), whole);
    }),
    { numRuns: 400 },
  );
});

test("property: generated MIME trees parse the same in any chunking, and are well formed", () => {
  fc.assert(
    fc.property(treeMessage, fc.array(fc.nat(), { maxLength: 12 }), (message, cuts) => {
      const whole = parseChunks([message]);
      assertWellFormed(message, whole);
      assert.deepEqual(parseChunks(splitAt(message, cuts)), whole);
    }),
    { numRuns: 300 },
  );
});

test("property: random bytes and mutated fixtures never throw and stay well formed", async () => {
  const fixtures = [...(await readAllMessageFixtures(import.meta.url)).values()];
  const mutated = fc
    .tuple(
      fc.constantFrom(...fixtures),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom("insert", "delete", "replace")), { maxLength: 20 }),
    )
    .map(([fixture, edits]) => {
      const bytes = [...fixture];
      for (const [at, byte, kind] of edits) {
        const index = at % (bytes.length + 1);
        if (kind === "insert") bytes.splice(index, 0, byte);
        else if (kind === "delete") bytes.splice(index, 1);
        else if (index < bytes.length) bytes[index] = byte;
      }
      return Buffer.from(bytes);
    });
  const randomBytes = fc.uint8Array({ maxLength: 2000 }).map((a) => Buffer.from(a));
  fc.assert(
    fc.property(fc.oneof(mutated, randomBytes), fc.array(fc.nat(), { maxLength: 8 }), (message, cuts) => {
      const limits = { maxSearchTextBytes: 300 };
      const whole = parseChunks([message], limits);
      assertWellFormed(message, whole, 300);
      assert.deepEqual(parseChunks(splitAt(message, cuts), limits), whole);
    }),
    { numRuns: 400 },
  );
});

test("limits: depth, part count and header size are enforced, offsets stay exact", () => {
  const nested = Buffer.from(
    Array.from({ length: 10 }, (_, i) => `Content-Type: multipart/mixed; boundary=n${i}\r\n\r\n--n${i}\r\n`).join("") + "Content-Type: text/plain\r\n\r\ndeep\r\n",
  );
  const shallow = parseChunks([nested], { maxDepth: 3 });
  assertWellFormed(nested, shallow);
  let depth = 0;
  for (let part: MimePart | undefined = shallow.root; part?.children.length; part = part.children[0]) depth++;
  assert.equal(depth, 3);

  const many = Buffer.from("Content-Type: multipart/mixed; boundary=m\r\n\r\n" + "--m\r\n\r\nx\r\n".repeat(50) + "--m--\r\n");
  const capped = parseChunks([many], { maxParts: 11 });
  assertWellFormed(many, capped);
  assert.equal(capped.root.children.length, 10);

  const bigHeader = Buffer.from(`X-Filler: ${"f".repeat(5000)}\r\nContent-Type: text/html\r\n\r\nbody\r\n`);
  const truncated = parseChunks([bigHeader], { maxHeaderBytes: 1000 });
  assertWellFormed(bigHeader, truncated);
  assert.equal(truncated.root.contentType.subtype, "plain", "fields past the header cap are ignored");
  assert.equal(bigHeader.subarray(truncated.root.bodyStart).toString(), "body\r\n");
});

test("a large message streams: long lines, many chunks, bounded search text", () => {
  const line = Buffer.from("QUJD".repeat(19) + "\r\n");
  const head = Buffer.from("Content-Type: multipart/mixed; boundary=z\r\n\r\n--z\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n");
  const builder = new MimeTreeBuilder({ maxSearchTextBytes: 4096 });
  builder.push(head);
  let size = head.length;
  const block = Buffer.concat(Array.from({ length: 1000 }, () => line));
  for (let i = 0; i < 100; i++) {
    builder.push(block);
    size += block.length;
  }
  const unbroken = Buffer.alloc(3 * 1024 * 1024, "A");
  builder.push(Buffer.from("\r\n--z\r\n\r\n"));
  builder.push(unbroken);
  builder.push(Buffer.from("\r\n--z--\r\n"));
  size += 9 + unbroken.length + 9;
  const parsed = builder.finish();
  assert.equal(parsed.size, size);
  assert.equal(parsed.root.children.length, 2);
  assert.equal(parsed.root.children[0]?.bodyLines, 100_000);
  assert.equal(parsed.root.children[1]?.bodyEnd, size - 9);
  assert.ok(parsed.searchText.includes("ABCABC"));
  assert.ok(Buffer.byteLength(parsed.searchText) <= 4096);
});

test("hostile header shapes stay linear (no regular-expression blow-up)", () => {
  const hostile = [
    `Content-Type: text/plain; name=a${" ".repeat(200_000)}b\r\n\r\nx`,
    `From: ${"a@b:".repeat(50_000)}\r\n\r\n`,
    `To: ${"(".repeat(100_000)}\r\n\r\n`,
    `Subject: ${"=?utf-8?q?a?= ".repeat(15_000)}\r\n\r\n`,
    `Content-Type: text/plain${";a*9*=%41".repeat(25_000)}\r\n\r\n`,
    `Content-Type: multipart/mixed; boundary=a\r\n\r\n${"--a\r\n".repeat(100_000)}`,
  ];
  const started = process.hrtime.bigint();
  for (const text of hostile) parseChunks([Buffer.from(text)]);
  const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
  assert.ok(elapsedMs < 5000, `took ${elapsedMs} ms`);
});
