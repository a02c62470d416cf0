import assert from "node:assert/strict";
import { Readable, type Transform } from "node:stream";
import { describe, it } from "node:test";
import fc from "fast-check";
import { HeaderFieldFilter } from "./header-filter.js";
import { Base64Decoder, createDecoder, QuotedPrintableDecoder } from "./transfer-decoding.js";

/** Runs bytes through a transform, cut into chunks of the given sizes (the rest in one chunk). */
async function run(transform: Transform, input: Buffer, cuts: number[] = []): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let at = 0;
  for (const size of cuts) {
    if (at >= input.length) break;
    chunks.push(input.subarray(at, at + size));
    at += size;
  }
  if (at < input.length) chunks.push(input.subarray(at));
  const out: Buffer[] = [];
  for await (const chunk of Readable.from(chunks).pipe(transform)) out.push(chunk as Buffer);
  return Buffer.concat(out);
}

const wrap = (text: string, width: number, eol: string): string => (text.match(new RegExp(`.{1,${width}}`, "g")) ?? []).join(eol);

/** A quoted-printable encoder for the property: encodes every octet a QP decoder must restore. */
function encodeQp(bytes: Buffer, softEvery: number): string {
  let out = "";
  let column = 0;
  for (const byte of bytes) {
    const printable = byte >= 0x21 && byte <= 0x7e && byte !== 0x3d;
    const piece = printable ? String.fromCharCode(byte) : `=${byte.toString(16).toUpperCase().padStart(2, "0")}`;
    if (column + piece.length > softEvery) {
      out += "=\r\n";
      column = 0;
    }
    out += piece;
    column += piece.length;
  }
  return out;
}

const cuts = fc.array(fc.integer({ min: 1, max: 9 }), { maxLength: 40 });

describe("base64 decoding (RFC 2045 §6.8)", () => {
  it("restores any octets, however wrapped and chunked", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 4, max: 76 }), fc.constantFrom("\r\n", "\n", " \r\n"), cuts, async (data, width, eol, chunking) => {
        const encoded = Buffer.from(wrap(Buffer.from(data).toString("base64"), width, eol) + eol);
        assert.deepEqual(await run(new Base64Decoder(), encoded, chunking), Buffer.from(data));
      }),
      { numRuns: 300 },
    );
  });

  it("ends a quantum at padding and resumes after it", async () => {
    assert.equal((await run(new Base64Decoder(), Buffer.from("QQ==Qg=="))).toString(), "AB");
    assert.equal((await run(new Base64Decoder(), Buffer.from("QUJD\r\nRA"))).toString(), "ABCD");
    assert.equal((await run(new Base64Decoder(), Buffer.from("Q!U*J\tD"))).toString(), "ABC");
  });
});

describe("quoted-printable decoding (RFC 2045 §6.7)", () => {
  it("restores any octets through soft line breaks, however chunked", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 4, max: 76 }), cuts, async (data, width, chunking) => {
        const encoded = Buffer.from(encodeQp(Buffer.from(data), width), "latin1");
        assert.deepEqual(await run(new QuotedPrintableDecoder(), encoded, chunking), Buffer.from(data));
      }),
      { numRuns: 300 },
    );
  });

  it("keeps hard line breaks, drops trailing whitespace, keeps malformed escapes", async () => {
    const decode = async (text: string, chunking: number[] = []) => (await run(new QuotedPrintableDecoder(), Buffer.from(text, "latin1"), chunking)).toString("latin1");
    assert.equal(await decode("caf=C3=A9 \t\r\nline two\nthree"), "caf\xc3\xa9\r\nline two\nthree");
    assert.equal(await decode("soft = \r\nbreak"), "soft break");
    assert.equal(await decode("=ZZ and =4 and =", [1, 1, 1]), "=ZZ and =4 and ");
    assert.equal(await decode("lower =c3=a9"), "lower \xc3\xa9");
  });

  it("decodes a very long line without a line end in bounded pieces", async () => {
    const long = "=41".repeat(40000) + "  ";
    const decoded = await run(new QuotedPrintableDecoder(), Buffer.from(long), Array(2000).fill(61));
    assert.equal(decoded.toString(), "A".repeat(40000));
  });
});

describe("createDecoder", () => {
  it("knows the RFC 2045 encodings only", () => {
    for (const known of ["7bit", "8BIT", "binary", "Base64", "quoted-printable"]) assert.notEqual(createDecoder(known), null, known);
    for (const unknown of ["x-uuencode", "", "base-64"]) assert.equal(createDecoder(unknown), null, unknown);
  });
});

describe("HEADER.FIELDS filter", () => {
  const header = Buffer.from(
    "Received: from a\r\n\tby b\r\nSubject: hi\r\nnot a field\r\n continued junk\r\nX-Tag : spaced\r\nTO: x@y\r\n to-continued\r\n\r\nbody: not header\r\n",
  );
  it("selects fields case-insensitively, keeps folding, ends with the blank line", async () => {
    assert.equal((await run(new HeaderFieldFilter(["to", "x-tag"], false), header)).toString(), "X-Tag : spaced\r\nTO: x@y\r\n to-continued\r\n\r\n");
    assert.equal((await run(new HeaderFieldFilter(["TO", "x-tag"], true), header)).toString(), "Received: from a\r\n\tby b\r\nSubject: hi\r\n\r\n");
  });
  it("gives the same bytes for every chunking", async () => {
    const whole = await run(new HeaderFieldFilter(["received", "to"], false), header);
    await fc.assert(
      fc.asyncProperty(cuts, fc.boolean(), async (chunking, not) => {
        const expected = not ? await run(new HeaderFieldFilter(["received", "to"], true), header) : whole;
        assert.deepEqual(await run(new HeaderFieldFilter(["received", "to"], not), header, chunking), expected);
      }),
      { numRuns: 200 },
    );
  });
});
