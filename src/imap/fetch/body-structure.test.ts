import assert from "node:assert/strict";
import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { MimeTreeBuilder, shiftOffsets, type MimePart } from "../../mail/mime-tree.js";
import { findRepositoryRoot, messageFixturesDir, readMessageFixture } from "../../../test/harness/fixtures.js";
import { checkBodyGrammar, parseFetchResponse, type ParsedValue } from "../../../test/harness/imap-value-parser.js";
import { encodeValue } from "../protocol/response.js";
import { atom, list } from "../protocol/response-value.js";
import { renderBody, renderBodyStructure, rfc2231ExtendedValue } from "../protocol/body-structure.js";
import { renderEnvelope } from "../protocol/envelope.js";
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

const REV1 = { utf8: false };
const UTF8 = { utf8: true };
const dovecotDir = join(findRepositoryRoot(import.meta.url), "test", "fixtures", "bodystructure", "dovecot");

/** Our FETCH response for the same three items, through the real encoder, parsed like Dovecot's. */
function ourFetch(parsed: ReturnType<MimeTreeBuilder["finish"]>): Record<string, ParsedValue> {
  const values = [atom("BODYSTRUCTURE"), renderBodyStructure(parsed.root, REV1), atom("BODY"), renderBody(parsed.root, REV1), atom("ENVELOPE"), renderEnvelope(parsed.envelope)];
  return parseFetchResponse(Buffer.concat([Buffer.from("* 1 FETCH "), encodeValue(list(values)), Buffer.from("\r\n")]));
}

/**
 * Differences from Dovecot reviewed one by one (test/fixtures/bodystructure/README.md says why
 * ours is right for each): path -> [ours, Dovecot's]. Anything else that differs fails.
 */
const REVIEWED: Record<string, Record<string, [ParsedValue, ParsedValue]>> = {
  "broken-headers.eml": {
    // `Content-Type: text/plain; charset=` is not a valid parameter: RFC 2045 §5.2 default.
    "BODYSTRUCTURE.3": [["charset", "us-ascii"], ["charset", ""]],
    "BODY.3": [["charset", "us-ascii"], ["charset", ""]],
    // A raw Latin-1 octet in Subject: we send it as UTF-8, Dovecot sends the octet.
    "ENVELOPE.1": ["café latin-1 byte", "caf\ufffd latin-1 byte"],
  },
};

const lineFeeds = (bytes: Buffer): number => bytes.reduce((n, b) => n + (b === 0x0a ? 1 : 0), 0);
const bareLineFeeds = (bytes: Buffer): number => bytes.reduce((n, b, i) => n + (b === 0x0a && bytes[i - 1] !== 0x0d ? 1 : 0), 0);

/** Case-insensitive tokens (RFC 9051 §7.5.2: type, subtype, parameter names, encoding, disposition type) in lower case. */
function lowerTokens(body: ParsedValue, extensible: boolean): ParsedValue {
  if (!Array.isArray(body)) return body;
  const lower = (v: ParsedValue): ParsedValue => (typeof v === "string" ? v.toLowerCase() : v);
  const params = (v: ParsedValue): ParsedValue => (Array.isArray(v) ? v.map((x, i) => (i % 2 === 0 ? lower(x) : x)) : v);
  const dsp = (v: ParsedValue): ParsedValue => (Array.isArray(v) ? [lower(v[0] as ParsedValue), params(v[1] as ParsedValue)] : v);
  const bodies = body.findIndex((item) => !Array.isArray(item));
  if (bodies > 0) {
    const out = body.map((item, i) => (i < bodies ? lowerTokens(item, extensible) : item));
    out[bodies] = lower(out[bodies] as ParsedValue);
    if (extensible) {
      out[bodies + 1] = params(out[bodies + 1] as ParsedValue);
      out[bodies + 2] = dsp(out[bodies + 2] as ParsedValue);
    }
    return out;
  }
  const out = [...body];
  out[0] = lower(out[0] as ParsedValue);
  out[1] = lower(out[1] as ParsedValue);
  out[2] = params(out[2] as ParsedValue);
  out[5] = lower(out[5] as ParsedValue);
  const isMessage = out[0] === "message" && Array.isArray(out[8]);
  if (isMessage) out[8] = lowerTokens(out[8] as ParsedValue, extensible);
  const extAt = isMessage ? 10 : out[0] === "text" ? 8 : 7;
  if (extensible && out.length > extAt + 1) out[extAt + 1] = dsp(out[extAt + 1] as ParsedValue);
  return out;
}

