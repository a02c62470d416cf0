import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { DotStuffer, DotUnstuffer, dotStuff, type UnstuffSummary } from "./dot-stuffing.js";

interface Decoded {
  body: string;
  rest: string | null;
  summary: UnstuffSummary;
}

function unstuff(pieces: readonly (string | Buffer)[], maxOctets = 1 << 20): Decoded {
  const decoder = new DotUnstuffer({ maxOctets });
  const body: Buffer[] = [];
  const buffers = pieces.map((piece) => (typeof piece === "string" ? Buffer.from(piece, "latin1") : piece));
  for (const [index, piece] of buffers.entries()) {
    const step = decoder.push(piece);
    body.push(...step.body);
    if (step.done) {
      // The bytes after the terminator: the rest of this chunk and any chunks not yet pushed.
      const rest = Buffer.concat([step.rest, ...buffers.slice(index + 1)]).toString("latin1");
      return { body: Buffer.concat(body).toString("latin1"), rest, summary: step.summary };
    }
  }
  return { body: Buffer.concat(body).toString("latin1"), rest: null, summary: decoder.summary() };
}

/** Splits `text` at the given cut points (taken modulo its length). */
function chunked(text: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => (text.length === 0 ? 0 : c % (text.length + 1))))].sort((a, b) => a - b);
  const pieces: Buffer[] = [];
  let start = 0;
  for (const point of points) {
    pieces.push(text.subarray(start, point));
    start = point;
  }
  pieces.push(text.subarray(start));
  return pieces;
}

test("unstuffing removes the leading dot and stops at CRLF.CRLF, keeping the final CRLF", () => {
  const result = unstuff(["Subject: x\r\n\r\n..hidden\r\n.x\r\nend\r\n.\r\nQUIT\r\n"]);
  assert.equal(result.body, "Subject: x\r\n\r\n.hidden\r\nx\r\nend\r\n");
  assert.equal(result.rest, "QUIT\r\n");
  assert.equal(result.summary.bareLineEnding, false);
});

test("an empty body is a lone .CRLF at the start (the start counts as after CRLF)", () => {
  assert.deepEqual(unstuff([".\r\n"]).body, "");
  assert.equal(unstuff([".\r\n"]).rest, "");
});

test("every split of the terminator is recognised", () => {
  const wire = "a\r\n..b\r\n.\r\nNOOP\r\n";
  for (let i = 0; i <= wire.length; i++) {
    for (let j = i; j <= wire.length; j++) {
      const result = unstuff([wire.slice(0, i), wire.slice(i, j), wire.slice(j)]);
      assert.equal(result.body, "a\r\n.b\r\n", `split at ${i},${j}`);
      assert.equal(result.rest, "NOOP\r\n");
    }
  }
});

test("smuggling variants never end the body and are reported as bare line endings", () => {
  const cases = ["x\n.\nMAIL FROM:<a@b>\r\n", "x\r.\rMAIL\r\n", "x\n.\r\nMAIL\r\n", "x\r\n.\nMAIL\r\n", "x\r\n.\rMAIL\r\n", "x\r\n.\r\rMAIL\r\n"];
  for (const smuggled of cases) {
    for (let cut = 0; cut <= smuggled.length; cut++) {
      const result = unstuff([smuggled.slice(0, cut), smuggled.slice(cut)]);
      assert.equal(result.rest, null, JSON.stringify(smuggled));
      assert.equal(result.summary.bareLineEnding, true, JSON.stringify(smuggled));
    }
    const ended = unstuff([smuggled, "\r\n.\r\n"]);
    assert.equal(ended.rest, "");
    assert.ok(ended.body.includes("MAIL"), "the smuggled command stays inside the body");
  }
});

test("a held '.\\r' that is not followed by LF is given back as a bare CR", () => {
  assert.equal(unstuff(["a\r\n.\r", "b\r\n.\r\n"]).body, "a\r\n\rb\r\n");
  assert.equal(unstuff(["a\r\n.\rb\r\n.\r\n"]).body, "a\r\n\rb\r\n");
});

test("over the maximum, output stops but the end is still found and the size counted", () => {
  const result = unstuff(["0123456789\r\n", "abcdef\r\n.\r\nRSET\r\n"], 8);
  assert.equal(result.body, "01234567");
  assert.equal(result.rest, "RSET\r\n");
  assert.equal(result.summary.overflow, true);
  assert.equal(result.summary.octets, 20);
  assert.equal(unstuff(["1234\r\n.\r\n"], 6).summary.overflow, false);
});

