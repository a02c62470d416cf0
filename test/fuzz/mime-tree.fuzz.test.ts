// Fuzz campaign for the MIME parser (src/mail/mime-tree.ts) and what IMAP renders from its
// result (BODYSTRUCTURE, BODY, ENVELOPE): hostile messages generated as trees (multiparts with
// colliding, missing, overlong and unterminated boundaries, message/rfc822 inside, RFC 2231
// continuations with bad percent escapes and unknown charsets, encoded words, folded and
// overlong header lines, bare LF, NUL and 8-bit octets, deep nesting), then cut and spliced,
// fed in random chunkings. Properties:
// - no crash: the builder never throws, and the renderers never throw on its result;
// - no hang: each message is parsed and rendered within HANG_MS;
// - bounded memory: the tree holds at most maxParts parts and maxDepth levels, every offset lies
//   inside the message and inside its parent, the search text stays within its cap;
// - the rendered BODYSTRUCTURE and BODY always follow RFC 9051 §9 (strict parse, no SP between
//   part bodies), for IMAP4rev1 and UTF-8 clients, and carry no NUL (RFC 9051 §4.3).
// The MIME parser belongs to another part of the team: this campaign only reports on it.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { renderBody, renderBodyStructure, renderEnvelope } from "../../src/imap/fetch/index.js";
import { encodeValue } from "../../src/imap/protocol/response.js";
import { atom, list } from "../../src/imap/protocol/response-value.js";
import { MimeTreeBuilder, type MimePart, type ParsedMessage } from "../../src/mail/mime-tree.js";
import { checkBodyGrammar, parseFetchResponse, type ParsedValue } from "../harness/imap-value-parser.js";
import { fuzzParameters, fuzzTimeoutMs, HANG_MS } from "./fuzz-runs.js";

const LIMITS = { maxDepth: 8, maxParts: 200, maxHeaderBytes: 4096, maxSearchTextBytes: 4096 };

const eol = fc.constantFrom("\r\n", "\r\n", "\r\n", "\n", "\r", "");
const boundary = fc.constantFrom("b", "b", "bb", "=_x", "x y", "", "a".repeat(80), "a".repeat(300), '"q"', "b--", "-");
const junkLine = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.uint8Array({ maxLength: 30 }).map((b) => Buffer.from(b).toString("latin1")),
  fc.constantFrom("--b", "--b--", "--bb", "-- b", "--b  ", "", ".", "\u0000\u0000", "=?utf-8?B?w6k=?=", "x".repeat(1500)),
);
const paramValue = fc.oneof(
  fc.constantFrom("utf-8", "us-ascii", '"x; y"', "''", "%ZZ", "''%E2%82", "iso-8859-1'fr'r%E9sum%E9", "unknown-cs''%FF%FE", '"unterminated', "=?utf-8?Q?=C3=A9?="),
  fc.string({ maxLength: 20 }),
);
const param = fc.oneof(
  fc.tuple(fc.constantFrom("charset", "name", "filename", "boundary", "format"), paramValue).map(([n, v]) => `; ${n}=${v}`),
  fc.tuple(fc.constantFrom("name", "filename"), fc.nat({ max: 4 }), fc.boolean(), paramValue).map(([n, i, star, v]) => `; ${n}*${i}${star ? "*" : ""}=${v}`),
  fc.tuple(fc.constantFrom("name", "filename"), paramValue).map(([n, v]) => `; ${n}*=${v}`),
  fc.constantFrom(";", ";;", "; =x", "; x", " (comment", " (nested (comment))"),
);
const simpleHeader = fc.oneof(
  fc.constantFrom("Subject", "From", "To", "Cc", "Date", "Message-ID", "In-Reply-To", "Content-Transfer-Encoding", "Content-ID", "Content-Language", "Content-Disposition", "Content-Location", "X-Junk", "Content-Type").chain((name) =>
    fc.tuple(fc.constant(name), junkLine, param.map((p) => p).filter(() => true), eol).map(([n, v, p, e]) => `${n}: ${v}${p}${e}`),
  ),
  fc.constantFrom("no colon here\r\n", " folded continuation\r\n", ":\r\n", "X: \u00e9\u0000\r\n", "Subject: =?utf-8?B?" + "QUFB".repeat(300) + "?=\r\n", `X-Long: ${"y".repeat(5000)}\r\n`),
);