/**
 * Walks our body and Dovecot's side by side with the MIME part they describe. Octets and lines
 * are checked against the part's own bytes under each server's rule (README.md): ours are the
 * octets BODY[n] returns and its text lines; Dovecot's count a bare LF as CRLF and count line
 * ends only. Every other field must be equal, or be a REVIEWED difference. Returns the
 * unexplained differences.
 */
function compareBody(ours: ParsedValue, theirs: ParsedValue, part: MimePart, message: Buffer, path: string, reviewed: Record<string, [ParsedValue, ParsedValue]>, found: string[]): void {
  const same = (a: ParsedValue, b: ParsedValue, where: string): void => {
    const known = reviewed[where];
    if (known !== undefined && JSON.stringify([a, b]) === JSON.stringify(known)) return;
    if (JSON.stringify(a) !== JSON.stringify(b)) found.push(`${where}: ours ${JSON.stringify(a)}, Dovecot ${JSON.stringify(b)}`);
  };
  if (!Array.isArray(ours) || !Array.isArray(theirs)) return same(ours, theirs, path);
  if (ours.length !== theirs.length) found.push(`${path}: ${ours.length} fields, Dovecot ${theirs.length}`);
  const bodies = ours.findIndex((item) => !Array.isArray(item));
  if (bodies > 0) {
    for (let i = 0; i < ours.length; i++) {
      if (i < bodies) compareBody(ours[i] as ParsedValue, theirs[i] as ParsedValue, part.children[i] as MimePart, message, `${path}.${i + 1}`, reviewed, found);
      else same(ours[i] as ParsedValue, theirs[i] as ParsedValue, `${path}.${i + 1}`);
    }
    return;
  }
  const body = message.subarray(part.bodyStart, part.bodyEnd);
  const isMessage = ours[0] === "message" && Array.isArray(ours[8]);
  const linesAt = isMessage ? 9 : ours[0] === "text" ? 7 : -1;
  for (let i = 0; i < ours.length; i++) {
    const where = `${path}.${i + 1}`;
    if (i === 6) {
      same(ours[i] as ParsedValue, body.length, `${where} (our octets = BODY[n] octets)`);
      same(theirs[i] as ParsedValue, body.length + bareLineFeeds(body), `${where} (Dovecot's octets, bare LF as CRLF)`);
    } else if (i === linesAt) {
      const ends = body.length === 0 || body[body.length - 1] === 0x0a ? 0 : 1;
      same(ours[i] as ParsedValue, lineFeeds(body) + ends, `${where} (our lines: text lines)`);
      same(theirs[i] as ParsedValue, lineFeeds(body), `${where} (Dovecot's lines: line ends)`);
    } else if (isMessage && i === 8 && part.encapsulated !== null) {
      compareBody(ours[i] as ParsedValue, theirs[i] as ParsedValue, part.encapsulated.root, message, `${where}`, reviewed, found);
    } else same(ours[i] as ParsedValue, theirs[i] as ParsedValue, where);
  }
}