test("lines over 998 octets are reported, not cut; the stuffing dot does not count", () => {
  const ok = unstuff(["." + "a".repeat(998) + "\r\n.\r\n"]);
  assert.equal(ok.summary.longLine, false);
  assert.equal(ok.summary.longestLine, 998);
  const long = unstuff(["a".repeat(999) + "\r\n.\r\n"]);
  assert.equal(long.summary.longLine, true);
  assert.equal(long.body.length, 1001);
});

test("push after the end is a programming error", () => {
  const decoder = new DotUnstuffer({ maxOctets: 10 });
  assert.equal(decoder.push(Buffer.from(".\r\n")).done, true);
  assert.throws(() => decoder.push(Buffer.from("x")));
});

test("stuffing doubles leading dots, normalises bare LF/CR and closes the body", async () => {
  const stuffed: Buffer[] = [];
  for await (const part of dotStuff([".a\n", "b\r", "\n.", "\rc"])) stuffed.push(part);
  assert.equal(Buffer.concat(stuffed).toString(), "..a\r\nb\r\n..\r\nc\r\n.\r\n");
  const whole = (text: string): string => {
    const stuffer = new DotStuffer();
    return Buffer.concat([...stuffer.push(Buffer.from(text)), stuffer.end()]).toString();
  };
  assert.equal(whole(""), ".\r\n");
  assert.equal(whole("x\r\n"), "x\r\n.\r\n");
  assert.equal(whole("x"), "x\r\n.\r\n");
  assert.equal(whole("x\r"), "x\r\n.\r\n");
  assert.equal(whole(".\r\n"), "..\r\n.\r\n");
});

// CRLF-normalised content: lines of bytes other than CR and LF, each ended by CRLF, and maybe an
// unterminated last line (which stuffing terminates).
const lineBytes = fc.uint8Array({ maxLength: 40 }).map((bytes) => Buffer.from(bytes.filter((b) => b !== 0x0a && b !== 0x0d)));
const dottyLine = fc.oneof(lineBytes, lineBytes.map((b) => Buffer.concat([Buffer.from("."), b])), fc.constant(Buffer.from(".")));
const content = fc.tuple(fc.array(dottyLine, { maxLength: 12 }), fc.option(dottyLine.filter((b) => b.length > 0), { nil: null }));

test("property: dotStuff then DotUnstuffer round-trips under any chunking", () => {
  fc.assert(
    fc.property(content, fc.array(fc.nat(), { maxLength: 6 }), fc.array(fc.nat(), { maxLength: 6 }), ([lines, last], cutsIn, cutsOut) => {
      const terminated = Buffer.concat(lines.flatMap((line) => [line, Buffer.from("\r\n")]));
      const original = last === null ? terminated : Buffer.concat([terminated, last]);
      const stuffer = new DotStuffer();
      const wire = Buffer.concat([...chunked(original, cutsIn).flatMap((piece) => stuffer.push(piece)), stuffer.end(), Buffer.from("NEXT")]);
      const result = unstuff(chunked(wire, cutsOut));
      const expected = last === null ? terminated : Buffer.concat([original, Buffer.from("\r\n")]);
      assert.equal(result.body, expected.toString("latin1"));
      assert.equal(result.rest, "NEXT");
      assert.equal(result.summary.bareLineEnding, false);
      assert.equal(result.summary.overflow, false);
    }),
    { numRuns: 500 },
  );
});

test("property: random bytes never throw, and output never exceeds the maximum", () => {
  const bytes = fc.array(fc.constantFrom(0x0d, 0x0a, 0x2e, 0x61), { maxLength: 60 }).map((a) => Buffer.from(a));
  fc.assert(
    fc.property(bytes, fc.array(fc.nat(), { maxLength: 5 }), fc.nat({ max: 30 }), (wire, cuts, max) => {
      const result = unstuff(chunked(wire, cuts), max);
      assert.ok(result.body.length <= max);
      const ended = wire.indexOf("\r\n.\r\n") >= 0 || wire.subarray(0, 3).equals(Buffer.from(".\r\n"));
      assert.equal(result.rest !== null, ended);
    }),
    { numRuns: 1000 },
  );
});
