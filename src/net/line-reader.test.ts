import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { LineReader, type FramedInput } from "./line-reader.js";

/** Items in a comparable form; a counted read's chunks are joined, since their split is arbitrary. */
function describeItems(reader: LineReader, chunks: Buffer[], literalAware: boolean): string[] {
  const out: string[] = [];
  let literal: Buffer[] | null = null;
  const take = (item: FramedInput) => {
    if (item.kind === "bytes") {
      (literal ??= []).push(item.chunk);
      if (item.remaining === 0) {
        out.push(`bytes:${Buffer.concat(literal).toString("latin1")}`);
        literal = null;
      }
      return;
    }
    if (item.kind === "overflow") {
      out.push(`overflow:${item.limit}`);
      return;
    }
    const text = item.line.toString("latin1");
    out.push(`line:${item.ending}:${text}`);
    const announced = literalAware ? /\{(\d+)\}$/.exec(text) : null;
    if (announced) {
      const n = Number(announced[1]);
      if (n > 0) reader.readBytes(n);
      else out.push("bytes:");
    }
  };
  for (const chunk of chunks) {
    reader.push(chunk);
    for (let item = reader.next(); item !== null; item = reader.next()) take(item);
  }
  return out;
}

function splitAt(input: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (input.length + 1)))].sort((a, b) => a - b);
  const parts: Buffer[] = [];
  let start = 0;
  for (const point of points) {
    parts.push(input.subarray(start, point));
    start = point;
  }
  parts.push(input.subarray(start));
  return parts;
}

test("lines come out without their line end and say how they ended", () => {
  const reader = new LineReader({ maxLineLength: 100 });
  reader.push(Buffer.from("EHLO a\r\nMAIL FROM:<x>\nhalf"));
  const items = [...reader.items()].map((i) => (i.kind === "line" ? `${i.ending}:${i.line.toString()}` : i.kind));
  assert.deepEqual(items, ["crlf:EHLO a", "lf:MAIL FROM:<x>"]);
  assert.equal(reader.buffered, 4);
  reader.push(Buffer.from(" done\r\n"));
  const last = reader.next();
  assert.ok(last?.kind === "line");
  assert.equal(last.line.toString(), "half done");
  assert.equal(reader.next(), null);
});

test("the limit counts the line end: exactly max passes, one more overflows", () => {
  const reader = new LineReader({ maxLineLength: 8 });
  assert.deepEqual(describeItems(reader, [Buffer.from("123456\r\n1234567\r\nabc\r\n")], false), ["line:crlf:123456", "overflow:8", "line:crlf:abc"]);
});

test("an endless line is reported once and memory stays bounded while it is discarded", () => {
  const reader = new LineReader({ maxLineLength: 16 });
  const seen: string[] = [];
  for (let i = 0; i < 1000; i++) {
    reader.push(Buffer.alloc(100, 0x41));
    for (const item of reader.items()) seen.push(item.kind);
    assert.ok(reader.buffered <= 16, "nothing of the over-long line is kept");
  }
  reader.push(Buffer.from("AAAA\r\nNOOP\r\n"));
  for (const item of reader.items()) seen.push(item.kind === "line" ? `line:${item.line.toString()}` : item.kind);
  assert.deepEqual(seen, ["overflow", "line:NOOP"]);
});

test("counted bytes pass through untouched, then lines resume", () => {
  const reader = new LineReader({ maxLineLength: 64 });
  const input = Buffer.from("A1 APPEND INBOX {10}\r\nhello\r\nw\nd\r\nA2 NOOP\r\n");
  assert.deepEqual(describeItems(reader, splitAt(input, [3, 25, 26, 30]), true), ["line:crlf:A1 APPEND INBOX {10}", "bytes:hello\r\nw\nd", "line:crlf:", "line:crlf:A2 NOOP"]);
});

test("counted bytes may be much longer than the line limit", () => {
  const reader = new LineReader({ maxLineLength: 10 });
  reader.readBytes(5000);
  let received = 0;
  for (let i = 0; i < 50; i++) {
    reader.push(Buffer.alloc(100, 0x78));
    for (const item of reader.items()) {
      assert.equal(item.kind, "bytes");
      if (item.kind === "bytes") received += item.chunk.length;
    }
  }
  assert.equal(received, 5000);
  assert.equal(reader.readingBytes, false);
});

test("discardBuffered drops what was pipelined and reports how much", () => {
  const reader = new LineReader({ maxLineLength: 512 });
  reader.push(Buffer.from("STARTTLS\r\nMAIL FROM:<evil>\r\nRCPT"));
  const first = reader.next();
  assert.ok(first?.kind === "line" && first.line.toString() === "STARTTLS");
  assert.equal(reader.discardBuffered(), "MAIL FROM:<evil>\r\nRCPT".length);
  assert.equal(reader.next(), null);
  reader.push(Buffer.from("EHLO b\r\n"));
  const after = reader.next();
  assert.ok(after?.kind === "line" && after.line.toString() === "EHLO b");
});

test("bad arguments are refused", () => {
  assert.throws(() => new LineReader({ maxLineLength: 0 }), RangeError);
  const reader = new LineReader({ maxLineLength: 10 });
  assert.throws(() => reader.readBytes(-1), RangeError);
  reader.readBytes(3);
  assert.throws(() => reader.readBytes(3));
});

const wireBytes = fc.array(
  fc.oneof(
    fc.constantFrom("\r\n", "\n", "\r", "{3}\r\n", "{0}\r\n", "x", "A1 LOGIN a b", "{12}\r\n"),
    fc.string({ unit: "binary-ascii", maxLength: 30 }),
  ),
  { maxLength: 40 },
);

test("property: any chunking of the input yields the same items", () => {
  fc.assert(
    fc.property(wireBytes, fc.array(fc.nat(), { maxLength: 20 }), fc.integer({ min: 2, max: 40 }), (pieces, cuts, limit) => {
      const input = Buffer.from(pieces.join(""), "latin1");
      const whole = describeItems(new LineReader({ maxLineLength: limit }), [input], true);
      const chunked = describeItems(new LineReader({ maxLineLength: limit }), splitAt(input, cuts), true);
      const byteByByte = describeItems(new LineReader({ maxLineLength: limit }), [...input].map((b) => Buffer.from([b])), true);
      assert.deepEqual(chunked, whole);
      assert.deepEqual(byteByByte, whole);
    }),
  );
});

test("property: without overflows, lines and their endings rebuild the input", () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.string({ unit: "binary-ascii", maxLength: 20 }).map((s) => s.replace(/\n/g, "")), fc.boolean())), fc.array(fc.nat()), (lines, cuts) => {
      const input = Buffer.from(lines.map(([text, crlf]) => text + (crlf ? "\r\n" : "\n")).join(""), "latin1");
      const items = describeItems(new LineReader({ maxLineLength: 64 }), splitAt(input, cuts), false);
      const rebuilt = items.map((item) => {
        const [, ending, ...rest] = item.split(":");
        return rest.join(":") + (ending === "crlf" ? "\r\n" : "\n");
      });
      assert.equal(rebuilt.join(""), input.toString("latin1"));
    }),
  );
});