describe("BODYSTRUCTURE, BODY and ENVELOPE against Dovecot's (test/fixtures/bodystructure/dovecot)", async () => {
  const names = (await readdir(dovecotDir)).filter((n) => n.endsWith(".eml.fetch")).sort();
  it("covers the corpus", async () => {
    const corpus = (await readdir(messageFixturesDir(import.meta.url))).filter((n) => n.endsWith(".eml")).sort();
    assert.deepEqual(names.map((n) => n.slice(0, -".fetch".length)), corpus, "run scripts/dovecot-goldens.mjs after changing the corpus");
  });
  for (const fetchFile of names) {
    const name = fetchFile.slice(0, -".fetch".length);
    it(name, async () => {
      const message = await readMessageFixture(import.meta.url, name);
      const builder = new MimeTreeBuilder();
      builder.push(message);
      const parsed = builder.finish();
      const dovecot = parseFetchResponse(await readFile(join(dovecotDir, fetchFile)));
      const ours = ourFetch(parsed);
      for (const item of ["BODYSTRUCTURE", "BODY"]) {
        // RFC 9051 §9 body-type-mpart = 1*body SP media-subtype: Dovecot's output is the check of the check.
        assert.equal(checkBodyGrammar(dovecot[item] as ParsedValue), null, `Dovecot's ${item}`);
        assert.equal(checkBodyGrammar(ours[item] as ParsedValue), null, `our ${item}`);
      }
      const reviewed = REVIEWED[name] ?? {};
      const found: string[] = [];
      for (const [item, extensible] of [["BODYSTRUCTURE", true], ["BODY", false]] as const) {
        compareBody(lowerTokens(ours[item] as ParsedValue, extensible), lowerTokens(dovecot[item] as ParsedValue, extensible), parsed.root, message, item, reviewed, found);
      }
      const ourEnvelope = ours.ENVELOPE as ParsedValue[];
      const theirEnvelope = dovecot.ENVELOPE as ParsedValue[];
      ourEnvelope.forEach((field, i) => {
        const where = `ENVELOPE.${i}`;
        const known = reviewed[where];
        if (known !== undefined && JSON.stringify([field, theirEnvelope[i]]) === JSON.stringify(known)) return;
        if (JSON.stringify(field) !== JSON.stringify(theirEnvelope[i])) found.push(`${where}: ours ${JSON.stringify(field)}, Dovecot ${JSON.stringify(theirEnvelope[i])}`);
      });
      assert.deepEqual(found, [], "differences from Dovecot not reviewed in README.md");
    });
  }
});

describe("BODYSTRUCTURE grammar: no SP between the part bodies of a multipart (RFC 9051 §9)", () => {
  it("writes ((...)(...) \"MIXED\"), and strict parsing finds no space between bodies, at any depth", async () => {
    const parsed = parse(await readMessageFixture(import.meta.url, "nested-rfc822.eml"));
    const wire = encodeValue(renderBodyStructure(parsed, REV1)).toString("latin1");
    assert.ok(wire.startsWith('(("TEXT" "PLAIN"'), wire);
    assert.ok(wire.includes('NIL NIL NIL NIL)("MESSAGE" "RFC822"'), wire);
    const reread = parseFetchResponse(Buffer.from(`* 1 FETCH (BODYSTRUCTURE ${wire})\r\n`, "latin1"));
    assert.equal(checkBodyGrammar(reread.BODYSTRUCTURE as ParsedValue), null);
  });
});

describe("RFC 2231 parameters (file names) per client (RFC 2231 §4, RFC 6855 §3)", () => {
  const message =
    "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n" +
    "Content-Type: application/pdf; name*=iso-8859-1'fr'r%E9sum%E9.pdf\r\n" +
    "Content-Disposition: attachment;\r\n filename*0*=utf-8''%E2%82%AC%20report%20;\r\n filename*1=\"(final).pdf\"\r\n\r\nJVBERi0=\r\n--b--\r\n";
  it("gives an IMAP4rev1 client the encoded form, name* = utf-8''%XX, ASCII names unchanged", () => {
    const text = valueText(renderBodyStructure(parse(message), REV1));
    assert.ok(text.includes(`("NAME*" "utf-8''r%C3%A9sum%C3%A9.pdf")`), text);
    assert.ok(text.includes(`("ATTACHMENT" ("FILENAME*" "utf-8''%E2%82%AC%20report%20%28final%29.pdf"))`), text);
    assert.ok(/^[\x20-\x7e]*$/.test(encodeValue(renderBodyStructure(parse(message), REV1)).toString("latin1")), "7-bit only");
    assert.ok(text.includes(`"MIXED" ("BOUNDARY" "b")`), text);
  });
  it("gives a UTF8=ACCEPT client the decoded UTF-8 name", () => {
    const text = valueText(renderBodyStructure(parse(message), UTF8));
    assert.ok(text.includes(`("NAME" "résumé.pdf")`), text);
    assert.ok(text.includes(`("ATTACHMENT" ("FILENAME" "€ report (final).pdf"))`), text);
  });
  it("the encoded form decodes back to the same name (property)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 40 }), (name) => {
        const encoded = rfc2231ExtendedValue(name);
        assert.ok(/^utf-8''[\x21-\x7e]*$/.test(encoded));
        assert.equal(decodeURIComponent(encoded.slice("utf-8''".length)), name);
      }),
    );
  });
});