interface Tree {
  readonly text: string;
}

/** A message or part, as text: headers, a blank line (usually), a body that may be a multipart or a message. */
const tree: fc.Memo<Tree> = fc.memo((depth) => {
  const leaf = fc
    .tuple(
      fc.array(simpleHeader, { maxLength: 4 }),
      fc.constantFrom("text/plain", "text/html", "application/octet-stream", "image/png", "message/delivery-status", "TEXT/PLAIN", "text", "/", ""),
      fc.array(param, { maxLength: 3 }),
      fc.array(junkLine, { maxLength: 5 }),
      eol,
    )
    .map(([headers, type, params, body, e]) => ({ text: `${headers.join("")}Content-Type: ${type}${params.join("")}${e}${e}${body.join(e)}` }));
  if (depth <= 1) return leaf;
  const multipart = fc
    .tuple(
      fc.array(simpleHeader, { maxLength: 3 }),
      fc.constantFrom("mixed", "alternative", "digest", "related", "MIXED"),
      boundary,
      fc.array(tree(depth - 1), { maxLength: 4 }),
      fc.array(junkLine, { maxLength: 2 }),
      fc.constantFrom("close", "open", "twice", "garbage"),
      eol,
    )
    .map(([headers, subtype, b, children, preamble, ending, e]) => {
      const parts = children.map((child) => `--${b}${e}${child.text}${e}`).join("");
      const end = ending === "close" ? `--${b}--${e}epilogue` : ending === "twice" ? `--${b}--${e}--${b}--${e}` : ending === "garbage" ? `--${b}-${e}` : "";
      return { text: `${headers.join("")}Content-Type: multipart/${subtype}; boundary="${b}"${e}${e}${preamble.join(e)}${e}${parts}${end}` };
    });
  const message = fc
    .tuple(fc.array(simpleHeader, { maxLength: 2 }), fc.constantFrom("message/rfc822", "message/global", "MESSAGE/RFC822"), fc.constantFrom("", "Content-Transfer-Encoding: base64\r\n"), tree(depth - 1), eol)
    .map(([headers, type, cte, inner, e]) => ({ text: `${headers.join("")}${cte}Content-Type: ${type}${e}${e}${inner.text}` }));
  return fc.oneof({ weight: 2, arbitrary: leaf }, { weight: 3, arbitrary: multipart }, { weight: 1, arbitrary: message });
});

/** The generated message, then damaged: cut short, a slice repeated, octets overwritten. */
const hostileMessage = fc
  .tuple(
    tree(6),
    fc.array(fc.tuple(fc.nat(), fc.constantFrom("cut", "repeat", "flip", "nul")), { maxLength: 3 }),
    fc.constantFrom("latin1", "utf8") as fc.Arbitrary<BufferEncoding>,
  )
  .map(([{ text }, damage, encoding]) => {
    let bytes = Buffer.from(text, encoding);
    for (const [at, kind] of damage) {
      if (bytes.length === 0) break;
      const i = at % bytes.length;
      if (kind === "cut") bytes = bytes.subarray(0, i);
      else if (kind === "repeat") bytes = Buffer.concat([bytes.subarray(0, i), bytes.subarray(i, i + 200), bytes.subarray(i)]);
      else {
        bytes = Buffer.from(bytes);
        bytes[i] = kind === "nul" ? 0 : (bytes[i] as number) ^ 0xa5;
      }
    }
    return bytes;
  });

function parse(bytes: Buffer, cuts: number[]): ParsedMessage {
  const builder = new MimeTreeBuilder(LIMITS);
  let at = 0;
  for (const cut of cuts) {
    const size = Math.max(1, cut);
    builder.push(bytes.subarray(at, at + size));
    at += size;
    if (at >= bytes.length) break;
  }
  builder.push(bytes.subarray(Math.min(at, bytes.length)));
  return builder.finish();
}

/**
 * Known defect of src/mail/mime-tree.ts found by this campaign (reported to its owner, not fixed
 * here): when a nested multipart reuses its parent's boundary and a delimiter line carries
 * trailing blanks (`--b  `), the inner multipart gets an empty last part that starts just past
 * its own body end (e.g. part 1.5 at 11061 in a part 1 ending at 11059; FUZZ_SEED=772504732
 * FUZZ_PATH=410). Harmless on the wire (an empty part, BODY[1.5] is ""), but it breaks nesting.
 * Tolerated in exactly that shape so the short CI run does not fail on it; delete once fixed.
 */
let knownEmptyPartPastParent = 0;
function isKnownEmptyPartPastParent(part: MimePart, high: number): boolean {
  const known = part.headerStart === part.bodyEnd && part.headerStart > high && part.headerStart <= high + 2;
  if (known) knownEmptyPartPastParent++;
  return known;
}

/** Walks the tree: offsets nest, depth and part count stay within the limits. Returns the part count. */
function checkTree(part: MimePart, size: number, low: number, high: number, depth: number): number {
  const where = `part "${part.partNumber}"`;
  if (isKnownEmptyPartPastParent(part, high)) return 1;
  assert.ok(low <= part.headerStart && part.headerStart <= part.headerEnd && part.headerEnd <= part.bodyStart && part.bodyStart <= part.bodyEnd && part.bodyEnd <= high, `${where} offsets`);
  assert.ok(part.bodyEnd <= size, `${where} past the end`);
  assert.ok(depth <= LIMITS.maxDepth + 2, `${where} nested ${depth} deep`);
  let parts = 1;
  let previous = part.bodyStart;
  for (const child of part.children) {
    assert.ok(child.headerStart >= previous, `${where} children out of order`);
    parts += checkTree(child, size, part.bodyStart, part.bodyEnd, depth + 1);
    previous = child.bodyEnd;
  }
  if (part.encapsulated !== null) parts += checkTree(part.encapsulated.root, size, part.bodyStart, part.bodyEnd, depth + 1);
  return parts;
}

function render(parsed: ParsedMessage, utf8: boolean): Record<string, ParsedValue> {
  const values = [atom("BODYSTRUCTURE"), renderBodyStructure(parsed.root, { utf8 }), atom("BODY"), renderBody(parsed.root, { utf8 }), atom("ENVELOPE"), renderEnvelope(parsed.envelope)];
  const wire = Buffer.concat([Buffer.from("* 1 FETCH "), encodeValue(list(values)), Buffer.from("\r\n")]);
  return parseFetchResponse(wire);
}

describe("fuzz: MIME parser and BODYSTRUCTURE", () => {
  it("hostile messages: no crash, no hang, bounded tree, grammatical BODYSTRUCTURE", { timeout: fuzzTimeoutMs() }, () => {
    let slowest = 0;
    let largest = 0;
    fc.assert(
      fc.property(hostileMessage, fc.array(fc.integer({ min: 1, max: 97 }), { maxLength: 30 }), (bytes, cuts) => {
        const started = performance.now();
        const parsed = parse(bytes, cuts);
        largest = Math.max(largest, bytes.length);
        const parts = checkTree(parsed.root, bytes.length, 0, bytes.length, 0);
        assert.ok(parts <= LIMITS.maxParts * 2 + 1, `${parts} parts kept`);
        assert.ok(Buffer.byteLength(parsed.searchText) <= LIMITS.maxSearchTextBytes + 8, "search text over its cap");
        for (const utf8 of [false, true]) {
          const rendered = render(parsed, utf8);
          for (const item of ["BODYSTRUCTURE", "BODY"]) assert.equal(checkBodyGrammar(rendered[item] as ParsedValue), null, `${item} (utf8: ${utf8})`);
        }
        const rev1 = encodeValue(renderBodyStructure(parsed.root, { utf8: false }));
        // RFC 9051 §4.3: no string, quoted or literal, may carry NUL.
        assert.ok(!rev1.includes(0), "BODYSTRUCTURE carries a NUL");
        const took = performance.now() - started;
        slowest = Math.max(slowest, took);
        assert.ok(took < HANG_MS, `one message took ${took.toFixed(0)} ms`);
      }),
      fuzzParameters(),
    );
    console.log(`# MIME fuzz: slowest message ${slowest.toFixed(1)} ms, largest ${largest} octets, known empty part past its parent: ${knownEmptyPartPastParent}`);
  });
});