describe("BODYSTRUCTURE does not depend on how the message was stored", () => {
  it("is identical for every chunking at delivery", async () => {
    for (const name of ["mixed-attachment.eml", "nested-rfc822.eml", "bare-lf.eml", "digest.eml"]) {
      const bytes = await readMessageFixture(import.meta.url, name);
      const whole = valueText(renderBodyStructure(parse(bytes), REV1));
      fc.assert(
        fc.property(fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 60 }), (chunks) => {
          assert.equal(valueText(renderBodyStructure(parse(bytes, chunks), REV1)), whole);
        }),
        { numRuns: 150 },
      );
    }
  });

  it("is identical when a trace prefix moved every offset", async () => {
    const root = parse(await readMessageFixture(import.meta.url, "nested-rfc822.eml"));
    assert.equal(valueText(renderBodyStructure(shiftOffsets(root, 137), REV1)), valueText(renderBodyStructure(root, REV1)));
  });
});

describe("BODYSTRUCTURE edge cases", () => {
  it("gives a multipart without parts one empty text/plain part (1*body)", () => {
    const noBoundary = parse("Content-Type: multipart/mixed\r\n\r\nno parts here\r\n");
    assert.equal(valueText(renderBody(noBoundary, REV1)), '(("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 0 0) "MIXED")');
    const noDelimiter = parse('Content-Type: multipart/related; boundary="zz"\r\n\r\nnothing\r\n');
    assert.equal(
      valueText(renderBodyStructure(noDelimiter, REV1)),
      '(("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 0 0) "RELATED" ("BOUNDARY" "zz") NIL NIL NIL)',
    );
  });

  it("keeps the message shape for a message/rfc822 part that was not parsed (base64)", () => {
    const root = parse(
      "Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\nU3ViamVjdDogaGkNCg0KYm9keQ==\r\n--x--\r\n",
    );
    assert.equal(
      valueText(renderBody(root, REV1)),
      '(("MESSAGE" "RFC822" NIL NIL NIL "BASE64" 28 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) ("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 0 0) 1) "MIXED")',
    );
  });

  it("renders a single-part message/rfc822 top level with its encapsulated message", () => {
    const root = parse("Content-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\nhello\r\n");
    assert.equal(
      valueText(renderBody(root, REV1)),
      '("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 25 (NIL "inner" NIL NIL NIL NIL NIL NIL NIL NIL) ("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 7 1) 3)',
    );
  });

  it("sends message/partial and other message types as basic parts (no envelope)", () => {
    const root = parse("Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x\r\n");
    assert.equal(valueText(renderBody(root, REV1)), '("MESSAGE" "DELIVERY-STATUS" NIL NIL NIL "7BIT" 23)');
  });

  it("renders one language as a string, MD5 and location as strings, a missing field as NIL", () => {
    const root = parse(
      "Content-Type: image/png\r\nContent-Language: de\r\nContent-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\r\nContent-Location: http://x.example/a.png\r\nContent-Disposition: inline\r\n\r\n",
    );
    assert.equal(
      valueText(renderBodyStructure(root, REV1)),
      '("IMAGE" "PNG" NIL NIL NIL "7BIT" 0 "Q2hlY2sgSW50ZWdyaXR5IQ==" ("INLINE" NIL) "de" "http://x.example/a.png")',
    );
  });

  it("falls back to text/plain for a broken Content-Type", () => {
    const root = parse("Content-Type: ???\r\n\r\nx");
    assert.equal(valueText(renderBody(root, REV1)), '("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 1 1)');
  });
});
